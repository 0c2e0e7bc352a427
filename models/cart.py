"""Carts: one per user, a line per product, each remembering the show it was added from."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db, utcnow
from models.catalog import Product

#: Where a purchase came from, for `stream_orders.source`.
STREAM_SOURCES = ("live", "replay")


class Cart(db.Model):
    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[CartItem]] = relationship(
        back_populates="cart", cascade="all, delete-orphan", order_by="CartItem.added_at"
    )


class CartItem(db.Model):
    __tablename__ = "cart_items"
    __table_args__ = (
        sa.UniqueConstraint("cart_id", "product_id"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(sa.ForeignKey("carts.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"))
    quantity: Mapped[int]
    #: The live show the line was added from (for attribution).
    stream_id: Mapped[int | None] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="SET NULL"))
    stream_source: Mapped[str | None] = mapped_column(sa.String(8))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: While set, the line's units are taken from stock for this buyer alone (a hold from a live show).
    held_until: Mapped[datetime | None] = mapped_column(index=True)

    cart: Mapped[Cart] = relationship(back_populates="items")
    product: Mapped[Product] = relationship(lazy="joined")

    @property
    def line_total_cents(self) -> int:
        return self.product.price_cents * self.quantity
