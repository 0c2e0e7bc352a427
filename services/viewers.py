"""Viewer-profile rules: applying a batch of ingest events, the session sweeper, VIP tiers,
birthdays and the heatmap. The writer greenlet, the replay command, the benchmark and the tests
all call these same functions.

Every batch is one transaction. Counters only ever move by `col = col + n` inside an upsert or an
update; a message id already applied is skipped (a reconnect replays recent history).
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from extensions import db
from ingest.records import EventRecord, MalformedEvent, Viewer
from models import (
    IngestedMessage,
    TikTokAccount,
    TikTokLinkCode,
    ViewerActivity,
    ViewerGift,
    ViewerInteraction,
    ViewerProfile,
    ViewerSession,
    VipTier,
)
from services.clock import SYSTEM_CLOCK, Clock
from services.live import live_show_for_tiktok_account

log = logging.getLogger(__name__)

#: Name, coins, watch hours, visits, colour, benefits (spec: "VIP tiers").
DEFAULT_TIERS = (
    ("Bronze", 1_000, 5, 10, "#cd7f32", "Bronze badge in the studio"),
    ("Silver", 5_000, 20, 25, "#c0c0c0", "Silver badge; shout-out on the first visit of a LIVE"),
    ("Gold", 20_000, 50, 50, "#ffd700", "Gold badge; priority answers in chat"),
    ("Platinum", 100_000, 200, 100, "#e5e4e2", "Platinum badge; early access to drops"),
)
#: Kinds that count as one heatmap hit (presence in the top-viewers list is not activity).
HEATMAP_KINDS = frozenset({"comment", "gift", "like", "share", "follow", "join"})
LINK_CODE_PATTERN = re.compile(r"\b([A-Z0-9]{6})\b")
SEEN_MESSAGE_DAYS = 2


@dataclass
class Notice:
    """Something the streamer's studio announces (new viewer, VIP promoted, birthday, ...)."""

    kind: str
    text: str
    viewer_id: int | None = None


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    malformed: int = 0
    notices: list[Notice] = field(default_factory=list)
    account_changed: bool = False


def _insert(table: sa.Table) -> Any:
    """INSERT with ON CONFLICT for the backend in use (SQLite and PostgreSQL both have it)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _bulk_write(table: sa.Table, rows: list[dict[str, Any]], constants: dict[str, Any] | None = None,
                on_conflict: Any = None) -> None:
    """INSERT many rows (each a dict of the same keys) as one statement, with an optional
    `on_conflict(insert) -> insert` clause.

    PostgreSQL gets one `INSERT ... SELECT unnest(...)` with one array parameter per column: one
    execution on the server, however many rows. SQLite runs the same statement for every row
    (cheap in-process). Values the same for every row go in `constants` as SQL expressions.
    """
    if not rows:
        return
    constants = constants or {}
    names = list(rows[0])
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY, insert

        columns = []
        for name in names:
            column_type = table.c[name].type
            values = [row[name] for row in rows]
            if isinstance(column_type, sa.JSON):
                array = sa.cast(sa.bindparam(f"{name}_values", [json.dumps(value) for value in values],
                                             type_=ARRAY(sa.Text)), ARRAY(sa.Text))
                columns.append(sa.cast(sa.func.unnest(array), column_type).label(name))
            else:
                array = sa.cast(sa.bindparam(f"{name}_values", values, type_=ARRAY(column_type)), ARRAY(column_type))
                columns.append(sa.func.unnest(array).label(name))
        columns += [sa.cast(value, table.c[name].type).label(name) for name, value in constants.items()]
        statement = insert(table).from_select([*names, *constants], sa.select(*columns))
        db.session.execute(on_conflict(statement) if on_conflict else statement)
    else:
        from sqlalchemy.dialects.sqlite import insert

        statement = insert(table).values(**constants) if constants else insert(table)
        db.session.execute(on_conflict(statement) if on_conflict else statement, rows)


def fold(text: str) -> str:
    return text.casefold()


# --- time zones, birthdays, heatmap ---------------------------------------------------------


def local_time(moment: datetime, time_zone: str) -> datetime:
    try:
        zone = ZoneInfo(time_zone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone)


def heatmap_bucket(moment: datetime, time_zone: str) -> tuple[int, int]:
    """(weekday with Monday = 0, hour) of `moment` in the account's zone (T3)."""
    local = local_time(moment, time_zone)
    return local.weekday(), local.hour


