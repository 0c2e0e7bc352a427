"""The batch rules: applying a batch of event records, of one account or of many, in one
transaction. The writer greenlet, the replay command, the benchmark and the tests all call
`apply_batches` (or `apply_batch` for one account).

Counters only ever move by `col = col + n` inside an upsert or an update; a message id already
applied is skipped (a reconnect replays recent history). Each account's share is first folded in
Python into one change per viewer (and per heatmap cell, per like-minute), with the account's own
zone, session timeout and tiers; then every table is written with one set-based statement for all
the accounts. Dependencies point one way: ingest -> services -> models; services never import ingest.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from extensions import db
from ingest import sessions, streaks
from ingest.records import EventRecord, MalformedEvent, Viewer, check
from ingest.tallies import Cells, add_heatmaps
from models import (
    TikTokAccount,
    TikTokLinkCode,
    ViewerProfile,
)
from services import account_figures, claims
from services.clock import SYSTEM_CLOCK, Clock
from services.database import array_literal, execute_rows, execute_rows_ahead, pipelined_writes, time_param
from services.live import live_shows_for_tiktok_accounts
from services.local_time import age_on, heatmap_bucket, is_birthday_today, local_time
from services.notices import Notice
from services.tiktok import fold, hold_accounts
from services.vip import Standing, rank, reevaluate_vips

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


#: The claim of message ids: the rows it returns are the ids new to their account.
_CLAIM = ("INSERT INTO ingest_messages (account_id, message_id, seen_at) VALUES (?, ?, ?)"
          " ON CONFLICT (account_id, message_id) DO NOTHING RETURNING account_id, message_id",
          ("int", "text", "timestamptz"))


def _unique(batches: dict[int, list[EventRecord]]) -> dict[int, dict[str, EventRecord]]:
    """Each account's records by message id (the first of a repeated id)."""
    unique: dict[int, dict[str, EventRecord]] = {}
    for account_id, records in batches.items():
        by_id = unique[account_id] = {}
        for record in records:
            by_id.setdefault(record.message_id, record)
    return unique


def _fresh(unique: dict[int, dict[str, EventRecord]], claimed: list[Any]) -> dict[int, list[EventRecord]]:
    """Each account's records whose message id the claim gave it (the ids it had not applied yet)."""
    if len(claimed) == sum(map(len, unique.values())):  # every id was new: the usual case
        return {account_id: list(by_id.values()) for account_id, by_id in unique.items()}
    keys = {(row[0], row[1]) for row in claimed}
    return {account_id: [record for message_id, record in by_id.items() if (account_id, message_id) in keys]
            for account_id, by_id in unique.items()}


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
    return apply_batches({account_id: list(records)}, clock)[account_id]


def apply_batches(batches: dict[int, list[EventRecord]], clock: Clock = SYSTEM_CLOCK) -> dict[int, BatchResult]:
    """Apply several accounts' batches (account id -> its events) in one transaction with one
    commit, as the writer does with a batch of many LIVEs: each table gets one statement for all
    the accounts, so a batch of 200 LIVEs costs about what one LIVE's does. If any account's part
    fails, nothing is applied and the error is raised (the writer then applies each account alone)."""
    now = clock.now()
    results = {account_id: BatchResult() for account_id in batches}
    try:
        fresh = _apply_accounts(batches, now, results)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    for account_id, result in results.items():
        result.chat = [record for record in fresh.get(account_id, [])
                       if record.kind == "comment" or counted_gift(record)]
    claims.claim_from_chats(fresh)  # "sold" typed on TikTok: holds in shoppers' carts
    return results


@dataclass
class _Share:
    """One account's share of a batch, as the rules fold it: its new records (expanded, in time
    order), one change per viewer, the LIVEs it ended; then the viewers' profiles as they were
    before the batch (tiktok user id -> _Profile) and their walks (profile id -> walk)."""

    account: TikTokAccount
    records: list[EventRecord]
    result: BatchResult
    deltas: dict[int, _ViewerDelta] = field(default_factory=dict)
    ended_rooms: list[str | None] = field(default_factory=list)
    profiles: dict[int, _Profile] = field(default_factory=dict)
    walks: dict[int, sessions.Walk] = field(default_factory=dict)
    #: tiktok user id -> profile id
    ids: dict[int, int] = field(default_factory=dict)


