"""Session rules: a session runs from a viewer's first event in a LIVE (room) to their last
activity, and ends after the account's `session_timeout` without any, or at live end. At most one
session per viewer is open. Watchtime is `last activity - start`, credited once (`credited_seconds`):
by the batch that moves the last activity, or by the sweep, a LIVE's end or the start-up repair.
A visit is one LIVE: a new session in the room of the viewer's last visit is not a new visit (B1, B2).

`walk` and `write_walks` run inside a batch's transaction (the rules add each walk's visits and
watchtime to the viewer's profile); `sweep`, `close_lives` and `repair_open_sessions`
run outside batches (the writer's sweeper, live end, start-up repair).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from extensions import db
from ingest import streaks
from models import GiftStreak, IngestedMessage, TikTokAccount, ViewerInteraction, ViewerSession
from services import account_figures
from services.clock import SYSTEM_CLOCK, Clock
from services.database import driver_sql, execute_rows, id_chunks, ids_in_sql, time_param, time_result
from services.notices import Notice
from services.tiktok import hold_accounts
from services.vip import reevaluate_vips

SEEN_MESSAGE_DAYS = 2


def seconds_between(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


@dataclass
class _Session:
    id: int | None
    room_id: str
    started: datetime
    last: datetime
    credited: int

    @property
    def duration(self) -> int:
        return seconds_between(self.started, self.last)


@dataclass
class Walk:
    """One viewer's sessions after a batch's activity: what closed, what is open, and the visits and
    watchtime to add to the profile (with the room of the last visit)."""

    closed: list[_Session] = field(default_factory=list)
    open: _Session | None = None
    visits: int = 0
    watch: int = 0
    room: str | None = None


def walk(session: _Session | None, activity: Iterable[tuple[datetime, str]], visited_room: str | None,
         timeout: timedelta) -> Walk:
    """Follow one viewer's activity (time, room) in time order from their open session, if any."""
    result = Walk(room=visited_room)
    for moment, room in sorted(activity):
        if session is not None and room == session.room_id and moment - session.last <= timeout:
            session.last = max(session.last, moment)
            continue
        if session is not None:
            result.watch += session.duration - session.credited
            session.credited = session.duration
            result.closed.append(session)
        session = _Session(None, room, moment, moment, 0)
        if room != result.room:
            result.visits += 1
            result.room = room
    if session is not None:
        # The open session's watchtime so far goes into the profile update the batch makes anyway,
        # so a LIVE's end or the sweep has nothing left to credit for a viewer active since.
        result.watch += session.duration - session.credited
        session.credited = session.duration
    result.open = session
    return result


def open_sessions(viewer_ids: list[int]) -> dict[int, _Session]:
    """The open session of each of these viewers (profile ids) that has one."""
    found: dict[int, _Session] = {}
    read = time_result()
    for part in id_chunks(viewer_ids):
        condition, params = ids_in_sql("open_viewer_id", part)
        # Only our own SQL and parameter marks go into the text.
        sql = ("SELECT id, viewer_id, room_id, started_at, last_activity_at, credited_seconds"  # noqa: S608
               f" FROM viewer_sessions WHERE {condition}")
        for row in db.session.connection().exec_driver_sql(driver_sql(sql), params):
            found[row[1]] = _Session(row[0], row[2], read(row[3]), read(row[4]), row[5])
    return found


def write_walks(batches: Iterable[tuple[TikTokAccount, dict[int, Walk]]], vips: set[int]) -> None:
    """Open, extend and close the sessions these accounts' walks (profile id -> walk) found, with
    one statement each for all of them; `vips` are the walks' viewers who hold a VIP tier now. The
    rules add each walk's visits and watchtime to its profile in the same statement as the rest of
    the viewer's batch, and its watchtime to the account's figures."""
    when = time_param()
    closed, touched, inserts = [], [], []
    for account, walks in batches:
        for viewer_id, result in walks.items():
            for session in result.closed:
                if session.id is None:
                    inserts.append(_session_row(account, viewer_id, session, ended=True, when=when))
                else:
                    closed.append((when(session.last), session.credited, when(session.last), session.id))
            if result.open is not None and result.open.id is None:
                inserts.append(_session_row(account, viewer_id, result.open, ended=False, when=when))
            elif result.open is not None:
                touched.append((when(result.open.last), result.open.credited, result.open.id))
    execute_rows("UPDATE viewer_sessions SET ended_at = ?, credited_seconds = ?, last_activity_at = ?,"
                 " open_viewer_id = NULL WHERE id = ?", ("timestamptz", "int", "timestamptz", "int"), closed)
    execute_rows("UPDATE viewer_sessions SET last_activity_at = ?, credited_seconds = ? WHERE id = ?",
                 ("timestamptz", "int", "int"), touched)
    # A session carries its viewer's VIP status (services/vip.py keeps it when a tier changes).
    execute_rows("INSERT INTO viewer_sessions (viewer_id, account_id, room_id, live_stream_id, started_at,"
                 " last_activity_at, ended_at, credited_seconds, open_viewer_id, vip)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 ("int", "int", "text", "int", "timestamptz", "timestamptz", "timestamptz", "int", "int", "bool"),
                 [(*row, row[0] in vips) for row in inserts])


def _session_row(account: TikTokAccount, viewer_id: int, session: _Session, *, ended: bool,
                 when: Any) -> tuple[Any, ...]:
    return (viewer_id, account.id, session.room_id, account.live_stream_id, when(session.started),
            when(session.last), when(session.last) if ended else None, session.credited,
            None if ended else viewer_id)