def birthday_in_year(month: int, day: int, year: int) -> date:
    """The day a birthday is celebrated in `year`: 29 February falls on 28 February in other years."""
    if month == 2 and day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return date(year, month, day)


def is_birthday_today(month: int | None, day: int | None, moment: datetime, time_zone: str) -> bool:
    """True when the birthday is today in the account's time zone (T2)."""
    if month is None or day is None:
        return False
    today = local_time(moment, time_zone).date()
    return birthday_in_year(month, day, today.year) == today


def age_on(birth_year: int | None, month: int, day: int, today: date) -> int | None:
    """The age on `today`, counting the birthday as passed on the day it is celebrated (a 29
    February birthday turns a year older on 28 February in other years)."""
    if birth_year is None:
        return None
    return today.year - birth_year - (1 if today < birthday_in_year(month, day, today.year) else 0)


def validate_birthday(month: int, day: int, year: int | None) -> None:
    """Raise ValueError for a date that does not exist (year optional: 29 February allowed)."""
    date(year if year is not None else 2000, month, day)


# --- VIP tiers -------------------------------------------------------------------------------


def seed_default_tiers(account: TikTokAccount) -> None:
    """Give a new account the four default tiers (the caller commits)."""
    for rank, (name, coins, hours, visits, colour, benefits) in enumerate(DEFAULT_TIERS, start=1):
        db.session.add(VipTier(account_id=account.id, name=name, rank=rank, min_coins=coins,
                               min_watch_seconds=hours * 3600, min_visits=visits, colour=colour,
                               benefits=benefits))


def account_tiers(account_id: int) -> list[VipTier]:
    return list(db.session.scalars(
        sa.select(VipTier).where(VipTier.account_id == account_id).order_by(VipTier.rank.desc())
    ))


def qualifying_tier(tiers: Sequence[VipTier], coins: int, watch_seconds: int, visits: int) -> VipTier | None:
    """The best tier whose three thresholds are all met (tiers sorted best first)."""
    for tier in tiers:
        if coins >= tier.min_coins and watch_seconds >= tier.min_watch_seconds and visits >= tier.min_visits:
            return tier
    return None


def reevaluate_vip(account: TikTokAccount, viewer_ids: Iterable[int], now: datetime) -> list[Notice]:
    """Re-rank the automatic VIPs among `viewer_ids`; a manual tier is never touched (B9).
    Returns a "promoted" notice only when the rank went up."""
    ids = list(set(viewer_ids))
    if not ids or not account.auto_vip:
        return []
    tiers = account_tiers(account.id)
    by_id = {tier.id: tier for tier in tiers}
    rows = db.session.execute(
        sa.select(ViewerProfile.id, ViewerProfile.total_coins, ViewerProfile.total_watch_seconds,
                  ViewerProfile.total_visits, ViewerProfile.vip_tier_id, ViewerProfile.is_blocked,
                  ViewerProfile.handle, ViewerProfile.nickname)
        .where(ViewerProfile.id.in_(ids), sa.or_(ViewerProfile.vip_source.is_(None),
                                                   ViewerProfile.vip_source == "auto"))
    ).all()
    notices = []
    for row in rows:
        tier = qualifying_tier(tiers, row.total_coins, row.total_watch_seconds, row.total_visits)
        new_id = tier.id if tier else None
        if new_id == row.vip_tier_id:
            continue
        old = by_id.get(row.vip_tier_id) if row.vip_tier_id else None
        values: dict[str, Any] = {"vip_tier_id": new_id, "vip_source": "auto" if tier else None}
        if tier is None:
            values["vip_since"] = None
        elif old is None:
            values["vip_since"] = now
        db.session.execute(sa.update(ViewerProfile).where(
            ViewerProfile.id == row.id, sa.or_(ViewerProfile.vip_source.is_(None), ViewerProfile.vip_source == "auto")
        ).values(**values))
        if tier is not None and (old is None or tier.rank > old.rank) and not row.is_blocked:
            notices.append(Notice("vip", f"@{row.handle} is now {tier.name} VIP", row.id))
    return notices


def set_manual_tier(viewer: ViewerProfile, tier: VipTier | None, now: datetime, *, lock: bool = True) -> None:
    """The streamer sets (and so locks) a viewer's tier; `tier=None` locks them out of VIP (a removed
    VIP stays removed). `lock=False` clears the lock and hands the viewer back to automation."""
    if tier is not None and tier.account_id != viewer.account_id:
        raise ValueError("that tier belongs to another account")
    if tier is None and lock:
        viewer.vip_tier_id, viewer.vip_source, viewer.vip_since = None, "manual", None
    elif not lock:
        viewer.vip_source = None
        viewer.vip_tier_id = None
        viewer.vip_since = None
        db.session.flush()
        reevaluate_vip(db.session.get(TikTokAccount, viewer.account_id), [viewer.id], now)
    else:
        if viewer.vip_tier_id is None:
            viewer.vip_since = now
        viewer.vip_tier_id = tier.id
        viewer.vip_source = "manual"
    db.session.commit()


