"""Products a shop sells."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db, utcnow

if TYPE_CHECKING:
    from models.shop import Shop

CURRENCIES = ("USD", "EUR", "GBP")


class Product(db.Model):
    __tablename__ = "products"
    __table_args__ = (
        sa.CheckConstraint("stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("price_cents >= 0", name="price_not_negative"),
        sa.Index("ix_products_shop_active", "shop_id", "is_active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    stock: Mapped[int] = mapped_column(default=0)
    #: File name under the instance's product upload folder, served by `shop.product_image`.
    image: Mapped[str | None] = mapped_column(sa.String(80))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    shop: Mapped[Shop] = relationship(lazy="joined")

    @property
    def is_buyable(self) -> bool:
        return self.is_active and self.stock > 0

    @property
    def availability(self) -> str:
        if not self.is_active:
            return "Unavailable"
        if self.stock <= 0:
            return "Sold out"
        return f"{self.stock} in stock"

    def __repr__(self) -> str:
        return f"<Product {self.id} {self.title!r}>"
