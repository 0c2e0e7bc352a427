"""Orders after checkout: the buyer's and the seller's lists, cancelling and refunding."""

from __future__ import annotations

import sqlalchemy as sa

from extensions import db, utcnow
from models import Order, Product, Shop, User
from services.errors import FieldError, NotFound

PAGE_SIZE = 50


def buyer_orders(buyer: User) -> list[Order]:
    query = sa.select(Order).where(Order.buyer_id == buyer.id).order_by(Order.created_at.desc(), Order.id.desc())
    return list(db.session.scalars(query.limit(PAGE_SIZE * 4)))


def buyer_order(buyer: User, order_id: int) -> Order:
    """The buyer's own order; anyone else's is a 404 (its existence is private)."""
    order = db.session.get(Order, order_id)
    if order is None or order.buyer_id != buyer.id:
        raise NotFound("There is no such order.")
    return order


def shop_orders(shop: Shop, page: int = 1) -> tuple[list[Order], int]:
    """A page of the shop's orders, newest first, and the number of pages."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Order).where(Order.shop_id == shop.id)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    query = (
        sa.select(Order)
        .where(Order.shop_id == shop.id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return list(db.session.scalars(query)), pages


def shop_order(seller: User, order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None or seller.shop is None or order.shop_id != seller.shop.id:
        raise NotFound("There is no such order.")
    return order


def cancel_order(order: Order) -> Order:
    """Cancel a pending or paid order and put its units back in stock, in one transaction."""
    if order.status not in ("pending", "paid"):
        raise FieldError("status", f"Order #{order.id} is {order.status}; it cannot be cancelled.")
    for item in order.items:
        db.session.execute(
            sa.update(Product)
            .where(Product.id == item.product_id)
            .values(stock=Product.stock + item.quantity)
            .execution_options(synchronize_session=False)
        )
    order.status = "cancelled"
    order.cancelled_at = utcnow()
    db.session.commit()
    return order


def refund_order(order: Order) -> Order:
    """Mark a paid order refunded (the goods went out, so stock is not returned)."""
    if order.status != "paid":
        raise FieldError("status", f"Order #{order.id} is {order.status}; only a paid order can be refunded.")
    order.status = "refunded"
    order.refunded_at = utcnow()
    db.session.commit()
    return order