def update_tier(tier: VipTier, now: datetime, **values: Any) -> None:
    """Edit a tier's thresholds or looks, then re-rank every automatic viewer of the account."""
    for name, value in values.items():
        setattr(tier, name, value)
    db.session.flush()
    account = db.session.get(TikTokAccount, tier.account_id)
    ids = db.session.scalars(sa.select(ViewerProfile.id).where(ViewerProfile.account_id == account.id))
    reevaluate_vip(account, ids, now)
    db.session.commit()


# --- applying a batch ------------------------------------------------------------------------


@dataclass
class _ViewerDelta:
    user: Viewer
    first: datetime
    last: datetime
    times: list[tuple[datetime, str]] = field(default_factory=list)
    comments: int = 0
    likes: int = 0
    shares: int = 0
    coins: int = 0
    gifts: int = 0
    followed_at: datetime | None = None
    follows: bool = False


def _check(record: EventRecord) -> None:
    """Reject what the rules cannot apply (records built by handlers skip `parse_record`)."""
    if record.user is not None and (not isinstance(record.user.id, int) or record.user.id <= 0):
        raise MalformedEvent("user id must be a positive number")
    if record.kind in {"comment", "gift", "like", "share", "follow", "join", "presence"} and record.user is None:
        raise MalformedEvent(f"a {record.kind} needs a user")
    if record.time.tzinfo is None:
        raise MalformedEvent("time must be timezone-aware")
    if record.kind == "gift":
        for name in ("gift_id", "diamond_count", "repeat_count"):
            value = record.data.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise MalformedEvent(f"gift {name} must be a whole number, not {value!r}")
    if record.kind == "like":
        count = record.data.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise MalformedEvent(f"like count must be a positive number, not {count!r}")


def _new_records(account_id: int, records: list[EventRecord], now: datetime) -> list[EventRecord]:
    """The records whose message id this account has not applied yet (claimed in this transaction)."""
    unique: dict[str, EventRecord] = {}
    for record in records:
        unique.setdefault(record.message_id, record)
    if not unique:
        return []
    table = IngestedMessage.__table__
    # One cached statement run for many rows: SQLAlchemy sends them as multi-row VALUES.
    statement = (
        _insert(table).on_conflict_do_nothing(index_elements=["account_id", "message_id"])
        .returning(table.c.message_id)
    )
    rows = [{"account_id": account_id, "message_id": message_id, "seen_at": now} for message_id in unique]
    claimed = set(db.session.execute(statement, rows).scalars())
    return [record for message_id, record in unique.items() if message_id in claimed]


def _expand(record: EventRecord) -> list[EventRecord]:
    """A room-user-count event also says who is in the room: each top viewer is present."""
    if record.kind != "viewers":
        return [record]
    present = [
        EventRecord("presence", f"{record.message_id}:{index}", record.time, record.room_id, user,
                    account_id=record.account_id)
        for index, user in enumerate(record.data.get("top", []))
    ]
    return [record, *present]