# --- sessions outside batches: sweeper, live end, start-up repair -----------------------------


def _credit_and_close(rows: Sequence[Any], close: bool) -> dict[int, list[int]]:
    """Credit the uncredited watchtime of these open sessions (of any accounts); close them too when
    `close`. One statement each for all of them; returns, by account id, the profile ids whose
    watchtime moved."""
    credits: dict[tuple[int, int], int] = defaultdict(int)
    when = time_param()
    updates = []
    for row in rows:
        duration = seconds_between(row.started_at, row.last_activity_at)
        credits[(row.account_id, row.viewer_id)] += duration - row.credited_seconds
        if close:
            updates.append((duration, when(row.last_activity_at), row.id))
        elif duration != row.credited_seconds:  # most are credited already, by the batch that touched them
            updates.append((duration, row.id))
    if close:
        execute_rows("UPDATE viewer_sessions SET credited_seconds = ?, ended_at = ?, open_viewer_id = NULL"
                     " WHERE id = ?", ("int", "timestamptz", "int"), updates)
    else:
        execute_rows("UPDATE viewer_sessions SET credited_seconds = ? WHERE id = ?", ("int", "int"), updates)
    execute_rows("UPDATE viewer_profiles SET total_watch_seconds = total_watch_seconds + ? WHERE id = ?",
                 ("int", "int"), [(seconds, viewer_id) for (_, viewer_id), seconds in credits.items() if seconds])
    credited: dict[int, list[int]] = defaultdict(list)
    watch: dict[int, dict[str, int]] = defaultdict(lambda: {"total_watch_seconds": 0})
    for (account_id, viewer_id), seconds in credits.items():
        if seconds:
            credited[account_id].append(viewer_id)
            watch[account_id]["total_watch_seconds"] += seconds
    account_figures.add_many(watch)
    return credited


def _open_sessions(account_ids: list[int], *conditions: Any) -> Sequence[Any]:
    return db.session.execute(
        sa.select(ViewerSession.id, ViewerSession.account_id, ViewerSession.viewer_id, ViewerSession.room_id,
                  ViewerSession.started_at, ViewerSession.last_activity_at, ViewerSession.credited_seconds)
        .where(ViewerSession.account_id.in_(account_ids), ViewerSession.open_viewer_id.is_not(None), *conditions)
    ).all()


def close_lives(rooms: Mapping[int, set[str | None]]) -> dict[int, list[int]]:
    """Live end of the LIVEs that ended (account id -> their rooms; None: every room of the
    account): their open sessions close at their viewers' last activity, with one statement each
    for all of them (the caller commits). Returns, by account id, the profile ids whose watchtime moved."""
    return _credit_and_close([row for row in _open_sessions(list(rooms))
                              if None in rooms[row.account_id] or row.room_id in rooms[row.account_id]], True)


def sweep(account_ids: Sequence[int], clock: Clock = SYSTEM_CLOCK, retention_days: int = 90) -> dict[int, list[Notice]]:
    """For these accounts (about every 60 s): close the sessions idle past each account's timeout,
    credit any watchtime a batch has not (a session an older version left open), count streaks
    whose end never came, forget old message ids and interactions; one statement a table for all
    the accounts (swept one at a time, 200 LIVEs cost the writer about 8 round trips each a minute,
    20 to 80 ms of its time each on PostgreSQL). Committed; returns the notices by account id."""
    now = clock.now()
    # It may write a viewer's rows (a streak's gift and heatmap cell), as the writer does.
    accounts = hold_accounts(list(account_ids))
    if not accounts:
        db.session.commit()
        return {}
    ids = list(accounts)
    idle, active = [], []
    for row in _open_sessions(ids):
        timeout = timedelta(seconds=accounts[row.account_id].session_timeout)
        (idle if row.last_activity_at < now - timeout else active).append(row)
    stale = GiftStreak.last_tick_at < now - timedelta(seconds=streaks.STALE_SECONDS)
    credited: dict[int, set[int]] = defaultdict(set)
    for moved in (_credit_and_close(idle, True), _credit_and_close(active, False),
                  streaks.count_unfinished(accounts, stale)):
        for account_id, viewer_ids in moved.items():
            credited[account_id].update(viewer_ids)
    notices = reevaluate_vips([(accounts[account_id], viewer_ids) for account_id, viewer_ids in credited.items()], now)
    db.session.execute(sa.delete(IngestedMessage).where(
        IngestedMessage.account_id.in_(ids), IngestedMessage.seen_at < now - timedelta(days=SEEN_MESSAGE_DAYS)))
    db.session.execute(sa.delete(ViewerInteraction).where(
        ViewerInteraction.account_id.in_(ids), ViewerInteraction.occurred_at < now - timedelta(days=retention_days)))
    db.session.commit()
    return notices


def repair_open_sessions(account_ids: Iterable[int], clock: Clock = SYSTEM_CLOCK, commit: bool = True) -> int:
    """Start-up repair: sessions a crashed process left open on these accounts are closed at their
    last activity, with one statement each for all of them (committed, unless the caller commits:
    the writer repairs the many LIVEs it takes at once together). Returns how many closed."""
    accounts = {account.id: account for account in db.session.scalars(
        sa.select(TikTokAccount).where(TikTokAccount.id.in_(list(account_ids))))}
    if not accounts:
        return 0
    rows = _open_sessions(list(accounts))
    credited = _credit_and_close(rows, True)
    reevaluate_vips([(accounts[account_id], viewer_ids) for account_id, viewer_ids in credited.items()], clock.now())
    if commit:
        db.session.commit()
    return len(rows)
