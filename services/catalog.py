"""A seller's products: create, edit, hide or show, delete; and the public catalogue queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

import sqlalchemy as sa

from extensions import db
from models import OrderItem, Product, Shop, User
from services.errors import FieldError, Forbidden, NotFound
from services.images import ImageRejected, delete_product_image, store_product_image


@dataclass
class ProductDraft:
    """What the product form collects (the price already in cents)."""

    title: str
    description: str
    price_cents: int
    currency: str
    stock: int
    is_active: bool = True


def owned_product(user: User, product_id: int) -> Product:
    """The product, if it belongs to `user`'s shop: 404 when it does not exist, 403 when it is another's."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound("There is no such product.")
    if user.shop is None or product.shop_id != user.shop.id:
        raise Forbidden("This product belongs to another shop.")
    return product


def _apply(product: Product, draft: ProductDraft, image: IO[bytes] | None) -> str | None:
    """Store a new image (checked first, so a rejected one changes nothing), copy the draft onto
    the product, and return the name of the image it replaced."""
    new_name = None
    if image is not None:
        try:
            new_name = store_product_image(image)
        except ImageRejected as error:
            raise FieldError("image", str(error)) from None
    product.title = draft.title.strip()
    product.description = draft.description.strip()
    product.price_cents = draft.price_cents
    product.currency = draft.currency
    product.stock = draft.stock
    product.is_active = draft.is_active
    if new_name is None:
        return None
    old_name, product.image = product.image, new_name
    return old_name


def create_product(shop: Shop, draft: ProductDraft, image: IO[bytes] | None = None) -> Product:
    product = Product(shop=shop)
    _apply(product, draft, image)
    db.session.add(product)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        delete_product_image(product.image)
        raise
    return product


def update_product(product: Product, draft: ProductDraft, image: IO[bytes] | None = None) -> Product:
    replaced = _apply(product, draft, image)
    db.session.commit()
    delete_product_image(replaced)
    return product


def set_visibility(product: Product, visible: bool) -> Product:
    product.is_active = visible
    db.session.commit()
    return product


def was_ever_ordered(product: Product) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(OrderItem.product_id == product.id))) or False


def delete_product(product: Product) -> None:
    """Delete a product that nobody ever ordered (ordered ones are kept for the orders; hide them)."""
    if was_ever_ordered(product):
        raise FieldError(
            "product", f"“{product.title}” has been ordered, so it is kept for those orders. Hide it instead."
        )
    image = product.image
    db.session.delete(product)
    db.session.commit()
    delete_product_image(image)


def shop_products(shop: Shop, *, include_hidden: bool = False) -> list[Product]:
    query = (
        sa.select(Product)
        .where(Product.shop_id == shop.id)
        .order_by(Product.created_at.desc(), Product.id.desc())
    )
    if not include_hidden:
        query = query.where(Product.is_active)
    return list(db.session.scalars(query))


def shops_with_products() -> list[tuple[Shop, int]]:
    """Every shop with its number of visible products, shops with products first."""
    count = sa.func.count(Product.id)
    query = (
        sa.select(Shop, count)
        .outerjoin(Product, sa.and_(Product.shop_id == Shop.id, Product.is_active))
        .group_by(Shop.id)
        .order_by(count.desc(), Shop.name)
    )
    return [(shop, total) for shop, total in db.session.execute(query)]


def newest_products(limit: int = 12) -> list[Product]:
    query = sa.select(Product).where(Product.is_active).order_by(Product.created_at.desc(), Product.id.desc())
    return list(db.session.scalars(query.limit(limit)))