def apply_batch(account_id: int, records: Iterable[EventRecord], clock: Clock = SYSTEM_CLOCK) -> BatchResult:
    """Apply one batch of one account's events in one transaction and commit it."""
    result = BatchResult()
    now = clock.now()
    valid: list[EventRecord] = []
    for record in records:
        try:
            _check(record)
        except MalformedEvent as error:
            result.malformed += 1
            log.warning("skipping malformed %s event %s: %s", record.kind, record.message_id, error)
            continue
        valid.append(record)
    try:
        account = db.session.get(TikTokAccount, account_id)
        if account is None:
            return result
        fresh = _new_records(account_id, valid, now)
        result.duplicates = len(valid) - len(fresh)
        fresh.sort(key=lambda record: record.time)
        expanded = [item for record in fresh for item in _expand(record)]
        result.applied = len(fresh)
        _apply(account, expanded, now, result)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def _apply(account: TikTokAccount, records: list[EventRecord], now: datetime, result: BatchResult) -> None:
    deltas: dict[int, _ViewerDelta] = {}
    live_ended = False
    for record in records:
        if record.kind == "live_start" and record.room_id:
            if account.room_id != record.room_id or account.status != "live":
                account.room_id = record.room_id
                # A live show on the site linked to this account: the LIVE's sessions point at it.
                account.live_stream_id = live_show_for_tiktok_account(account.id)
                account.status, account.last_error, account.status_changed_at = "live", None, now
                result.account_changed = True
            continue
        if record.kind == "viewers":
            account.viewer_count = int(record.data.get("total", 0))
            result.account_changed = True
            continue
        if record.kind == "live_end":
            live_ended = True
            continue
        if record.user is None:
            continue
        delta = deltas.get(record.user.id)
        if delta is None:
            delta = deltas[record.user.id] = _ViewerDelta(record.user, record.time, record.time)
        else:
            delta.user = record.user if record.user.handle else delta.user
            delta.last = max(delta.last, record.time)
            delta.first = min(delta.first, record.time)
        delta.times.append((record.time, record.room_id or account.room_id or "unknown"))
        if record.kind == "comment":
            delta.comments += 1
        elif record.kind == "like":
            delta.likes += record.data["count"]
        elif record.kind == "share":
            delta.shares += 1
        elif record.kind == "follow":
            delta.follows = True
            delta.followed_at = delta.followed_at or record.time
        elif record.kind == "gift" and not record.data.get("streaking"):
            # B5/B6: a streak counts once, at its end; coins = price per unit x units, no x2.
            delta.gifts += record.data["repeat_count"]
            delta.coins += record.data["diamond_count"] * record.data["repeat_count"]
    if deltas:
        _apply_viewers(account, records, deltas, now, result)
    if live_ended:
        # The LIVE is over: every session closes at its viewer's last activity.
        _close_all_sessions(account, now)
        account.status, account.status_changed_at, account.viewer_count = "offline", now, 0
        result.account_changed = True


def _apply_viewers(account: TikTokAccount, records: list[EventRecord], deltas: dict[int, _ViewerDelta],
                   now: datetime, result: BatchResult) -> None:
    profiles = _upsert_profiles(account, deltas, now)
    ids = {user_id: row.id for user_id, row in profiles.items()}
    for user_id, row in profiles.items():
        # Every viewer gets its visit in its first batch, so no visit yet means new.
        if row.total_visits == 0 and not row.is_blocked:
            handle = deltas[user_id].user.handle or str(user_id)
            result.notices.append(Notice("new_viewer", f"New viewer: @{handle}", row.id))
    _apply_sessions(account, deltas, profiles)
    _insert_logs(account, records, ids)
    _apply_heatmap(account, records, ids)
    result.notices.extend(_gift_and_follow_notices(account, records, ids, profiles))
    result.notices.extend(_link_codes(account, records, ids))
    result.notices.extend(reevaluate_vip(account, ids.values(), now))
    result.notices.extend(_birthdays(account, deltas, ids))


