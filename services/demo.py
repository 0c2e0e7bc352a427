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


#: The demo shop's catalogue: title, price in cents, stock, description.
DEMO_PRODUCTS = (
    ("Speckled Ceramic Mug", 2800, 24, "Wheel-thrown stoneware with a speckled oatmeal glaze. Holds 350 ml."),
    ("Linen Tote Bag", 3200, 30, "Heavy washed linen with long handles and an inside pocket."),
    ("Hand-poured Soy Candle", 2200, 40, "Cedar and fig, about 45 hours of burn time, in a reusable amber jar."),
    ("Beeswax Food Wraps, Set of 3", 1800, 50, "Small, medium and large wraps that replace cling film."),
    ("Macramé Plant Hanger", 2600, 15, "Knotted cotton cord, 90 cm long, fits pots up to 18 cm."),
    ("Walnut Serving Board", 5400, 10, "Solid black walnut finished with food-safe oil. 40 × 20 cm."),
    ("Hand-knit Beanie", 3400, 18, "Merino wool rib knit, one size, in forest green."),
    ("Botanical Print, A4", 1500, 60, "Giclée print of a pressed fern on 300 gsm cotton rag paper."),
    ("Enamel Pin Set", 1200, 80, "Three hard-enamel pins: a mug, a needle and a fern."),
    ("Leather Card Wallet", 3900, 20, "Vegetable-tanned leather, four card slots, hand stitched."),
    ("Stoneware Planter", 3600, 12, "Drainage hole and saucer; a matte white glaze outside, raw clay inside."),
    ("Lavender Soap Bar", 900, 100, "Cold-process olive oil soap with lavender from the garden."),
)


def _seed_products(shop: Shop) -> None:
    from services import catalog
    from services.demo_images import product_picture

    if catalog.shop_products(shop, include_hidden=True):
        return
    for title, price_cents, stock, description in DEMO_PRODUCTS:
        draft = catalog.ProductDraft(title, description, price_cents, "USD", stock)
        catalog.create_product(shop, draft, product_picture(title))


def seed_demo() -> list[DemoAccount]:
    """Create (or leave as they are) the demo seller with a stocked shop, a shopper and a streamer."""
    users = {account.role: _ensure_user(account) for account in DEMO_ACCOUNTS}
    seller = users["seller"]
    if seller.shop is None and not db.session.scalar(sa.select(Shop.id).where(Shop.slug == DEMO_SHOP[1])):
        accounts.open_shop(seller, *DEMO_SHOP)
    if seller.shop is not None:
        _seed_products(seller.shop)
    return list(DEMO_ACCOUNTS)
