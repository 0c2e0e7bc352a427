"""The batch rules: applying one account's batch of event records in one transaction. The writer
greenlet, the replay command, the benchmark and the tests all call `apply_batch`.

Counters only ever move by `col = col + n` inside an upsert or an update; a message id already
applied is skipped (a reconnect replays recent history). The batch is first folded in Python into
one change per viewer (and per heatmap cell, per like-minute), then written with set-based
statements. Dependencies point one way: ingest -> services -> models; services never import ingest.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from extensions import db
from ingest import sessions, streaks
from ingest.records import EventRecord, MalformedEvent, Viewer, check
from ingest.tallies import Cells, add_heatmap
from models import (
    GiftStreak,
    IngestedMessage,
    TikTokAccount,
    TikTokLinkCode,
    ViewerGift,
    ViewerInteraction,
    ViewerProfile,
)
from services import account_figures, claims
from services.clock import SYSTEM_CLOCK, Clock
from services.database import bulk_insert, upsert
from services.live import live_show_for_tiktok_account
from services.local_time import age_on, heatmap_bucket, is_birthday_today, local_time
from services.notices import Notice
from services.tiktok import fold
from services.vip import reevaluate_vip

log = logging.getLogger(__name__)

#: Kinds that count as one heatmap hit (presence in the top-viewers list is not activity).
HEATMAP_KINDS = frozenset({"comment", "gift", "like", "share", "follow", "join"})
LINK_CODE_PATTERN = re.compile(r"\b([A-Z0-9]{6})\b")


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    malformed: int = 0
    notices: list[Notice] = field(default_factory=list)
    account_changed: bool = False
    #: The committed batch's new comments and completed gifts, for the console of a linked show.
    chat: list[EventRecord] = field(default_factory=list)


def counted_gift(record: EventRecord) -> bool:
    """A gift that counts: a streak counts once, at its end (B5/B6)."""
    return record.kind == "gift" and not record.data.get("streaking")


def gift_coins(record: EventRecord) -> int:
    """Coins = price per unit x units, no x2 (B5)."""
    return record.data["diamond_count"] * record.data["repeat_count"]


@dataclass
class _ViewerDelta:
    """One viewer's share of a batch, folded into one profile change."""

    user: Viewer
    first: datetime
    last: datetime
    activity: list[tuple[datetime, str]] = field(default_factory=list)
    comments: int = 0
    likes: int = 0
    shares: int = 0
    coins: int = 0
    gifts: int = 0
    followed_at: datetime | None = None

    def add(self, record: EventRecord, room: str) -> None:
        if record.user.handle:
            self.user = record.user
        self.first, self.last = min(self.first, record.time), max(self.last, record.time)
        self.activity.append((record.time, room))
        if record.kind == "comment":
            self.comments += 1
        elif record.kind == "like":
            self.likes += record.data["count"]
        elif record.kind == "share":
            self.shares += 1
        elif record.kind == "follow":
            self.followed_at = self.followed_at or record.time
        elif counted_gift(record):
            self.gifts += record.data["repeat_count"]
            self.coins += gift_coins(record)


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
        upsert(table).on_conflict_do_nothing(index_elements=["account_id", "message_id"])
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


def _valid(records: Iterable[EventRecord], result: BatchResult) -> list[EventRecord]:
    valid = []
    for record in records:
        try:
            check(record)
        except MalformedEvent as error:
            result.malformed += 1
            log.warning("skipping malformed %s event %s: %s", record.kind, record.message_id, error)
            continue
        valid.append(record)
    return valid


def apply_batch(account_id: int, records: Iterable[EventRecord], clock: Clock = SYSTEM_CLOCK) -> BatchResult:
    """Apply one batch of one account's events in one transaction and commit it."""
    result = BatchResult()
    now = clock.now()
    valid = _valid(records, result)
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
    result.chat = [record for record in fresh if record.kind == "comment" or counted_gift(record)]
    claims.claim_from_chat(account_id, fresh)  # "sold" typed on TikTok: holds in shoppers' carts
    return result