def _upsert_profiles(account: TikTokAccount, deltas: dict[int, _ViewerDelta], now: datetime) -> dict[int, Any]:
    table = ViewerProfile.__table__
    rows: list[dict[str, Any]] = []
    for user_id, delta in deltas.items():
        user = delta.user
        scenes = {str(badge.get("scene", "")).upper(): badge.get("level") for badge in user.badges}
        rows.append({
            "tiktok_user_id": user_id,
            "handle": user.handle, "handle_folded": fold(user.handle),
            "nickname": user.nickname, "nickname_folded": fold(user.nickname),
            "avatar_url": user.avatar, "badges": list(user.badges),
            "fan_level": _level(scenes.get("FANS")), "gifter_level": _level(scenes.get("USER_GRADE")),
            "is_tiktok_moderator": user.moderator or "ADMIN" in scenes,
            "is_subscriber": user.subscriber or "SUBSCRIBER" in scenes,
            "follows_streamer": user.follower or delta.follows,
            "follower_count": user.follower_count, "following_count": user.following_count,
            "first_seen_at": delta.first, "last_seen_at": delta.last,
            "total_coins": delta.coins, "total_gifts": delta.gifts, "total_comments": delta.comments,
            "total_likes": delta.likes, "total_shares": delta.shares, "followed_at": delta.followed_at,
        })
    c = table.c

    def on_conflict(statement: Any) -> Any:
        new = statement.excluded
        return statement.on_conflict_do_update(
            index_elements=["account_id", "tiktok_user_id"],
            set_={
                "handle": sa.func.coalesce(sa.func.nullif(new.handle, ""), c.handle),
                "handle_folded": sa.func.coalesce(sa.func.nullif(new.handle_folded, ""), c.handle_folded),
                "nickname": sa.func.coalesce(sa.func.nullif(new.nickname, ""), c.nickname),
                "nickname_folded": sa.func.coalesce(sa.func.nullif(new.nickname_folded, ""), c.nickname_folded),
                "avatar_url": sa.func.coalesce(new.avatar_url, c.avatar_url),
                "badges": new.badges,
                "fan_level": sa.func.coalesce(new.fan_level, c.fan_level),
                "gifter_level": sa.func.coalesce(new.gifter_level, c.gifter_level),
                "is_tiktok_moderator": new.is_tiktok_moderator,
                "is_subscriber": new.is_subscriber,
                "follows_streamer": sa.or_(c.follows_streamer, new.follows_streamer),
                "follower_count": sa.func.coalesce(new.follower_count, c.follower_count),
                "following_count": sa.func.coalesce(new.following_count, c.following_count),
                "first_seen_at": sa.case((new.first_seen_at < c.first_seen_at, new.first_seen_at),
                                         else_=c.first_seen_at),
                "last_seen_at": sa.case((new.last_seen_at > c.last_seen_at, new.last_seen_at), else_=c.last_seen_at),
                "total_coins": c.total_coins + new.total_coins,
                "total_gifts": c.total_gifts + new.total_gifts,
                "total_comments": c.total_comments + new.total_comments,
                "total_likes": c.total_likes + new.total_likes,
                "total_shares": c.total_shares + new.total_shares,
                "followed_at": sa.func.coalesce(c.followed_at, new.followed_at),
                "updated_at": new.updated_at,
            },
        )

    _bulk_write(table, rows, {
        "account_id": sa.literal(account.id), "total_visits": sa.literal(0), "total_watch_seconds": sa.literal(0),
        "notes": sa.literal(""), "tags": sa.literal_column("'[]'"), "is_favorite": sa.false(),
        "is_moderator": sa.false(), "is_blocked": sa.false(),
        "created_at": sa.literal(now, table.c.created_at.type), "updated_at": sa.literal(now, table.c.updated_at.type),
    }, on_conflict)
    found = db.session.execute(
        sa.select(c.id, c.tiktok_user_id, c.total_visits, c.last_visit_room_id, c.is_blocked)
        .where(c.account_id == account.id, c.tiktok_user_id.in_(list(deltas)))
    )
    return {row.tiktok_user_id: row for row in found}


def _level(value: Any) -> int | None:
    try:
        return int(value) if value is not None and str(value) != "" else None
    except ValueError:
        return None


@dataclass
class _OpenSession:
    id: int | None
    room_id: str
    started: datetime
    last: datetime
    credited: int