def _apply_accounts(batches: dict[int, list[EventRecord]], now: datetime,
                    results: dict[int, BatchResult]) -> dict[int, list[EventRecord]]:
    """The accounts' shares of a batch, in the caller's transaction; returns each account's records
    new to it, in time order."""
    valid = {account_id: _valid(records, results[account_id]) for account_id, records in batches.items()}
    # Message ids and a viewer's rows have no foreign key (models.tiktok.VIEWER_ROWS): deleting a
    # viewer or an account waits for this lock, and then deletes what the batch wrote too.
    accounts = hold_accounts(list(batches))
    unique = _unique({account_id: records for account_id, records in valid.items() if account_id in accounts})
    rooms = {account_id: accounts[account_id].room_id for account_id in unique}
    stamp = time_param()(now)
    with execute_rows_ahead(*_CLAIM, [(account_id, message_id, stamp) for account_id, by_id in unique.items()
                                      for message_id in by_id]) as claim:
        # While the server claims the message ids (one statement for all the accounts), the batch is
        # folded as if every one were new: a message applied before is rare (a reconnect replays
        # recent history), and an account that had one is folded again without it.
        folded = {account_id: _fold_records(list(by_id.values()), rooms[account_id])
                  for account_id, by_id in unique.items()}
    fresh = _fresh(unique, claim.rows)
    shares = []
    for account_id, records in fresh.items():
        result = results[account_id]
        result.duplicates = len(valid[account_id]) - len(records)
        result.applied = len(records)
        if len(records) < len(unique[account_id]):
            folded[account_id] = _fold_records(records, rooms[account_id])
        fresh[account_id] = folded[account_id].records
        shares.append(_Share(accounts[account_id], folded[account_id].expanded, result, folded[account_id].deltas))
    # A LIVE that starts points its sessions at the show live on the site with its account linked.
    starting = [share.account.id for share in shares if any(
        record.kind == "live_start" and record.room_id for record in share.records)]
    shows = live_shows_for_tiktok_accounts(starting) if starting else {}
    for share in shares:
        _apply_room_events(share, now, shows)
    _apply_viewers([share for share in shares if share.deltas], now)
    _end_lives(shares, now)
    return fresh


def _end_lives(shares: list[_Share], now: datetime) -> None:
    """The LIVEs the shares ended are over: their streaks whose end never came count their last
    tick, their sessions close at their viewers' last activity (not those of a LIVE started since),
    and the viewers whose coins or watchtime moved are re-ranked; one statement each for all the
    LIVEs, which on a platform often end together."""
    rooms = {share.account.id: set(share.ended_rooms) for share in shares if share.ended_rooms}
    if not rooms:
        return
    accounts = {share.account.id: share.account for share in shares}
    moved: dict[int, set[int]] = defaultdict(set)
    for credited in (streaks.count_ended_lives(accounts, rooms), sessions.close_lives(rooms)):
        for account_id, viewer_ids in credited.items():
            moved[account_id].update(viewer_ids)
    promoted = reevaluate_vips([(share.account, moved[share.account.id]) for share in shares
                                if share.account.id in moved], now)
    for share in shares:
        share.result.notices.extend(promoted.get(share.account.id, []))


def _apply_room_event(account: TikTokAccount, record: EventRecord, now: datetime, result: BatchResult,
                      shows: dict[int, int]) -> None:
    """What a LIVE-level event (start, viewer count) changes on the account; `shows` are the shows
    live on the site, by the account linked to them."""
    if record.kind == "live_start" and record.room_id:
        if account.room_id != record.room_id or account.status != "live":
            account.room_id = record.room_id
            # A live show on the site linked to this account: the LIVE's sessions point at it.
            account.live_stream_id = shows.get(account.id)
            account.status, account.last_error, account.status_changed_at = "live", None, now
            result.account_changed = True
    elif record.kind == "viewers":
        account.viewer_count = int(record.data.get("total", 0))
        result.account_changed = True
    elif record.kind == "live_end":
        account.status, account.status_changed_at, account.viewer_count = "offline", now, 0
        result.account_changed = True


