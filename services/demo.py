"""Demo data for `make run`: idempotent, safe to run on every start."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from extensions import db
from models import Shop, User
from services import accounts

DEMO_PASSWORD = "streamshop-demo"  # noqa: S105 - published in the README on purpose


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    username: str
    display_name: str
    password: str = DEMO_PASSWORD


DEMO_ACCOUNTS = (
    DemoAccount("seller", "seller@streamshop.example", "demo-seller", "Maya's Makers"),
    DemoAccount("shopper", "shopper@streamshop.example", "demo-shopper", "Sam Shopper"),
    DemoAccount("streamer", "streamer@streamshop.example", "demo-streamer", "Riley Streams"),
)
DEMO_SHOP = ("Maya's Makers", "mayas-makers")


def _ensure_user(account: DemoAccount) -> User:
    user = db.session.scalar(sa.select(User).where(User.username == account.username))
    if user is None:
        user = accounts.register_user(account.email, account.username, account.display_name, account.password)
    return user


def seed_demo() -> list[DemoAccount]:
    """Create (or leave as they are) the demo seller with a shop, a shopper and a streamer."""
    users = {account.role: _ensure_user(account) for account in DEMO_ACCOUNTS}
    seller = users["seller"]
    if seller.shop is None and not db.session.scalar(sa.select(Shop.id).where(Shop.slug == DEMO_SHOP[1])):
        accounts.open_shop(seller, *DEMO_SHOP)
    return list(DEMO_ACCOUNTS)