def _apply_sessions(account: TikTokAccount, deltas: dict[int, _ViewerDelta], profiles: dict[int, Any]) -> None:
    """Open, extend and close sessions; count one visit per LIVE (B1, B2); credit watchtime."""
    timeout = timedelta(seconds=account.session_timeout)
    by_viewer = {profiles[user_id].id: user_id for user_id in deltas}
    open_rows = db.session.execute(
        sa.select(ViewerSession.id, ViewerSession.viewer_id, ViewerSession.room_id, ViewerSession.started_at,
                  ViewerSession.last_activity_at, ViewerSession.credited_seconds)
        .where(ViewerSession.open_viewer_id.in_(list(by_viewer)))
    ).all()
    current = {row.viewer_id: _OpenSession(row.id, row.room_id, row.started_at, row.last_activity_at,
                                           row.credited_seconds) for row in open_rows}
    closes: list[dict[str, Any]] = []
    closed_inserts: list[dict[str, Any]] = []
    profile_updates: list[dict[str, Any]] = []
    for viewer_id, user_id in by_viewer.items():
        profile = profiles[user_id]
        visited_room = profile.last_visit_room_id
        visits = watch = 0
        session = current.get(viewer_id)
        original = session
        for moment, room in sorted(deltas[user_id].times):
            if session is not None and room == session.room_id and moment - session.last <= timeout:
                session.last = max(session.last, moment)
                continue
            if session is not None:
                duration = _seconds(session.last - session.started)
                watch += duration - session.credited
                row = {"sid": session.id, "ended": session.last, "credited": duration, "last": session.last}
                (closes if session.id is not None else closed_inserts).append(
                    {**row, "viewer_id": viewer_id, "room": session.room_id, "started": session.started})
            session = _OpenSession(None, room, moment, moment, 0)
            if room != visited_room:
                visits += 1
                visited_room = room
        if original is not None and session is original:
            closes.append({"sid": session.id, "ended": None, "credited": session.credited, "last": session.last,
                           "keep_open": True})
        elif session is not None and session.id is None:
            closed_inserts.append({"viewer_id": viewer_id, "room": session.room_id, "started": session.started,
                                   "last": session.last, "ended": None, "credited": 0})
        if visits or watch:
            profile_updates.append({"pid": viewer_id, "visits": visits, "watch": watch, "room": visited_room})
    table = ViewerSession.__table__
    still_open = [row for row in closes if row.get("keep_open")]
    really_closed = [row for row in closes if not row.get("keep_open")]
    if really_closed:
        db.session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("sid")).values(
                ended_at=sa.bindparam("ended"), credited_seconds=sa.bindparam("credited"),
                last_activity_at=sa.bindparam("last"), open_viewer_id=None),
            [{"sid": row["sid"], "ended": row["ended"], "credited": row["credited"], "last": row["last"]}
             for row in really_closed],
        )
    if still_open:
        db.session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("sid")).values(last_activity_at=sa.bindparam("last")),
            [{"sid": row["sid"], "last": row["last"]} for row in still_open],
        )
    if closed_inserts:
        db.session.execute(sa.insert(table), [
            {"viewer_id": row["viewer_id"], "account_id": account.id, "room_id": row["room"],
             "live_stream_id": account.live_stream_id, "started_at": row["started"],
             "last_activity_at": row["last"], "ended_at": row["ended"], "credited_seconds": row["credited"],
             "open_viewer_id": None if row["ended"] is not None else row["viewer_id"]}
            for row in closed_inserts
        ])
    if profile_updates:
        profile_table = ViewerProfile.__table__
        db.session.execute(
            sa.update(profile_table).where(profile_table.c.id == sa.bindparam("pid")).values(
                total_visits=profile_table.c.total_visits + sa.bindparam("visits"),
                total_watch_seconds=profile_table.c.total_watch_seconds + sa.bindparam("watch"),
                last_visit_room_id=sa.bindparam("room")),
            profile_updates,
        )


def _seconds(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds()))


def _insert_logs(account: TikTokAccount, records: list[EventRecord], ids: dict[int, int]) -> None:
    gifts, interactions = [], []
    likes: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.user is None:
            continue
        viewer_id = ids[record.user.id]
        room = record.room_id or account.room_id
        if record.kind == "gift" and not record.data.get("streaking"):
            quantity, price = record.data["repeat_count"], record.data["diamond_count"]
            gifts.append({"viewer_id": viewer_id, "account_id": account.id, "room_id": room,
                          "gift_id": record.data["gift_id"], "gift_name": record.data.get("gift_name", "Gift"),
                          "diamond_count": price, "quantity": quantity, "coins": price * quantity,
                          "sent_at": record.time})
        elif record.kind in {"comment", "share", "follow"}:
            interactions.append({"viewer_id": viewer_id, "account_id": account.id, "kind": record.kind,
                                 "content": record.data.get("text") if record.kind == "comment" else None,
                                 "count": 1, "room_id": room, "occurred_at": record.time, "fold_key": None})
        elif record.kind == "like":
            minute = record.time.astimezone(UTC).replace(second=0, microsecond=0)
            key = f"{viewer_id}:{minute:%Y%m%d%H%M}"
            row = likes.setdefault(key, {"viewer_id": viewer_id, "account_id": account.id, "kind": "like",
                                         "content": None, "count": 0, "room_id": room, "occurred_at": minute,
                                         "fold_key": key})
            row["count"] += record.data["count"]
    if gifts:
        db.session.execute(sa.insert(ViewerGift.__table__), gifts)
    if interactions:
        db.session.execute(sa.insert(ViewerInteraction.__table__), interactions)
    if likes:
        # B8: likes fold into one row per viewer per minute, so a like storm cannot grow the log.
        table = ViewerInteraction.__table__
        statement = _insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=["fold_key"], set_={"count": table.c.count + statement.excluded["count"]}
        )
        db.session.execute(statement, list(likes.values()))


