"""Orders, their items, and the link from an order to the show it was bought in."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db, utcnow

if TYPE_CHECKING:
    from models.catalog import Product
    from models.live import LiveStream
    from models.shop import Shop
    from models.user import User

ORDER_STATUSES = ("pending", "paid", "cancelled", "refunded")


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        sa.CheckConstraint(f"status IN {ORDER_STATUSES}", name="status_known"),
        sa.Index("ix_orders_shop_created", "shop_id", "created_at"),
        sa.Index("ix_orders_buyer_created", "buyer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id"))
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    currency: Mapped[str] = mapped_column(sa.String(3))
    total_cents: Mapped[int]
    #: The checkout form's one-time key plus the shop and currency this order is for, so a
    #: resubmitted checkout finds its orders instead of making new ones.
    idempotency_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    payment_provider: Mapped[str] = mapped_column(sa.String(20), default="instant")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]

    buyer: Mapped[User] = relationship(lazy="joined")
    shop: Mapped[Shop] = relationship(lazy="joined")
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", lazy="selectin", order_by="OrderItem.id"
    )

    @property
    def streams(self) -> list[LiveStream]:
        """The shows this order's lines were bought from."""
        found = {item.stream.id: item.stream for item in self.items if item.stream is not None}
        return [found[key] for key in sorted(found)]


class OrderItem(db.Model):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # RESTRICT: a product that was ever ordered cannot be deleted, only hidden.
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    unit_price_cents: Mapped[int]
    quantity: Mapped[int]
    stream_id: Mapped[int | None] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="SET NULL"))
    #: Bought in a flash sale (at its price, counted against its units and per-buyer limit).
    flash_sale_id: Mapped[int | None] = mapped_column(sa.ForeignKey("flash_sales.id", ondelete="SET NULL"),
                                                      index=True)

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()
    stream: Mapped[LiveStream | None] = relationship()

    @property
    def line_total_cents(self) -> int:
        return self.unit_price_cents * self.quantity


class StreamOrder(db.Model):
    """An order line bought from a live show or its replay (the show's sales attribution)."""

    __tablename__ = "stream_orders"
    __table_args__ = (
        sa.CheckConstraint("source IN ('live', 'replay')", name="source_known"),
        sa.Index("ix_stream_orders_stream_created", "stream_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int] = mapped_column(sa.ForeignKey("live_streams.id"))
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="RESTRICT"))
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id"), index=True)
    amount_cents: Mapped[int]
    source: Mapped[str] = mapped_column(sa.String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship()