def _apply_room_event(account: TikTokAccount, record: EventRecord, now: datetime, result: BatchResult) -> None:
    """What a LIVE-level event (start, viewer count) changes on the account."""
    if record.kind == "live_start" and record.room_id:
        if account.room_id != record.room_id or account.status != "live":
            account.room_id = record.room_id
            # A live show on the site linked to this account: the LIVE's sessions point at it.
            account.live_stream_id = live_show_for_tiktok_account(account.id)
            account.status, account.last_error, account.status_changed_at = "live", None, now
            result.account_changed = True
    elif record.kind == "viewers":
        account.viewer_count = int(record.data.get("total", 0))
        result.account_changed = True
    elif record.kind == "live_end":
        account.status, account.status_changed_at, account.viewer_count = "offline", now, 0
        result.account_changed = True


def _apply(account: TikTokAccount, records: list[EventRecord], now: datetime, result: BatchResult) -> None:
    deltas: dict[int, _ViewerDelta] = {}
    ended_rooms: list[str | None] = []
    for record in records:  # in time order: a LIVE that ends and the next that starts, in turn
        if record.user is None:
            if record.kind == "live_end":
                ended_rooms.append(record.room_id or account.room_id)
            _apply_room_event(account, record, now, result)
            continue
        delta = deltas.get(record.user.id)
        if delta is None:
            delta = deltas[record.user.id] = _ViewerDelta(record.user, record.time, record.time)
        delta.add(record, record.room_id or account.room_id or "unknown")
    if deltas:
        _apply_viewers(account, records, deltas, now, result)
    for room in ended_rooms:
        # That LIVE is over: its streaks whose end never came count their last tick, and its
        # sessions close at their viewers' last activity (not those of a LIVE started since).
        in_room = [GiftStreak.room_id == room] if room else []
        result.notices.extend(reevaluate_vip(account, streaks.count_unfinished(account, *in_room), now))
        sessions.close_all(account, room)


def _apply_viewers(account: TikTokAccount, records: list[EventRecord], deltas: dict[int, _ViewerDelta],
                   now: datetime, result: BatchResult) -> None:
    profiles = _upsert_profiles(account, deltas, now)
    ids = {user_id: row.id for user_id, row in profiles.items()}
    # Every viewer gets its visit in its first batch, so no visit yet means new.
    new = [user_id for user_id, row in profiles.items() if row.total_visits == 0]
    for user_id in new:
        if not profiles[user_id].is_blocked:
            handle = deltas[user_id].user.handle or str(user_id)
            result.notices.append(Notice("new_viewer", f"New viewer: @{handle}", ids[user_id]))
    account_figures.add(account.id, total_viewers=len(new), total_coins=sum(delta.coins for delta in deltas.values()))
    sessions.apply_sessions(account, {ids[user_id]: delta.activity for user_id, delta in deltas.items()},
                            {row.id: row.last_visit_room_id for row in profiles.values()})
    _insert_logs(account, records, ids)
    streaks.track(account, records, ids)
    _apply_heatmap(account, records, ids)
    result.notices.extend(_gift_and_follow_notices(account, records, ids, profiles))
    result.notices.extend(_link_codes(account, records, ids))
    result.notices.extend(reevaluate_vip(account, ids.values(), now))
    result.notices.extend(_birthdays(account, deltas, ids))