def _apply_heatmap(account: TikTokAccount, records: list[EventRecord], ids: dict[int, int]) -> None:
    buckets: dict[tuple[int, int, int], list[int]] = defaultdict(lambda: [0, 0])
    for record in records:
        if record.user is None or record.kind not in HEATMAP_KINDS:
            continue
        if record.kind == "gift" and record.data.get("streaking"):
            continue
        weekday, hour = heatmap_bucket(record.time, account.time_zone)
        bucket = buckets[(ids[record.user.id], weekday, hour)]
        bucket[0] += 1
        if record.kind == "gift":
            bucket[1] += record.data["diamond_count"] * record.data["repeat_count"]
    if not buckets:
        return
    table = ViewerActivity.__table__
    statement = _insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["viewer_id", "weekday", "hour"],
        set_={"hits": table.c.hits + statement.excluded.hits, "coins": table.c.coins + statement.excluded.coins},
    )
    rows = [{"viewer_id": viewer_id, "account_id": account.id, "weekday": weekday, "hour": hour,
             "hits": hits, "coins": coins} for (viewer_id, weekday, hour), (hits, coins) in buckets.items()]
    db.session.execute(statement, rows)


def _gift_and_follow_notices(account: TikTokAccount, records: list[EventRecord], ids: dict[int, int],
                             profiles: dict[int, Any]) -> list[Notice]:
    notices = []
    for record in records:
        if record.user is None or profiles[record.user.id].is_blocked:
            continue
        name = record.user.handle or str(record.user.id)
        if record.kind == "gift" and not record.data.get("streaking"):
            coins = record.data["diamond_count"] * record.data["repeat_count"]
            if account.big_gift_threshold and coins >= account.big_gift_threshold:
                notices.append(Notice("big_gift", f"@{name} sent {record.data['repeat_count']} × "
                                                  f"{record.data.get('gift_name', 'Gift')} ({coins:,} coins)",
                                      ids[record.user.id]))
        elif record.kind == "follow":
            notices.append(Notice("follow", f"@{name} followed you", ids[record.user.id]))
    return notices


def _link_codes(account: TikTokAccount, records: list[EventRecord], ids: dict[int, int]) -> list[Notice]:
    """A shopper's one-time code typed in the chat by their own handle links their profile."""
    candidates = []
    for record in records:
        if record.kind == "comment" and record.user is not None:
            for code in LINK_CODE_PATTERN.findall(str(record.data.get("text", "")).upper()):
                candidates.append((code, record))
    if not candidates:
        return []
    codes = db.session.scalars(sa.select(TikTokLinkCode).where(
        TikTokLinkCode.account_id == account.id, TikTokLinkCode.used_at.is_(None),
        TikTokLinkCode.code.in_({code for code, _ in candidates}),
    )).all()
    by_code = {code.code: code for code in codes}
    notices = []
    for code_text, record in candidates:
        code = by_code.get(code_text)
        if code is None or code.used_at is not None or record.time >= code.expires_at:
            continue
        if code.handle != fold(record.user.handle):
            continue
        claimed = db.session.execute(sa.update(TikTokLinkCode).where(
            TikTokLinkCode.id == code.id, TikTokLinkCode.used_at.is_(None)).values(used_at=record.time))
        if claimed.rowcount != 1:
            continue
        code.used_at = record.time
        db.session.execute(sa.update(ViewerProfile).where(ViewerProfile.id == ids[record.user.id])
                           .values(linked_user_id=code.user_id))
        notices.append(Notice("linked", f"@{record.user.handle} linked their shop account", ids[record.user.id]))
    return notices


def _birthdays(account: TikTokAccount, deltas: dict[int, _ViewerDelta], ids: dict[int, int]) -> list[Notice]:
    """Announce a birthday viewer once per day, remembered in the database (T2)."""
    if not account.birthday_notices:
        return []
    last_by_viewer = {ids[user_id]: delta.last for user_id, delta in deltas.items()}
    rows = db.session.execute(
        sa.select(ViewerProfile.id, ViewerProfile.handle, ViewerProfile.birthday_month, ViewerProfile.birthday_day,
                  ViewerProfile.birthday_year, ViewerProfile.birthday_greeted_on)
        .where(ViewerProfile.id.in_(list(last_by_viewer)), ViewerProfile.birthday_month.is_not(None),
               ViewerProfile.is_blocked.is_(False))
    ).all()
    notices = []
    for row in rows:
        moment = last_by_viewer[row.id]
        if not is_birthday_today(row.birthday_month, row.birthday_day, moment, account.time_zone):
            continue
        today = local_time(moment, account.time_zone).date()
        if row.birthday_greeted_on == today:
            continue
        greeted = db.session.execute(sa.update(ViewerProfile).where(
            ViewerProfile.id == row.id,
            sa.or_(ViewerProfile.birthday_greeted_on.is_(None), ViewerProfile.birthday_greeted_on != today),
        ).values(birthday_greeted_on=today))
        if greeted.rowcount != 1:
            continue
        age = age_on(row.birthday_year, row.birthday_month, row.birthday_day, today)
        text = f"@{row.handle} turns {age} today" if age is not None else f"It's @{row.handle}'s birthday today"
        notices.append(Notice("birthday", text, row.id))
    return notices


