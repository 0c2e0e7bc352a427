"""Selling formats of a live show: flash sales, holds' waitlist, auctions with their bids,
giveaways with their entries, and claims typed in the TikTok LIVE chat."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db, utcnow

if TYPE_CHECKING:
    from models.catalog import Product
    from models.user import User

AUCTION_MODES = ("sudden_death", "extend")
AUCTION_STATUSES = ("open", "closed", "cancelled")
BID_KINDS = ("bid", "max", "proxy")
GIVEAWAY_STATUSES = ("open", "drawn", "cancelled")
CLAIM_STATUSES = ("held", "unlinked", "redeemed", "refused")


class SellingSettings(db.Model):
    """A show's selling settings: how long a cart hold lasts, and the claim word for the TikTok chat."""

    __tablename__ = "selling_settings"
    __table_args__ = (sa.CheckConstraint("hold_minutes BETWEEN 1 AND 120", name="hold_minutes_range"),)

    stream_id: Mapped[int] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="CASCADE"), primary_key=True)
    hold_minutes: Mapped[int] = mapped_column(default=10)
    claim_word: Mapped[str] = mapped_column(sa.String(20), default="sold")


class FlashSale(db.Model):
    """A sale price on a featured product, for a number of units reserved from stock, until `ends_at`."""

    __tablename__ = "flash_sales"
    __table_args__ = (
        sa.CheckConstraint("units_sold >= 0 AND units_sold <= units", name="units_sold_range"),
        sa.CheckConstraint("per_buyer_limit >= 1", name="per_buyer_limit_positive"),
        sa.Index("ix_flash_sales_stream_started", "stream_id", "started_at"),
        sa.Index("ix_flash_sales_open_ends", "closed_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"))
    price_cents: Mapped[int]
    units: Mapped[int]
    units_sold: Mapped[int] = mapped_column(default=0)
    per_buyer_limit: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime]
    #: Set when the sale is over (time up, sold out, or ended by the seller) and unsold units went back.
    closed_at: Mapped[datetime | None]

    product: Mapped[Product] = relationship(lazy="joined")

    @property
    def units_left(self) -> int:
        return self.units - self.units_sold

    def is_open(self, now: datetime) -> bool:
        return self.closed_at is None and now < self.ends_at and self.units_left > 0


class WaitlistEntry(db.Model):
    """A shopper waiting for a sold-out product in a show; served in the order they joined."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        sa.Index("ix_waitlist_entries_product_waiting", "product_id", "served_at", "id"),
        sa.Index(
            "uq_waitlist_entries_one_waiting", "product_id", "user_id", unique=True,
            sqlite_where=sa.text("served_at IS NULL"), postgresql_where=sa.text("served_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int | None] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="SET NULL"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When a released unit was put on hold in this shopper's cart.
    served_at: Mapped[datetime | None]


class Auction(db.Model):
    """One unit of a featured product, auctioned during a show."""

    __tablename__ = "auctions"
    __table_args__ = (
        sa.CheckConstraint("mode IN ('sudden_death', 'extend')", name="mode_known"),
        sa.CheckConstraint("status IN ('open', 'closed', 'cancelled')", name="status_known"),
        sa.CheckConstraint("increment_cents >= 1", name="increment_positive"),
        sa.Index("ix_auctions_stream_started", "stream_id", "started_at"),
        sa.Index("ix_auctions_status_ends", "status", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"))
    start_price_cents: Mapped[int]
    increment_cents: Mapped[int]
    mode: Mapped[str] = mapped_column(sa.String(12))
    #: Extend mode: a bid with fewer than this many seconds left moves the end to now + this.
    extend_seconds: Mapped[int] = mapped_column(default=10)
    status: Mapped[str] = mapped_column(sa.String(10), default="open")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    current_price_cents: Mapped[int | None]
    leader_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: The leader's maximum (proxy) bid: secret, and never below the current price.
    leader_max_cents: Mapped[int | None]
    bid_count: Mapped[int] = mapped_column(default=0)
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id", ondelete="SET NULL"))

    product: Mapped[Product] = relationship(lazy="joined")
    leader: Mapped[User | None] = relationship(lazy="joined")

    def minimum_bid(self) -> int:
        if self.current_price_cents is None:
            return self.start_price_cents
        return self.current_price_cents + self.increment_cents


class AuctionBid(db.Model):
    """Every bid, kept for the audit: what was asked, what it did to the price, and who led after."""

    __tablename__ = "auction_bids"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('bid', 'max', 'proxy')", name="kind_known"),
        sa.Index("ix_auction_bids_auction_id", "auction_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    auction_id: Mapped[int] = mapped_column(sa.ForeignKey("auctions.id", ondelete="CASCADE"))
    bidder_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    #: "bid" (this amount), "max" (up to this amount), "proxy" (placed for a max bid).
    kind: Mapped[str] = mapped_column(sa.String(6))
    amount_cents: Mapped[int]
    price_after_cents: Mapped[int]
    leader_after_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    bidder: Mapped[User | None] = relationship(foreign_keys=[bidder_id], lazy="joined")


class Giveaway(db.Model):
    """A product given away in a show, drawn from a seed committed at the start and published after."""

    __tablename__ = "giveaways"
    __table_args__ = (
        sa.CheckConstraint("status IN ('open', 'drawn', 'cancelled')", name="status_known"),
        sa.Index("ix_giveaways_stream_started", "stream_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"))
    require_comment: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    require_follow: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    status: Mapped[str] = mapped_column(sa.String(10), default="open")
    #: SHA-256 of the seed, shown from the start; the seed itself is published with the draw.
    seed_hash: Mapped[str] = mapped_column(sa.String(64))
    seed: Mapped[str] = mapped_column(sa.String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    drawn_at: Mapped[datetime | None]
    winner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("orders.id", ondelete="SET NULL"))

    product: Mapped[Product] = relationship(lazy="joined")
    winner: Mapped[User | None] = relationship(lazy="joined")


class GiveawayEntry(db.Model):
    __tablename__ = "giveaway_entries"
    __table_args__ = (sa.UniqueConstraint("giveaway_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    giveaway_id: Mapped[int] = mapped_column(sa.ForeignKey("giveaways.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatClaim(db.Model):
    """A claim word typed in the TikTok LIVE chat of a show's linked account."""

    __tablename__ = "chat_claims"
    __table_args__ = (
        sa.CheckConstraint("status IN ('held', 'unlinked', 'redeemed', 'refused')", name="status_known"),
        sa.Index("ix_chat_claims_stream_created", "stream_id", "created_at"),
        sa.UniqueConstraint("code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"))
    tiktok_user_id: Mapped[int] = mapped_column(sa.BigInteger)
    handle: Mapped[str] = mapped_column(sa.String(64))
    #: The shopper the product was held for (a linked viewer, or whoever redeemed the code).
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(10))
    #: An unlinked viewer's one-time code, read out on air and typed in on Streamshop.
    code: Mapped[str | None] = mapped_column(sa.String(12))
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship(lazy="joined")
    user: Mapped[User | None] = relationship(lazy="joined")
