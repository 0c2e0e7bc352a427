"""TikTok LIVE: linked accounts, viewer profiles and what the ingester records about them.

Every table is keyed by the linked account, so one streamer's viewers never mix with another's,
and a viewer is keyed by TikTok's numeric user id (handles change; B4 in the research notes).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db, utcnow

ACCOUNT_STATUSES = ("idle", "connecting", "live", "offline", "error")
VIP_SOURCES = ("manual", "auto")
INTERACTION_KINDS = ("comment", "like", "share", "follow")


class TikTokAccount(db.Model):
    """A TikTok account a streamer linked by @handle, with its settings and ingest status."""

    __tablename__ = "tiktok_accounts"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('idle', 'connecting', 'live', 'offline', 'error')", name="status_known"
        ),
        sa.CheckConstraint("session_timeout >= 30", name="session_timeout_sane"),
        sa.CheckConstraint("big_gift_threshold >= 0", name="big_gift_threshold_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Stored lower-cased without the "@": TikTok handles are case-insensitive.
    handle: Mapped[str] = mapped_column(sa.String(40), unique=True)
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    auto_vip: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    birthday_notices: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    session_timeout: Mapped[int] = mapped_column(default=300)
    big_gift_threshold: Mapped[int] = mapped_column(default=1000)
    paused: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    status: Mapped[str] = mapped_column(sa.String(12), default="idle")
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The LIVE currently (or last) ingested: TikTok's room id, and our live stream when linked to one.
    room_id: Mapped[str | None] = mapped_column(sa.String(32))
    live_stream_id: Mapped[int | None] = mapped_column()
    viewer_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Whole-account figures over its profiles, kept here by every path that changes them
    # (services/account_figures.py) instead of counted on every page or push: how many profiles,
    # the coins they sent, their watchtime, and how many are VIPs.
    total_viewers: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    total_coins: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    total_watch_seconds: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    vip_viewers: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")

    owner = relationship("User")

    def __repr__(self) -> str:
        return f"<TikTokAccount @{self.handle}>"


class LastSeenHour(db.Model):
    """How many of an account's viewer profiles were last seen in each UTC hour (hours since the
    Unix epoch), kept by every path that moves a profile's `last_seen_at`
    (services/account_figures.py): "active in the last 30 days" is then a sum of about 720 of
    these plus one hour's range of the last-seen index, however many profiles the account has."""

    __tablename__ = "viewer_last_seen_hours"

    account_id: Mapped[int] = mapped_column(sa.ForeignKey("tiktok_accounts.id", ondelete="CASCADE"),
                                            primary_key=True)
    hour: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    viewers: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class VipTier(db.Model):
    """A VIP tier of one account; a viewer qualifies when all three thresholds are met."""

    __tablename__ = "vip_tiers"
    __table_args__ = (sa.UniqueConstraint("account_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("tiktok_accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(40))
    # Higher rank = better tier; "promoted" means the rank went up.
    rank: Mapped[int] = mapped_column()
    min_coins: Mapped[int] = mapped_column(default=0)
    min_watch_seconds: Mapped[int] = mapped_column(default=0)
    min_visits: Mapped[int] = mapped_column(default=0)
    colour: Mapped[str] = mapped_column(sa.String(7), default="#888888")
    benefits: Mapped[str] = mapped_column(sa.Text, default="")


def _only_where(condition: str) -> dict[str, sa.TextClause]:
    """A partial index's condition, the same on both engines."""
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


class ViewerProfile(db.Model):
    """Everything known about one TikTok viewer of one account."""

    __tablename__ = "viewer_profiles"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "tiktok_user_id"),
        sa.CheckConstraint("vip_source IN ('manual', 'auto')", name="vip_source_known"),
        # The studio's search (handle or display name contains the term, case-insensitive through
        # the folded columns): no B-tree can seek a substring, so this one holds both columns and
        # the id, and a search reads it alone (an index-only scan) instead of every profile's row.
        sa.Index("ix_viewer_profiles_account_search", "account_id", "handle_folded", "nickname_folded", "id"),
        # The sorts, always within one account; the id is the table's tie-breaker, so a page
        # is read in index order (without it PostgreSQL sorts every profile of a tied value).
        sa.Index("ix_viewer_profiles_account_coins", "account_id", "total_coins", "id"),
        sa.Index("ix_viewer_profiles_account_watchtime", "account_id", "total_watch_seconds", "id"),
        sa.Index("ix_viewer_profiles_account_visits", "account_id", "total_visits", "id"),
        sa.Index("ix_viewer_profiles_account_last_seen", "account_id", "last_seen_at", "id"),
        sa.Index("ix_viewer_profiles_account_first_seen", "account_id", "first_seen_at", "id"),
        sa.Index("ix_viewer_profiles_account_comments", "account_id", "total_comments", "id"),
        sa.Index("ix_viewer_profiles_account_likes", "account_id", "total_likes", "id"),
        # Upcoming birthdays (a week's days, without the blocked, soonest then by handle) and the
        # feed's birthday arrivals, read from the index alone until the few shown.
        # This index and the next two hold only the profiles they can find (every query names a
        # birthday, a tier or a linked shopper). On PostgreSQL each update of a profile writes an
        # entry in every index that holds it, and the writer updates each viewer of every batch: a
        # partial index skips the many with no birthday, no tier and no shopper.
        sa.Index("ix_viewer_profiles_account_birthday_handle", "account_id", "birthday_month", "birthday_day",
                 "is_blocked", "handle", "id", **_only_where("birthday_month IS NOT NULL")),
        sa.Index("ix_viewer_profiles_account_vip", "account_id", "vip_tier_id",
                 **_only_where("vip_tier_id IS NOT NULL")),
        sa.Index("ix_viewer_profiles_linked_user_id", "linked_user_id", **_only_where("linked_user_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("tiktok_accounts.id", ondelete="CASCADE"))
    tiktok_user_id: Mapped[int] = mapped_column(sa.BigInteger)
    # Refreshed from every event that carries them.
    handle: Mapped[str] = mapped_column(sa.String(64), default="")
    handle_folded: Mapped[str] = mapped_column(sa.String(64), default="")
    nickname: Mapped[str] = mapped_column(sa.String(120), default="")
    nickname_folded: Mapped[str] = mapped_column(sa.String(120), default="")
    avatar_url: Mapped[str | None] = mapped_column(sa.String(1000))
    # Badges as TikTok sends them: [{"scene": "FANS", "level": 7}, ...].
    badges: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    fan_level: Mapped[int | None] = mapped_column()
    gifter_level: Mapped[int | None] = mapped_column()
    is_tiktok_moderator: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    is_subscriber: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    follows_streamer: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    follower_count: Mapped[int | None] = mapped_column()
    following_count: Mapped[int | None] = mapped_column()

    first_seen_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    total_visits: Mapped[int] = mapped_column(default=0)
    # The room of the last LIVE counted as a visit: a second session there is not a second visit.
    last_visit_room_id: Mapped[str | None] = mapped_column(sa.String(32))
    total_watch_seconds: Mapped[int] = mapped_column(default=0)
    total_coins: Mapped[int] = mapped_column(default=0)
    total_gifts: Mapped[int] = mapped_column(default=0)
    total_comments: Mapped[int] = mapped_column(default=0)
    total_likes: Mapped[int] = mapped_column(default=0)
    total_shares: Mapped[int] = mapped_column(default=0)
    followed_at: Mapped[datetime | None] = mapped_column()

    # Set by the streamer.
    tts_voice: Mapped[str | None] = mapped_column(sa.String(60))
    discord_username: Mapped[str | None] = mapped_column(sa.String(40))
    birthday_month: Mapped[int | None] = mapped_column()
    birthday_day: Mapped[int | None] = mapped_column()
    birthday_year: Mapped[int | None] = mapped_column()
    birthday_greeted_on: Mapped[date | None] = mapped_column()
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    is_favorite: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    is_moderator: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    is_blocked: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    vip_tier_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vip_tiers.id", ondelete="SET NULL"))
    vip_source: Mapped[str | None] = mapped_column(sa.String(6))
    vip_since: Mapped[datetime | None] = mapped_column()
    linked_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[TikTokAccount] = relationship()
    vip_tier: Mapped[VipTier | None] = relationship()
    linked_user = relationship("User")


#: Percent of each PostgreSQL page of viewer_sessions filled by inserts (see ViewerSession).
SESSION_FILLFACTOR = 80


class ViewerSession(db.Model):
    """One stretch of a viewer's presence in one LIVE (TikTok sends no "leave": see the spec)."""

    __tablename__ = "viewer_sessions"
    __table_args__ = (
        sa.Index("ix_viewer_sessions_viewer_started", "viewer_id", "started_at"),
        # The overview's LIVE picture (services/studio_activity.py): the latest LIVE, and one LIVE's
        # sessions, read from an index rather than by sorting or scanning every session of the account.
        sa.Index("ix_viewer_sessions_account_started", "account_id", "started_at"),
        sa.Index("ix_viewer_sessions_account_room_started", "account_id", "room_id", "started_at"),
        # The chart's window: the sessions that closed in it, by the time they closed (a session's
        # end is its last activity), and the open ones (ended_at NULL). Not by `last_activity_at`,
        # which the writer moves for every active viewer in every batch: indexed, no such update
        # could be HOT on PostgreSQL, and each wrote an entry in all seven indexes (56 µs a row
        # at 200 LIVEs, docs/benchmarks.md).
        sa.Index("ix_viewer_sessions_account_room_ended", "account_id", "room_id", "ended_at"),
        # The feed's "VIP joined the LIVE": the LIVE's VIPs' sessions, newest first, are the first
        # entries of this index, however few of the LIVE's viewers (or many of the account's) are VIPs.
        sa.Index("ix_viewer_sessions_account_room_vip_started", "account_id", "room_id", "vip", "started_at"),
        # Room in each page for the new versions of its sessions' rows, so that an update of an open
        # session (its last activity and credited watchtime, no indexed column) stays on its page,
        # HOT, with no new index entries.
        {"postgresql_with": {"fillfactor": SESSION_FILLFACTOR}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    viewer_id: Mapped[int] = mapped_column()
    account_id: Mapped[int] = mapped_column()
    room_id: Mapped[str] = mapped_column(sa.String(32))
    live_stream_id: Mapped[int | None] = mapped_column()
    started_at: Mapped[datetime] = mapped_column()
    last_activity_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    # Watchtime already added to the profile; the sweeper credits the rest about every minute.
    credited_seconds: Mapped[int] = mapped_column(default=0)
    # The viewer id while the session is open, NULL once closed: at most one open session each.
    open_viewer_id: Mapped[int | None] = mapped_column(unique=True)
    # Whether the viewer is a VIP now (has a tier), kept on each of their sessions by every path
    # that changes a tier (services/vip.py) and set from the profile when the writer opens one.
    vip: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class GiftStreak(db.Model):
    """A gift streak still going: its ticks so far. Its end counts it as one gift; at live end, or
    once no tick came for a while, the last tick's repeat count is counted instead."""

    __tablename__ = "viewer_gift_streaks"
    __table_args__ = (
        sa.UniqueConstraint("viewer_id", "gift_id"),
        sa.Index("ix_viewer_gift_streaks_account_tick", "account_id", "last_tick_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    viewer_id: Mapped[int] = mapped_column()
    account_id: Mapped[int] = mapped_column()
    room_id: Mapped[str | None] = mapped_column(sa.String(32))
    gift_id: Mapped[int] = mapped_column()
    gift_name: Mapped[str] = mapped_column(sa.String(80))
    diamond_count: Mapped[int] = mapped_column()
    repeat_count: Mapped[int] = mapped_column()
    last_tick_at: Mapped[datetime] = mapped_column()


class ViewerGift(db.Model):
    """One finished gift (a whole streak counts once)."""

    __tablename__ = "viewer_gift_history"
    __table_args__ = (
        sa.Index("ix_viewer_gift_history_viewer_sent", "viewer_id", "sent_at"),
        sa.Index("ix_viewer_gift_history_account_sent", "account_id", "sent_at"),
        sa.Index("ix_viewer_gift_history_account_room_sent", "account_id", "room_id", "sent_at"),
        # The LIVE's top gifters: its gifts summed per viewer from the index alone.
        sa.Index("ix_viewer_gift_history_account_room_viewer", "account_id", "room_id", "viewer_id", "coins"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    viewer_id: Mapped[int] = mapped_column()
    account_id: Mapped[int] = mapped_column()
    room_id: Mapped[str | None] = mapped_column(sa.String(32))
    gift_id: Mapped[int] = mapped_column()
    gift_name: Mapped[str] = mapped_column(sa.String(80))
    # Coins per unit (TikTok's diamond_count), units in the streak, and their product.
    diamond_count: Mapped[int] = mapped_column()
    quantity: Mapped[int] = mapped_column()
    coins: Mapped[int] = mapped_column()
    sent_at: Mapped[datetime] = mapped_column()


class ViewerInteraction(db.Model):
    """The interaction log: comments, shares, follows, and likes folded per viewer per minute."""

    __tablename__ = "viewer_interactions"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('comment', 'like', 'share', 'follow')", name="kind_known"),
        sa.Index("ix_viewer_interactions_viewer_occurred", "viewer_id", "occurred_at"),
        sa.Index("ix_viewer_interactions_account_occurred", "account_id", "occurred_at"),
        sa.Index("ix_viewer_interactions_account_room_occurred", "account_id", "room_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    viewer_id: Mapped[int] = mapped_column()
    account_id: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.String(8))
    content: Mapped[str | None] = mapped_column(sa.Text)
    count: Mapped[int] = mapped_column(default=1)
    room_id: Mapped[str | None] = mapped_column(sa.String(32))
    occurred_at: Mapped[datetime] = mapped_column()
    # "viewer:minute" for likes, so a like storm adds to one row a minute; NULL for the rest.
    fold_key: Mapped[str | None] = mapped_column(sa.String(48), unique=True)


class ViewerActivity(db.Model):
    """Activity per viewer per (weekday, hour) in the account's time zone; weekday 0 = Monday."""

    __tablename__ = "viewer_activity_heatmap"
    __table_args__ = (
        sa.UniqueConstraint("viewer_id", "weekday", "hour"),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        sa.CheckConstraint("hour BETWEEN 0 AND 23", name="hour_range"),
        sa.Index("ix_viewer_activity_heatmap_account_bucket", "account_id", "weekday", "hour"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    viewer_id: Mapped[int] = mapped_column()
    account_id: Mapped[int] = mapped_column()
    weekday: Mapped[int] = mapped_column()
    hour: Mapped[int] = mapped_column()
    hits: Mapped[int] = mapped_column(default=0)
    coins: Mapped[int] = mapped_column(default=0)


#: The tables of a viewer's rows. Each row keeps its viewer's account beside the viewer, for the
#: account's indexes, and none has a foreign key: PostgreSQL checks one row by row, which was about
#: a sixth of the server's work for a batch (docs/benchmarks.md). What the keys did is done thus:
#: - a row names a profile and that profile's account because only the writer and the sweep insert
#:   them, from profiles they read in the same transaction (and the demo's loader, from the
#:   profiles it makes);
#: - those two hold the account's row with a key-share lock first (`services.tiktok.hold_accounts`),
#:   the lock a key's check took, so deleting a viewer (`services.studio.delete_viewer`, which
#:   holds the account's row exclusively) or the account (`services.tiktok.unlink_account`) waits
#:   for them, and deletes their rows too; a writer that comes after finds the viewer gone;
#: - those two deletions delete the rows themselves, by viewer or by account.
VIEWER_ROWS = (ViewerSession, GiftStreak, ViewerGift, ViewerInteraction, ViewerActivity)


class IngestLease(db.Model):
    """Which process runs an account's TikTok client; renewed every few seconds while it does."""

    __tablename__ = "ingest_leases"

    account_id: Mapped[int] = mapped_column(
        sa.ForeignKey("tiktok_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str] = mapped_column(sa.String(120))
    acquired_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


class IngestWorker(db.Model):
    """A process that runs TikTok clients, seen at its last lease check: the workers alive now share
    the accounts between them (each takes about its fair share of the leases)."""

    __tablename__ = "ingest_workers"

    holder: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class IngestedMessage(db.Model):
    """Message ids already applied, per account: a replayed message changes nothing.

    The writer claims a row for every event, so the table is keyed by what the claim looks up, with
    no key of its own, and has no foreign key to the account: the check cost a third of the claim
    on PostgreSQL (docs/benchmarks.md). Instead the writer takes the lock that check took, a
    key-share lock on the account's row, once per account per batch (as for a viewer's rows:
    `VIEWER_ROWS`), and unlinking an account deletes the account, which waits for a batch in
    flight, then its rows (`services.tiktok.unlink_account`; no other path deletes an account).
    Each account's sweep prunes its old ones."""

    __tablename__ = "ingest_messages"

    account_id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(sa.String(48), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class TikTokLinkCode(db.Model):
    """A one-time code a shopper types in a streamer's LIVE chat to link their TikTok profile."""

    __tablename__ = "tiktok_link_codes"
    __table_args__ = (sa.UniqueConstraint("account_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("tiktok_accounts.id", ondelete="CASCADE"))
    # The shopper's own TikTok handle (folded): only a comment from that handle counts.
    handle: Mapped[str] = mapped_column(sa.String(64))
    code: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()

    account: Mapped[TikTokAccount] = relationship()
