"""Plain functions that create and commit test data (call inside an app context)."""

from __future__ import annotations

import itertools

from models import Shop, User
from services import accounts
from tests.support import TEST_PASSWORD

_sequence = itertools.count(1)


def make_user(username: str | None = None, **overrides) -> User:
    number = next(_sequence)
    username = username or f"user{number}"
    return accounts.register_user(
        overrides.pop("email", f"{username}@example.com"),
        username,
        overrides.pop("display_name", f"User {number}"),
        overrides.pop("password", TEST_PASSWORD),
        **overrides,
    )


def make_seller(username: str | None = None, shop_name: str | None = None) -> tuple[User, Shop]:
    user = make_user(username)
    shop = accounts.open_shop(user, shop_name or f"{user.username} shop", f"{user.username}-shop")
    return user, shop


def make_product(shop: Shop, title: str = "Blue Mug", price_cents: int = 1250, stock: int = 10, **overrides):  # noqa: ANN201
    from services import catalog

    draft = catalog.ProductDraft(
        title=title,
        description=overrides.pop("description", ""),
        price_cents=price_cents,
        currency=overrides.pop("currency", "USD"),
        stock=stock,
        is_active=overrides.pop("is_active", True),
    )
    return catalog.create_product(shop, draft, overrides.pop("image", None))


def make_stream(shop: Shop, products: list | None = None, *, live: bool = True, title: str = "Friday Drop", **kw):  # noqa: ANN003, ANN201
    """A show featuring `products` (default: one new product), live unless `live=False`."""
    from services import live as shows

    products = products if products is not None else [make_product(shop, "Featured Thing")]
    draft = shows.ShowDraft(title, kw.pop("description", ""), kw.pop("scheduled_for", None),
                            kw.pop("playback_url", None), [product.id for product in products])
    stream = shows.create_show(shop, draft)
    if live:
        shows.go_live(stream, kw.pop("now", None))
    return stream