@dataclass
class _Folded:
    """An account's new records in time order, the same expanded (`_expand`), and their change per viewer."""

    records: list[EventRecord]
    expanded: list[EventRecord]
    deltas: dict[int, _ViewerDelta]


def _fold_records(records: list[EventRecord], room: str | None) -> _Folded:
    """Fold an account's records into one change per viewer; `room` is the account's LIVE before
    them (a LIVE that starts among them moves it)."""
    ordered = sorted(records, key=lambda record: record.time)
    expanded = [item for record in ordered for item in _expand(record)]
    deltas: dict[int, _ViewerDelta] = {}
    for record in expanded:  # in time order: a LIVE that ends and the next that starts, in turn
        if record.user is None:
            if record.kind == "live_start" and record.room_id:
                room = record.room_id
            continue
        delta = deltas.get(record.user.id)
        if delta is None:
            delta = deltas[record.user.id] = _ViewerDelta(record.user, record.time, record.time)
        delta.add(record, record.room_id or room or "unknown")
    return _Folded(ordered, expanded, deltas)


def _apply_room_events(share: _Share, now: datetime, shows: dict[int, int]) -> None:
    """Apply the share's LIVE-level events to the account, in time order, and note the LIVEs they end."""
    for record in share.records:
        if record.user is None:
            if record.kind == "live_end":
                share.ended_rooms.append(record.room_id or share.account.room_id)
            _apply_room_event(share.account, record, now, share.result, shows)


def _apply_viewers(shares: list[_Share], now: datetime) -> None:
    """The viewers' part of the shares: each table written once for all the accounts."""
    if not shares:
        return
    updates, renames = _upsert_profiles(shares, now)
    # Nothing below needs these writes' answers until the commit: on PostgreSQL the server runs each
    # while the next is built, the profiles' rows (the dearest statement) first.
    with pipelined_writes():
        execute_rows(*_KNOWN_VIEWER_UPDATE, updates)
        execute_rows(*_RENAMED_VIEWER_UPDATE, renames)
        _write_viewer_rows(shares)
        # While the server runs those writes: what needs nothing from the database.
        for share in shares:
            share.result.notices.extend(_gift_and_follow_notices(share.account, share.records, share.ids,
                                                                 share.profiles))
        codes = {share.account.id: _typed_codes(share.records) for share in shares}
    for share in shares:
        share.result.notices.extend(_link_codes(share.account, codes[share.account.id], share.ids))
    promoted = rank([(share.account, _moved_standings(share)) for share in shares], now)
    for share in shares:
        share.result.notices.extend(promoted.get(share.account.id, []))
        share.result.notices.extend(_birthdays(share.account, share.deltas, share.profiles))


def _moved_standings(share: _Share) -> list[Standing]:
    """The share's viewers whose coins, watchtime or visits moved (a tier depends on these three
    only: a viewer whose three did not move keeps it), with their figures as this batch wrote them:
    the profile as it was plus the batch's share (the account's lease keeps other writers out)."""
    standings = []
    for user_id, delta in share.deltas.items():
        profile = share.profiles[user_id]
        walk = share.walks[profile.id]
        if delta.coins or walk.visits or walk.watch:
            standings.append(Standing(share.account.id, profile.id, profile.total_coins + delta.coins,
                                      profile.total_watch_seconds + walk.watch, profile.total_visits + walk.visits,
                                      profile.vip_tier_id, profile.vip_source, profile.is_blocked,
                                      delta.user.handle or profile.handle))
    return standings