def _profile_row(user_id: int, delta: _ViewerDelta) -> dict[str, Any]:
    user = delta.user
    scenes = {str(badge.get("scene", "")).upper(): badge.get("level") for badge in user.badges}
    return {
        "tiktok_user_id": user_id,
        "handle": user.handle, "handle_folded": fold(user.handle),
        "nickname": user.nickname, "nickname_folded": fold(user.nickname),
        "avatar_url": user.avatar, "badges": list(user.badges),
        "fan_level": _level(scenes.get("FANS")), "gifter_level": _level(scenes.get("USER_GRADE")),
        "is_tiktok_moderator": user.moderator or "ADMIN" in scenes,
        "is_subscriber": user.subscriber or "SUBSCRIBER" in scenes,
        "follows_streamer": user.follower or delta.followed_at is not None,
        "follower_count": user.follower_count, "following_count": user.following_count,
        "first_seen_at": delta.first, "last_seen_at": delta.last,
        "total_coins": delta.coins, "total_gifts": delta.gifts, "total_comments": delta.comments,
        "total_likes": delta.likes, "total_shares": delta.shares, "followed_at": delta.followed_at,
    }


def _profile_on_conflict(statement: Any) -> Any:
    c, new = ViewerProfile.__table__.c, statement.excluded
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
            "first_seen_at": sa.case((new.first_seen_at < c.first_seen_at, new.first_seen_at), else_=c.first_seen_at),
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


def _upsert_profiles(account: TikTokAccount, deltas: dict[int, _ViewerDelta], now: datetime) -> dict[int, Any]:
    """One row per viewer of the batch: profiles read first (one indexed select), then new viewers
    inserted (an upsert, so a racing writer's insert still adds up) and known ones updated by id;
    their names are written only when they changed, so the search index (a trigger on SQLite, the
    trigram indexes on PostgreSQL) is not rewritten for every event. Returns what the rules need of
    each profile, as it was before this batch's sessions."""
    table = ViewerProfile.__table__
    c = table.c
    wanted = (c.id, c.tiktok_user_id, c.total_visits, c.last_visit_room_id, c.is_blocked)
    known = {row.tiktok_user_id: row for row in db.session.execute(
        sa.select(*wanted, c.handle, c.nickname)
        .where(c.account_id == account.id, c.tiktok_user_id.in_(list(deltas))))}
    rows = {user_id: _profile_row(user_id, delta) for user_id, delta in deltas.items()}
    bulk_insert(table, [row for user_id, row in rows.items() if user_id not in known], {
        "account_id": sa.literal(account.id), "total_visits": sa.literal(0), "total_watch_seconds": sa.literal(0),
        "notes": sa.literal(""), "tags": sa.literal_column("'[]'"), "is_favorite": sa.false(),
        "is_moderator": sa.false(), "is_blocked": sa.false(),
        "created_at": sa.literal(now, table.c.created_at.type), "updated_at": sa.literal(now, table.c.updated_at.type),
    }, _profile_on_conflict)
    updates = [{"pid": profile.id, "now": now, **{f"b_{key}": value for key, value in rows[user_id].items()}}
               for user_id, profile in known.items()]
    if updates:
        db.session.execute(_profile_update(table), updates)
    names = ("handle", "handle_folded", "nickname", "nickname_folded")
    renamed = [{"pid": profile.id, **{f"b_{name}": rows[user_id][name] for name in names}}
               for user_id, profile in known.items()
               if (rows[user_id]["handle"] and rows[user_id]["handle"] != profile.handle)
               or (rows[user_id]["nickname"] and rows[user_id]["nickname"] != profile.nickname)]
    if renamed:
        keep = {name: sa.func.coalesce(sa.func.nullif(sa.bindparam(f"b_{name}"), ""), c[name])
                for name in names}
        db.session.execute(sa.update(table).where(c.id == sa.bindparam("pid")).values(**keep), renamed)
    found = {user_id: row for user_id, row in known.items()}
    if len(known) < len(deltas):
        found.update((row.tiktok_user_id, row) for row in db.session.execute(
            sa.select(*wanted).where(c.account_id == account.id,
                                     c.tiktok_user_id.in_([user_id for user_id in deltas if user_id not in known]))))
    return found