# --- sessions outside batches: sweeper, live end, start-up repair -----------------------------


def _credit_and_close(account: TikTokAccount, rows: Sequence[Any], close: bool, now: datetime) -> list[int]:
    """Credit the uncredited watchtime of these open sessions; close them too when `close`."""
    credits: dict[int, int] = defaultdict(int)
    updates = []
    for row in rows:
        duration = _seconds(row.last_activity_at - row.started_at)
        credits[row.viewer_id] += duration - row.credited_seconds
        updates.append({"sid": row.id, "credited": duration, "ended": row.last_activity_at})
    table = ViewerSession.__table__
    if updates:
        values: dict[str, Any] = {"credited_seconds": sa.bindparam("credited")}
        if close:
            values.update(ended_at=sa.bindparam("ended"), open_viewer_id=None)
        db.session.execute(sa.update(table).where(table.c.id == sa.bindparam("sid")).values(**values), updates)
    changed = [{"pid": viewer_id, "watch": seconds} for viewer_id, seconds in credits.items() if seconds]
    if changed:
        profiles = ViewerProfile.__table__
        db.session.execute(
            sa.update(profiles).where(profiles.c.id == sa.bindparam("pid")).values(
                total_watch_seconds=profiles.c.total_watch_seconds + sa.bindparam("watch")),
            changed,
        )
    return [row["pid"] for row in changed]


def _open_sessions(account_id: int, *conditions: Any) -> Sequence[Any]:
    return db.session.execute(
        sa.select(ViewerSession.id, ViewerSession.viewer_id, ViewerSession.started_at,
                  ViewerSession.last_activity_at, ViewerSession.credited_seconds)
        .where(ViewerSession.account_id == account_id, ViewerSession.open_viewer_id.is_not(None), *conditions)
    ).all()


def _close_all_sessions(account: TikTokAccount, now: datetime) -> list[int]:
    return _credit_and_close(account, _open_sessions(account.id), True, now)


def sweep(account_id: int, clock: Clock = SYSTEM_CLOCK, retention_days: int = 90) -> list[Notice]:
    """Credit watchtime of open sessions and close those idle past the timeout (about every 60 s)."""
    now = clock.now()
    account = db.session.get(TikTokAccount, account_id)
    if account is None:
        return []
    idle_before = now - timedelta(seconds=account.session_timeout)
    idle = _open_sessions(account_id, ViewerSession.last_activity_at < idle_before)
    active = _open_sessions(account_id, ViewerSession.last_activity_at >= idle_before)
    credited = _credit_and_close(account, idle, True, now) + _credit_and_close(account, active, False, now)
    notices = reevaluate_vip(account, credited, now)
    db.session.execute(sa.delete(IngestedMessage).where(
        IngestedMessage.account_id == account_id,
        IngestedMessage.seen_at < now - timedelta(days=SEEN_MESSAGE_DAYS)))
    db.session.execute(sa.delete(ViewerInteraction).where(
        ViewerInteraction.account_id == account_id,
        ViewerInteraction.occurred_at < now - timedelta(days=retention_days)))
    db.session.commit()
    return notices


def repair_open_sessions(account_id: int, clock: Clock = SYSTEM_CLOCK) -> int:
    """Start-up repair: sessions a crashed process left open are closed at their last activity."""
    account = db.session.get(TikTokAccount, account_id)
    if account is None:
        return 0
    rows = _open_sessions(account_id)
    credited = _credit_and_close(account, rows, True, clock.now())
    reevaluate_vip(account, credited, clock.now())
    db.session.commit()
    return len(rows)


def set_status(account_id: int, status: str, error: str | None = None, clock: Clock = SYSTEM_CLOCK) -> bool:
    """Record the account's ingest status; True when it changed."""
    changed = db.session.execute(
        sa.update(TikTokAccount).where(
            TikTokAccount.id == account_id,
            sa.or_(TikTokAccount.status != status, sa.func.coalesce(TikTokAccount.last_error, "") != (error or "")),
        ).values(status=status, last_error=error[:1000] if error else None, status_changed_at=clock.now())
    ).rowcount
    db.session.commit()
    return bool(changed)