def _write_viewer_rows(shares: list[_Share]) -> None:
    """The shares' account figures, sessions, logs, streaks and heatmap cells (writes only), and a
    notice for each new viewer."""
    figures, hours = {}, {}
    for share in shares:
        profiles, deltas, walks = share.profiles, share.deltas, share.walks
        # Every viewer gets its visit in its first batch, so no visit yet means new.
        new = [user_id for user_id, row in profiles.items() if row.total_visits == 0]
        for user_id in new:
            if not profiles[user_id].is_blocked:
                handle = deltas[user_id].user.handle or str(user_id)
                share.result.notices.append(Notice("new_viewer", f"New viewer: @{handle}", share.ids[user_id]))
        figures[share.account.id] = {"total_viewers": len(new),
                                     "total_coins": sum(delta.coins for delta in deltas.values()),
                                     "total_watch_seconds": sum(walk.watch for walk in walks.values())}
        # Each profile's last visit is the later of its own and the batch's last event (_PROFILE_UPDATE).
        hours[share.account.id] = account_figures.last_seen_moves(
            (row.last_seen_hour, _later(row.last_seen_hour, account_figures.hour_of(deltas[user_id].last)))
            for user_id, row in profiles.items())
    account_figures.add_many(figures)
    account_figures.move_last_seen_many(hours)
    sessions.write_walks([(share.account, share.walks) for share in shares],
                         {row.id for share in shares for row in share.profiles.values() if row.vip_tier_id is not None})
    _insert_logs(shares)
    streaks.track([(share.account, share.records, share.ids) for share in shares])
    _apply_heatmap(shares)


def _later(hour: int | None, other: int) -> int:
    return other if hour is None else max(hour, other)