def _profile_update(table: sa.Table) -> Any:
    """A known viewer's share of a batch, by profile id (executemany): the counters move by n."""
    c = table.c

    def new(name: str) -> Any:
        return sa.bindparam(f"b_{name}", type_=c[name].type)

    return sa.update(table).where(c.id == sa.bindparam("pid")).values(
        avatar_url=sa.func.coalesce(new("avatar_url"), c.avatar_url),
        badges=new("badges"),
        fan_level=sa.func.coalesce(new("fan_level"), c.fan_level),
        gifter_level=sa.func.coalesce(new("gifter_level"), c.gifter_level),
        is_tiktok_moderator=new("is_tiktok_moderator"),
        is_subscriber=new("is_subscriber"),
        follows_streamer=sa.or_(c.follows_streamer, new("follows_streamer")),
        follower_count=sa.func.coalesce(new("follower_count"), c.follower_count),
        following_count=sa.func.coalesce(new("following_count"), c.following_count),
        first_seen_at=sa.case((new("first_seen_at") < c.first_seen_at, new("first_seen_at")), else_=c.first_seen_at),
        last_seen_at=sa.case((new("last_seen_at") > c.last_seen_at, new("last_seen_at")), else_=c.last_seen_at),
        total_coins=c.total_coins + new("total_coins"),
        total_gifts=c.total_gifts + new("total_gifts"),
        total_comments=c.total_comments + new("total_comments"),
        total_likes=c.total_likes + new("total_likes"),
        total_shares=c.total_shares + new("total_shares"),
        followed_at=sa.func.coalesce(c.followed_at, new("followed_at")),
        updated_at=sa.bindparam("now", type_=c.updated_at.type),
    )


def _level(value: Any) -> int | None:
    try:
        return int(value) if value is not None and str(value) != "" else None
    except ValueError:
        return None


def _insert_logs(account: TikTokAccount, records: list[EventRecord], ids: dict[int, int]) -> None:
    gifts, interactions = [], []
    likes: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.user is None:
            continue
        viewer_id = ids[record.user.id]
        room = record.room_id or account.room_id
        if counted_gift(record):
            gifts.append({"viewer_id": viewer_id, "account_id": account.id, "room_id": room,
                          "gift_id": record.data["gift_id"], "gift_name": record.data.get("gift_name", "Gift"),
                          "diamond_count": record.data["diamond_count"], "quantity": record.data["repeat_count"],
                          "coins": gift_coins(record), "sent_at": record.time})
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
        statement = upsert(table)
        statement = statement.on_conflict_do_update(
            index_elements=["fold_key"], set_={"count": table.c.count + statement.excluded["count"]}
        )
        db.session.execute(statement, list(likes.values()))


def _apply_heatmap(account: TikTokAccount, records: list[EventRecord], ids: dict[int, int]) -> None:
    buckets: Cells = defaultdict(lambda: [0, 0])
    for record in records:
        if record.user is None or record.kind not in HEATMAP_KINDS:
            continue
        if record.kind == "gift" and not counted_gift(record):
            continue
        weekday, hour = heatmap_bucket(record.time, account.time_zone)
        bucket = buckets[(ids[record.user.id], weekday, hour)]
        bucket[0] += 1
        if record.kind == "gift":
            bucket[1] += gift_coins(record)
    add_heatmap(account.id, buckets)


def _gift_and_follow_notices(account: TikTokAccount, records: list[EventRecord], ids: dict[int, int],
                             profiles: dict[int, Any]) -> list[Notice]:
    notices = []
    for record in records:
        if record.user is None or profiles[record.user.id].is_blocked:
            continue
        name = record.user.handle or str(record.user.id)
        if counted_gift(record):
            coins = gift_coins(record)
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
    """Announce a birthday viewer once per day, remembered in the database (T2). "Today" is the
    day of the viewer's event in the account's zone, so a replay greets on the LIVE's day."""
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
