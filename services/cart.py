"""The shopper's cart: add, change quantity, remove; the header badge follows in every tab.

A line added from a live show is held (services/holds.py): its units leave stock at once.
"""

from __future__ import annotations

import sqlalchemy as sa

from extensions import db
from models import Cart, CartItem, Product, User
from realtime import publish
from realtime.channels import user_channel
from realtime.fragments import render_oob
from services import holds
from services.errors import FieldError
from services.live import credited_show

MAX_QUANTITY = 99


def cart_for(user: User, *, create: bool = False) -> Cart | None:
    cart = db.session.scalar(sa.select(Cart).where(Cart.user_id == user.id))
    if cart is None and create:
        cart = Cart(user_id=user.id)
        db.session.add(cart)
        db.session.flush()
    return cart


def cart_count(user: User) -> int:
    """Units in the user's cart (the header badge)."""
    query = (
        sa.select(sa.func.coalesce(sa.func.sum(CartItem.quantity), 0))
        .join(Cart)
        .where(Cart.user_id == user.id)
    )
    return db.session.scalar(query) or 0


def _check_quantity(quantity: int) -> None:
    if not 1 <= quantity <= MAX_QUANTITY:
        raise FieldError("quantity", f"Choose a quantity from 1 to {MAX_QUANTITY}.")


def add_to_cart(
    user: User, product: Product, quantity: int = 1, stream_id: int | None = None, source: str | None = None
) -> CartItem:
    """Put `quantity` of `product` in the cart (adding to a line already there); the line remembers
    the show it came from, if that show may be credited with the sale (`live.credited_show`)."""
    _check_quantity(quantity)
    stream_id, source = credited_show(product.id, stream_id, source)
    if not product.is_buyable:
        raise FieldError("quantity", f"“{product.title}” is {product.availability.lower()}.")
    cart = cart_for(user)
    item = None
    if cart is not None:
        item = db.session.scalar(
            sa.select(CartItem).where(CartItem.cart_id == cart.id, CartItem.product_id == product.id)
        )
    wanted = (item.quantity if item else 0) + quantity
    if wanted > MAX_QUANTITY:
        raise FieldError("quantity", f"A cart line holds at most {MAX_QUANTITY}.")
    hold_minutes = holds.hold_minutes_for(stream_id, source)
    # A held line's units are already off stock; only what is not held yet must still be there.
    unheld = wanted if item is None or item.held_until is None else quantity
    if hold_minutes is None and item is not None and item.held_until is not None:
        hold_minutes = holds.DEFAULT_HOLD_MINUTES  # a held line stays held
    if hold_minutes is None and wanted > product.stock:
        raise FieldError("quantity", f"Only {product.stock} of “{product.title}” left.")
    if item is None:
        item = CartItem(cart=cart or cart_for(user, create=True), product=product, quantity=wanted)
        db.session.add(item)
    else:
        item.quantity = wanted
    if stream_id is not None:
        item.stream_id = stream_id
        item.stream_source = source
    if hold_minutes is not None:
        try:
            holds.hold_line(item, unheld, hold_minutes)
        except FieldError:
            db.session.rollback()
            raise
    db.session.commit()
    publish_cart_badge(user)
    if hold_minutes is not None:
        holds.publish_changes(holds.Changes(user_ids={user.id}, stream_ids={stream_id} if stream_id else set()))
    return item


def _own_item(user: User, item_id: int) -> CartItem | None:
    return db.session.scalar(
        sa.select(CartItem).join(Cart).where(CartItem.id == item_id, Cart.user_id == user.id)
    )


def set_quantity(user: User, item_id: int, quantity: int) -> CartItem | None:
    """Change a line's quantity; 0 removes it. Returns the line, or None once removed or not found."""
    item = _own_item(user, item_id)
    if item is None:
        return None
    if quantity == 0:
        return remove_item(user, item_id)
    _check_quantity(quantity)
    changes = holds.Changes()
    if item.held_until is not None and quantity > item.quantity:
        holds.hold_line(item, quantity - item.quantity, holds.DEFAULT_HOLD_MINUTES)
    elif item.held_until is not None and quantity < item.quantity:
        changes = holds.release_line(item, item.quantity - quantity)
    item.quantity = quantity
    db.session.commit()
    publish_cart_badge(user)
    holds.publish_changes(changes)
    return item


def remove_item(user: User, item_id: int) -> None:
    item = _own_item(user, item_id)
    if item is not None:
        changes = holds.release_line(item)
        db.session.delete(item)
        db.session.commit()
        publish_cart_badge(user)
        holds.publish_changes(changes)


def publish_cart_badge(user: User) -> None:
    publish(user_channel(user.id), render_oob("_cart_badge.html", count=cart_count(user)))