def _profile_row(user_id: int, delta: _ViewerDelta) -> dict[str, Any]:
    user = delta.user
    scenes = {str(badge.get("scene", "")).upper(): badge.get("level") for badge in user.badges}
    return {
        "tiktok_user_id": user_id,
        "handle": user.handle, "nickname": user.nickname,
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


class _Profile(NamedTuple):
    """What the rules need of a viewer's profile as it was before the batch."""

    id: int
    tiktok_user_id: int
    total_visits: int
    last_visit_room_id: str | None
    is_blocked: bool
    handle: str
    nickname: str
    #: The hour of its last visit (account_figures.hour_of); None for a profile this batch inserted.
    last_seen_hour: int | None
    birthday_month: int | None = None
    birthday_day: int | None = None
    birthday_year: int | None = None
    #: As the driver gives it (a date, or ISO text on SQLite).
    birthday_greeted_on: Any = None
    #: Its VIP tier before the batch's re-ranking (None for a new viewer); its new sessions carry it.
    vip_tier_id: int | None = None
    #: Who set that tier (vip.Standing), and the two figures besides visits that decide it.
    vip_source: str | None = None
    total_coins: int = 0
    total_watch_seconds: int = 0


def _select_profiles(wanted: dict[int, list[int]]) -> dict[int, dict[int, _Profile]]:
    """The profiles of these accounts' viewers (account id -> tiktok user ids), by account and
    tiktok user id: one statement for many accounts (on SQLite a UNION ALL of each account's indexed
    lookup)."""
    found: dict[int, dict[int, _Profile]] = {account_id: {} for account_id in wanted}
    # Only our own SQL (the hour of last_seen_at) and parameter marks go into the text.
    profile = ("id, tiktok_user_id, total_visits, last_visit_room_id, is_blocked, handle, nickname, "
               f"{account_figures.last_seen_hour_sql()}, birthday_month, birthday_day, birthday_year,"
               " birthday_greeted_on, vip_tier_id, vip_source, total_coins, total_watch_seconds")
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # The pairs as two arrays, each looked up in the unique index: one text whatever the batch,
        # so the driver prepares it once. A UNION ALL of each account's lookup was a new text for
        # every batch, and planning it cost the server more than running it. The lookup is a
        # LATERAL with a LIMIT (one profile a pair at most anyway) so that it stays one index probe
        # a pair: as a plain join, a batch of 200 LIVEs' thousand pairs was hashed against a scan
        # of every profile (23 ms against 3 ms on 38,000 profiles).
        pairs = [(account_id, user_id) for account_id, user_ids in wanted.items() for user_id in user_ids]
        if pairs:
            accounts, users = zip(*pairs, strict=True)
            for row in connection.exec_driver_sql(
                    "SELECT wanted.account, profile.* FROM unnest(%s::int[], %s::bigint[])"  # noqa: S608
                    " AS wanted(account, tiktok_user) CROSS JOIN LATERAL"
                    f" (SELECT {profile} FROM viewer_profiles WHERE account_id = wanted.account"
                    " AND tiktok_user_id = wanted.tiktok_user LIMIT 1) AS profile",
                    (array_literal(accounts), array_literal(users))).fetchall():
                found[row[0]][row[2]] = _Profile(*row[1:])
        return found
    parts = [(account_id, user_ids[start:start + 5000]) for account_id, user_ids in wanted.items()
             for start in range(0, len(user_ids), 5000)]
    head = f"SELECT account_id, {profile} FROM viewer_profiles WHERE account_id = ? AND tiktok_user_id IN "  # noqa: S608
    while parts:
        # SQLite allows 500 terms in a compound select and 32,766 parameters in a statement.
        chunk, size = [], 0
        while parts and len(chunk) < 400 and (not chunk or size + len(parts[0][1]) < 10_000):
            chunk.append(parts.pop(0))
            size += len(chunk[-1][1]) + 1
        sql = " UNION ALL ".join(f"{head}({', '.join('?' * len(user_ids))})" for _, user_ids in chunk)
        params = tuple(value for account_id, user_ids in chunk for value in (account_id, *user_ids))
        for row in connection.exec_driver_sql(sql, params).fetchall():
            found[row[0]][row[2]] = _Profile(*row[1:])
    return found


#: A new viewer's profile row: the batch's share (`_profile_row`) and the values a new profile starts with.
_PROFILE_COLUMNS = ("tiktok_user_id", "handle", "handle_folded", "nickname", "nickname_folded", "avatar_url",
                    "badges", "fan_level", "gifter_level", "is_tiktok_moderator", "is_subscriber",
                    "follows_streamer", "follower_count", "following_count", "first_seen_at", "last_seen_at",
                    "total_coins", "total_gifts", "total_comments", "total_likes", "total_shares", "followed_at")
_PROFILE_INSERT = (
    f"INSERT INTO viewer_profiles ({', '.join(_PROFILE_COLUMNS)}, account_id, total_visits, total_watch_seconds,"
    " last_visit_room_id, notes, tags, is_favorite, is_moderator, is_blocked, created_at, updated_at)"
)
_PROFILE_VALUES = (f" VALUES ({', '.join('?' * (len(_PROFILE_COLUMNS) + 11))})"
                   " ON CONFLICT (account_id, tiktok_user_id) DO NOTHING RETURNING id, account_id, tiktok_user_id")
#: Their PostgreSQL types, in order.
_PROFILE_TYPES = ("bigint", "text", "text", "text", "text", "text", "json", "int", "int", "bool", "bool", "bool",
                  "int", "int", "timestamptz", "timestamptz", "int", "int", "int", "int", "int", "timestamptz",
                  "int", "int", "int", "text", "text", "json", "bool", "bool", "bool", "timestamptz", "timestamptz")


def _insert_profiles(rows: list[tuple[int, dict[str, Any], sessions.Walk]],
                     now: datetime) -> dict[tuple[int, int], int]:
    """Insert these new viewers' profiles (account id, row, walk), their first visits included;
    returns (account id, tiktok user id) -> profile id of those inserted (a viewer a racing writer
    inserted first is left out)."""
    when = time_param()
    stamp = when(now)
    times = {"first_seen_at", "last_seen_at", "followed_at"}
    values = [tuple(json.dumps(row[name]) if name == "badges" else when(row[name]) if name in times
                    else fold(row[name[:-7]]) if name.endswith("_folded") else row[name] for name in _PROFILE_COLUMNS)
              + (account_id, walk.visits, walk.watch, walk.room, "", "[]", False, False, False, stamp, stamp)
              for account_id, row, walk in rows]
    return {(row[1], row[2]): row[0] for row in execute_rows(_PROFILE_INSERT + _PROFILE_VALUES, _PROFILE_TYPES, values)}


def _upsert_profiles(shares: list[_Share], now: datetime) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """One row per viewer of the batch, written once, with one statement each for all the accounts:
    profiles read first (one indexed select), the batch's sessions walked, then new viewers inserted
    and known ones updated by id with their counters, visits and watchtime (a viewer a racing
    writer inserted in between is updated too, so both add up); names are written only when they
    changed, so the search index (a trigger on SQLite, the trigram indexes on PostgreSQL) is not
    rewritten for every event. Sets each share's `profiles` (as they were before this batch: what
    the rules need of them), their `ids` and their `walks` (by profile id)."""
    known = _select_profiles({share.account.id: list(share.deltas) for share in shares})
    rows = {share.account.id: {user_id: _profile_row(user_id, delta) for user_id, delta in share.deltas.items()}
            for share in shares}
    timeouts = {share.account.id: timedelta(seconds=share.account.session_timeout) for share in shares}
    new = {share.account.id: {user_id: sessions.walk(None, delta.activity, None, timeouts[share.account.id])
                              for user_id, delta in share.deltas.items() if user_id not in known[share.account.id]}
           for share in shares}
    inserted = _insert_profiles([(account_id, rows[account_id][user_id], walk)
                                 for account_id, walks in new.items() for user_id, walk in walks.items()], now)
    raced = {account_id: [user_id for user_id in walks if (account_id, user_id) not in inserted]
             for account_id, walks in new.items()}
    if any(raced.values()):
        for account_id, profiles in _select_profiles({a: ids for a, ids in raced.items() if ids}).items():
            known[account_id].update(profiles)
    current = sessions.open_sessions([profile.id for profiles in known.values() for profile in profiles.values()])
    when = time_param()
    stamp = when(now)
    updates, renames = [], []
    for share in shares:
        account_id = share.account.id
        share.walks = {profile.id: sessions.walk(current.get(profile.id), share.deltas[user_id].activity,
                                                 profile.last_visit_room_id, timeouts[account_id])
                       for user_id, profile in known[account_id].items()}
        for user_id, profile in known[account_id].items():
            row = rows[account_id][user_id]
            params = _profile_update_params(row, share.walks[profile.id], stamp, when)
            if (row["handle"] and row["handle"] != profile.handle) or \
                    (row["nickname"] and row["nickname"] != profile.nickname):
                renames.append((*params, row["handle"], fold(row["handle"]), row["nickname"], fold(row["nickname"]),
                                profile.id))
            else:
                updates.append((*params, profile.id))
        share.profiles = dict(known[account_id])
        for user_id, walk in new[account_id].items():
            profile_id = inserted.get((account_id, user_id))
            if profile_id is not None:
                row = rows[account_id][user_id]
                share.profiles[user_id] = _Profile(profile_id, user_id, 0, None, False, row["handle"], row["nickname"],
                                                   None)
                share.walks[profile_id] = walk
        share.ids = {user_id: profile.id for user_id, profile in share.profiles.items()}
    return updates, renames


#: A known viewer's share of a batch, by profile id (executemany): the counters move by n. The
#: names are set only for the viewers whose names changed, in a statement of their own, so that
#: neither the search index (a trigger on SQLite) nor the indexes holding a name are rewritten for
#: every event, and a renamed viewer's row is still updated once (on PostgreSQL each update of a
#: row writes a new version of it, with an entry in every one of its indexes).
_PROFILE_UPDATE = (
    "UPDATE viewer_profiles SET avatar_url = coalesce(?, avatar_url), badges = ?,"
    " fan_level = coalesce(?, fan_level), gifter_level = coalesce(?, gifter_level),"
    " is_tiktok_moderator = ?, is_subscriber = ?, follows_streamer = (follows_streamer OR ?),"
    " follower_count = coalesce(?, follower_count), following_count = coalesce(?, following_count),"
    " first_seen_at = CASE WHEN ? < first_seen_at THEN ? ELSE first_seen_at END,"
    " last_seen_at = CASE WHEN ? > last_seen_at THEN ? ELSE last_seen_at END,"
    " total_coins = total_coins + ?, total_gifts = total_gifts + ?, total_comments = total_comments + ?,"
    " total_likes = total_likes + ?, total_shares = total_shares + ?,"
    " followed_at = coalesce(followed_at, ?), total_visits = total_visits + ?,"
    " total_watch_seconds = total_watch_seconds + ?, last_visit_room_id = ?, updated_at = ?"
)
_PROFILE_UPDATE_TYPES = ("text", "json", "int", "int", "bool", "bool", "bool", "int", "int", "timestamptz",
                         "timestamptz", "timestamptz", "timestamptz", "int", "int", "int", "int", "int", "timestamptz",
                         "int", "int", "text", "timestamptz")
_RENAME = (", handle = coalesce(nullif(?, ''), handle), handle_folded = coalesce(nullif(?, ''), handle_folded),"
           " nickname = coalesce(nullif(?, ''), nickname), nickname_folded = coalesce(nullif(?, ''), nickname_folded)")
_RENAME_TYPES = ("text", "text", "text", "text")
#: The statements (and their parameters' types) of a known viewer, and of one whose names changed.
_KNOWN_VIEWER_UPDATE = (_PROFILE_UPDATE + " WHERE id = ?", (*_PROFILE_UPDATE_TYPES, "int"))
_RENAMED_VIEWER_UPDATE = (_PROFILE_UPDATE + _RENAME + " WHERE id = ?", (*_PROFILE_UPDATE_TYPES, *_RENAME_TYPES, "int"))


def _profile_update_params(row: dict[str, Any], walk: sessions.Walk, stamp: Any, when: Any) -> tuple[Any, ...]:
    first, last = when(row["first_seen_at"]), when(row["last_seen_at"])
    return (row["avatar_url"], json.dumps(row["badges"]), row["fan_level"], row["gifter_level"],
            row["is_tiktok_moderator"], row["is_subscriber"], row["follows_streamer"],
            row["follower_count"], row["following_count"], first, first, last, last,
            row["total_coins"], row["total_gifts"], row["total_comments"], row["total_likes"],
            row["total_shares"], when(row["followed_at"]), walk.visits, walk.watch, walk.room, stamp)


def _level(value: Any) -> int | None:
    try:
        return int(value) if value is not None and str(value) != "" else None
    except ValueError:
        return None


def _insert_logs(shares: list[_Share]) -> None:
    """The gift and interaction logs of the shares' events, one statement each for all the accounts."""
    gifts, interactions = [], []
    likes: dict[str, dict[str, Any]] = {}
    when = time_param()
    for share in shares:
        account = share.account
        for record in share.records:
            if record.user is None:
                continue
            viewer_id = share.ids[record.user.id]
            room = record.room_id or account.room_id
            if counted_gift(record):
                gifts.append((viewer_id, account.id, room, record.data["gift_id"],
                              record.data.get("gift_name", "Gift"), record.data["diamond_count"],
                              record.data["repeat_count"], gift_coins(record), when(record.time)))
            elif record.kind in {"comment", "share", "follow"}:
                interactions.append((viewer_id, account.id, record.kind,
                                     record.data.get("text") if record.kind == "comment" else None, room,
                                     when(record.time)))
            elif record.kind == "like":
                minute = record.time.astimezone(UTC).replace(second=0, microsecond=0)
                key = f"{viewer_id}:{minute:%Y%m%d%H%M}"
                row = likes.setdefault(key, {"viewer_id": viewer_id, "account_id": account.id, "count": 0,
                                             "room_id": room, "occurred_at": minute})
                row["count"] += record.data["count"]
    execute_rows("INSERT INTO viewer_gift_history (viewer_id, account_id, room_id, gift_id, gift_name,"
                 " diamond_count, quantity, coins, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 ("int", "int", "text", "int", "text", "int", "int", "int", "timestamptz"), gifts)
    execute_rows("INSERT INTO viewer_interactions (viewer_id, account_id, kind, content, count, room_id,"
                 " occurred_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
                 ("int", "int", "text", "text", "text", "timestamptz"), interactions)
    # B8: likes fold into one row per viewer per minute, so a like storm cannot grow the log.
    execute_rows("INSERT INTO viewer_interactions (viewer_id, account_id, kind, count, room_id, occurred_at,"
                 " fold_key) VALUES (?, ?, 'like', ?, ?, ?, ?)"
                 " ON CONFLICT (fold_key) DO UPDATE SET count = viewer_interactions.count + excluded.count",
                 ("int", "int", "int", "text", "timestamptz", "text"),
                 [(row["viewer_id"], row["account_id"], row["count"], row["room_id"], when(row["occurred_at"]), key)
                  for key, row in likes.items()])


def _apply_heatmap(shares: list[_Share]) -> None:
    """The shares' heatmap hits and coins, one upsert for all the accounts."""
    cells: dict[int, Cells] = {}
    for share in shares:
        buckets: Cells = defaultdict(lambda: [0, 0])
        # The zone's bucket of each second of the batch, worked out once (a zone's offset is whole seconds).
        seconds: dict[datetime, tuple[int, int]] = {}
        for record in share.records:
            if record.user is None or record.kind not in HEATMAP_KINDS:
                continue
            if record.kind == "gift" and not counted_gift(record):
                continue
            second = record.time.replace(microsecond=0)
            cell = seconds.get(second)
            if cell is None:
                cell = seconds[second] = heatmap_bucket(second, share.account.time_zone)
            weekday, hour = cell
            bucket = buckets[(share.ids[record.user.id], weekday, hour)]
            bucket[0] += 1
            if record.kind == "gift":
                bucket[1] += gift_coins(record)
        cells[share.account.id] = buckets
    add_heatmaps(cells)


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


def _typed_codes(records: list[EventRecord]) -> list[tuple[str, EventRecord]]:
    """What could be a one-time code in these comments, with the comment that typed it."""
    candidates = []
    for record in records:
        if record.kind == "comment" and record.user is not None:
            for code in LINK_CODE_PATTERN.findall(str(record.data.get("text", "")).upper()):
                candidates.append((code, record))
    return candidates


def _link_codes(account: TikTokAccount, candidates: list[tuple[str, EventRecord]],
                ids: dict[int, int]) -> list[Notice]:
    """A shopper's one-time code typed in the chat by their own handle (`_typed_codes`) links their profile."""
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


def _birthdays(account: TikTokAccount, deltas: dict[int, _ViewerDelta], profiles: dict[int, _Profile]) -> list[Notice]:
    """Announce a birthday viewer once per day, remembered in the database (T2). "Today" is the
    day of the viewer's event in the account's zone, so a replay greets on the LIVE's day. The
    birthdays are those read with the profiles at the start of the batch (a new viewer has none)."""
    if not account.birthday_notices:
        return []
    notices = []
    for user_id, row in profiles.items():
        if row.birthday_month is None or row.is_blocked:
            continue
        moment = deltas[user_id].last
        if not is_birthday_today(row.birthday_month, row.birthday_day, moment, account.time_zone):
            continue
        today = local_time(moment, account.time_zone).date()
        if str(row.birthday_greeted_on) == today.isoformat():
            continue
        greeted = db.session.execute(sa.update(ViewerProfile).where(
            ViewerProfile.id == row.id,
            sa.or_(ViewerProfile.birthday_greeted_on.is_(None), ViewerProfile.birthday_greeted_on != today),
        ).values(birthday_greeted_on=today))
        if greeted.rowcount != 1:
            continue
        handle = deltas[user_id].user.handle or row.handle
        age = age_on(row.birthday_year, row.birthday_month, row.birthday_day, today)
        text = f"@{handle} turns {age} today" if age is not None else f"It's @{handle}'s birthday today"
        notices.append(Notice("birthday", text, row.id))
    return notices


def set_status(account_id: int, status: str, error: str | None = None, clock: Clock = SYSTEM_CLOCK,
               commit: bool = True) -> bool:
    """Record the account's ingest status (committed, unless the caller commits); True when it changed."""
    return account_id in set_statuses({account_id: (status, error)}, clock, commit=commit)


def set_statuses(statuses: Mapping[int, tuple[str, str | None]], clock: Clock = SYSTEM_CLOCK,
                 commit: bool = True) -> set[int]:
    """Record these accounts' ingest statuses (account id -> status, error) with one statement for
    all of them (committed, unless the caller commits); returns the accounts whose status or error
    changed. A worker taking or losing hundreds of LIVEs at once records hundreds of them: with one
    statement each, every LIVE's events waited for a round trip each (on PostgreSQL, a batch at the
    start of 200 LIVEs sent 267 statements and took 2.4 s; docs/benchmarks.md)."""
    now = time_param()(clock.now())
    rows = []
    for account_id, (status, error) in statuses.items():
        error = error[:1000] if error else None
        rows.append((status, error, now, account_id, status, error or ""))
    changed = {row[0] for row in execute_rows(
        "UPDATE tiktok_accounts SET status = ?, last_error = ?, status_changed_at = ?"
        " WHERE id = ? AND (status <> ? OR coalesce(last_error, '') <> ?) RETURNING id",
        ("text", "text", "timestamptz", "int", "text", "text"), rows)}
    if commit:
        db.session.commit()
    return changed
