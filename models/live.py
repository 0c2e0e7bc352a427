"""Live shows: the show, its featured products, reactions and chat, presence, replay and timeline."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db, utcnow

if TYPE_CHECKING:
    from models.catalog import Product
    from models.shop import Shop
    from models.user import User

STREAM_STATUSES = ("scheduled", "live", "ended")
#: What the media server is receiving for a show: nothing yet, video, or video that dropped.
VIDEO_STATES = ("offline", "receiving", "lost")
INTERACTION_TYPES = ("like", "dislike", "comment")
REACTIONS = ("like", "dislike")


def new_stream_key() -> str:
    return "sk_" + secrets.token_urlsafe(24)


class LiveStream(db.Model):
    __tablename__ = "live_streams"
    __table_args__ = (
        sa.CheckConstraint("status IN ('scheduled', 'live', 'ended')", name="status_known"),
        sa.Index("ix_live_streams_status_scheduled", "status", "scheduled_for"),
        sa.Index("ix_live_streams_shop_created", "shop_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(10), default="scheduled")
    scheduled_for: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    playback_url: Mapped[str | None] = mapped_column(sa.String(500))
    #: The seller's TikTok account that goes live with this show: its viewers' sessions record it.
    tiktok_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tiktok_accounts.id", ondelete="SET NULL"))
    stream_key: Mapped[str] = mapped_column(sa.String(64), unique=True, default=new_stream_key)
    peak_viewers: Mapped[int] = mapped_column(default=0)
    unique_viewers: Mapped[int] = mapped_column(default=0)
    #: Set when the seller chose "Delete stream": ended and deliberately not kept as a replay.
    discarded_at: Mapped[datetime | None]
    #: The self-hosted ingest (services/video.py): what arrives, from which publisher, since when.
    video_state: Mapped[str] = mapped_column(sa.String(10), default="offline", server_default="offline")
    video_publisher: Mapped[str | None] = mapped_column(sa.String(40))
    video_changed_at: Mapped[datetime | None]
    #: Last word from the publisher (nginx's on_update): a publisher silent for long is stale.
    video_seen_at: Mapped[datetime | None]
    #: Go live by itself as soon as video arrives.
    auto_go_live: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: When the first recorded video arrived: replays line the chat up with the video from here.
    recording_started_at: Mapped[datetime | None]
    #: Files under MEDIA_PATH: the finished recording (MP4) and a picture taken from the video.
    recording_file: Mapped[str | None] = mapped_column(sa.String(200))
    thumbnail_file: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    shop: Mapped[Shop] = relationship(lazy="joined")
    featured: Mapped[list[StreamProduct]] = relationship(
        back_populates="stream", cascade="all, delete-orphan", order_by="StreamProduct.position"
    )
    saved: Mapped[SavedStream | None] = relationship(back_populates="stream", uselist=False)

    @property
    def is_live(self) -> bool:
        return self.status == "live"

    @property
    def awaiting_decision(self) -> bool:
        """Ended, and the seller has neither saved nor deleted it yet."""
        return self.status == "ended" and self.saved is None and self.discarded_at is None

    def duration_seconds(self, now: datetime | None = None) -> int:
        if self.started_at is None:
            return 0
        end = self.ended_at or now or utcnow()
        return max(0, int((end - self.started_at).total_seconds()))

    def featured_products(self) -> list[StreamProduct]:
        """Pinned first, then in the seller's order."""
        return sorted(self.featured, key=lambda item: (not item.is_pinned, item.position))


class StreamProduct(db.Model):
    __tablename__ = "stream_products"
    __table_args__ = (sa.UniqueConstraint("stream_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    is_pinned: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    stream: Mapped[LiveStream] = relationship(back_populates="featured")
    product: Mapped[Product] = relationship(lazy="joined")


class StreamInteraction(db.Model):
    __tablename__ = "stream_interactions"
    __table_args__ = (
        sa.CheckConstraint("interaction_type IN ('like', 'dislike', 'comment')", name="type_known"),
        sa.Index("ix_stream_interactions_stream_type", "stream_id", "interaction_type", "created_at"),
        # One reaction (like or dislike) per person per show.
        sa.Index(
            "uq_stream_interactions_one_reaction",
            "stream_id",
            "user_id",
            unique=True,
            sqlite_where=sa.text("interaction_type IN ('like', 'dislike')"),
            postgresql_where=sa.text("interaction_type IN ('like', 'dislike')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    interaction_type: Mapped[str] = mapped_column(sa.String(10))
    comment_text: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: A comment the seller deleted: hidden from everyone, kept for the record.
    deleted_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class StreamMute(db.Model):
    """A user the seller muted for one show: their comments are refused."""

    __tablename__ = "stream_mutes"
    __table_args__ = (sa.UniqueConstraint("stream_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StreamViewer(db.Model):
    """One person watching one show (a user, or an anonymous visitor cookie), however many tabs."""

    __tablename__ = "stream_viewers"
    __table_args__ = (
        sa.UniqueConstraint("stream_id", "viewer_key"),
        sa.Index("ix_stream_viewers_stream_active", "stream_id", "is_active"),
        sa.Index("ix_stream_viewers_active_seen", "is_active", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    visitor_id: Mapped[str | None] = mapped_column(sa.String(40))
    #: "u:<user id>" or "v:<visitor id>": what makes two sockets the same person.
    viewer_key: Mapped[str] = mapped_column(sa.String(48))
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    #: Sockets this person has open on the show, across tabs and workers.
    open_sockets: Mapped[int] = mapped_column(default=0)

    user: Mapped[User | None] = relationship(lazy="joined")


class SavedStream(db.Model):
    __tablename__ = "saved_streams"
    __table_args__ = (sa.Index("ix_saved_streams_shop_saved", "shop_id", "saved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="CASCADE"), unique=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(120))
    video_url: Mapped[str | None] = mapped_column(sa.String(500))
    duration_seconds: Mapped[int]
    streamed_at: Mapped[datetime]
    saved_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    unique_viewers: Mapped[int]
    peak_viewers: Mapped[int]
    likes: Mapped[int]
    dislikes: Mapped[int]
    comments: Mapped[int]
    orders: Mapped[int]
    revenue_cents: Mapped[int]

    stream: Mapped[LiveStream] = relationship(back_populates="saved", lazy="joined")


class StreamEvent(db.Model):
    """The show's timeline: what happened, and how far into the show."""

    __tablename__ = "stream_events"
    __table_args__ = (sa.Index("ix_stream_events_stream_offset", "stream_id", "offset_seconds"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stream_id: Mapped[int] = mapped_column(sa.ForeignKey("live_streams.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    #: Seconds since the show went live (negative before it started).
    offset_seconds: Mapped[int]
    data: Mapped[str] = mapped_column(sa.Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.data or "{}")
