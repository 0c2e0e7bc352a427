"""The whole-account figures over an account's viewer profiles, kept on the account row so that no
page counts a million profiles to print them: how many profiles, their coins, their watchtime and
how many are VIPs. The status card, the viewer table's unfiltered count and the overview read them.

The rule is written here once. `recounted` says what each figure is over the profiles (a fresh
count: what `recount` stores after profiles were written in bulk, and what the tests compare with);
`share` says what one profile adds to them, and `vip_change` what a change of tier does. Every
path that changes them moves them with `add`, in its own transaction: the ingest writer's batch
(new viewers, coins, watchtime), the sweeper and live end (watchtime, coins of unfinished
streaks), VIP re-ranking, the profile editor and the tiers editor (VIPs), and a viewer's delete.
"Active in the last 30 days" depends on the clock, so it is not kept as one number: the profiles
per hour of their last visit are (`LastSeenHour`), moved by the writer's batch (a new viewer, a
known one seen in a later hour) and a viewer's delete, and `active_since` sums the hours after the
cut-off and counts the cut-off's own hour on the last-seen index (an hour's worth of entries).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from extensions import db
from models import LastSeenHour, TikTokAccount, ViewerProfile
from services.database import execute_rows

FIGURES = ("total_viewers", "total_coins", "total_watch_seconds", "vip_viewers")

#: A VIP is a profile with a tier (set by hand or by the automatic ranking).
IS_VIP = ViewerProfile.vip_tier_id.is_not(None)


def vip_change(old_tier_id: int | None, new_tier_id: int | None) -> int:
    """How the VIP count moves when a profile's tier goes from `old_tier_id` to `new_tier_id`."""
    return (new_tier_id is not None) - (old_tier_id is not None)


def share(profile: Any) -> dict[str, int]:
    """What one profile (anything with its counters and tier) adds to the account's figures."""
    return {"total_viewers": 1, "total_coins": profile.total_coins,
            "total_watch_seconds": profile.total_watch_seconds, "vip_viewers": vip_change(None, profile.vip_tier_id)}


def add(account_id: int, **changes: int) -> None:
    """Move the account's figures by these amounts (names from FIGURES) in the caller's transaction."""
    add_many({account_id: changes})


_ADD_FIGURES = ("UPDATE tiktok_accounts SET "  # noqa: S608 - our own column names
                + ", ".join(f"{name} = {name} + ?" for name in FIGURES) + " WHERE id = ?")


def add_many(changes: Mapping[int, Mapping[str, int]]) -> None:
    """`add` for several accounts (account id -> its changes) in one set-based statement (the
    writer's batch of many LIVEs), the accounts in id order so that two writers lock them alike."""
    rows = []
    for account_id, moves in sorted(changes.items()):
        unknown = set(moves) - set(FIGURES)
        if unknown:
            raise ValueError(f"not an account figure: {sorted(unknown)}")
        if any(moves.values()):
            rows.append((*(moves.get(name, 0) for name in FIGURES), account_id))
    execute_rows(_ADD_FIGURES, ("bigint",) * len(FIGURES) + ("int",), rows)


def _recounts(account_id: int) -> dict[str, Any]:
    mine = ViewerProfile.account_id == account_id
    return {
        "total_viewers": sa.select(sa.func.count()).where(mine),
        "total_coins": sa.select(sa.func.coalesce(sa.func.sum(ViewerProfile.total_coins), 0)).where(mine),
        "total_watch_seconds": sa.select(sa.func.coalesce(sa.func.sum(ViewerProfile.total_watch_seconds), 0))
        .where(mine),
        "vip_viewers": sa.select(sa.func.count()).where(mine, IS_VIP),
    }


def recounted(account_id: int) -> dict[str, int]:
    """The figures counted afresh over the account's profiles (a pass over all of them)."""
    row = db.session.execute(sa.select(*(query.scalar_subquery().label(name)
                                         for name, query in _recounts(account_id).items()))).one()
    return {name: int(row._mapping[name]) for name in FIGURES}


def stored(account_id: int) -> dict[str, int]:
    """The figures as kept on the account row."""
    table = TikTokAccount.__table__
    row = db.session.execute(sa.select(*(table.c[name] for name in FIGURES)).where(table.c.id == account_id)).one()
    return {name: int(row._mapping[name]) for name in FIGURES}


def recount(account_id: int) -> None:
    """Set the account's figures from its profiles, after profiles were written in bulk rather than
    by the writer (the demo's and the benchmark's seeds). The caller commits."""
    table = TikTokAccount.__table__
    db.session.execute(sa.update(table).where(table.c.id == account_id).values(
        {name: query.scalar_subquery() for name, query in _recounts(account_id).items()}))
    db.session.execute(sa.delete(LastSeenHour).where(LastSeenHour.account_id == account_id))
    move_last_seen(account_id, recounted_last_seen(account_id))


# --- profiles per hour of their last visit ---------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The hour (since the Unix epoch, UTC) of `viewer_profiles.last_seen_at` in each backend's SQL, for
#: plain statements (the writer reads it with each known profile) and the recount. SQLite stores
#: the time as naive UTC text; its date functions round to the millisecond (23:59:59.9999 would
#: be the next hour), so only the whole seconds are given to them.
LAST_SEEN_HOUR_SQL = {
    "sqlite": "CAST(strftime('%s', substr(last_seen_at, 1, 19)) AS INTEGER) / 3600",
    "postgresql": "CAST(floor(extract(epoch FROM last_seen_at) / 3600) AS BIGINT)",
}


def hour_of(moment: datetime) -> int:
    """The hour `moment` falls in, counted from the Unix epoch (UTC)."""
    return (moment - _EPOCH) // timedelta(hours=1)


def last_seen_hour_sql() -> str:
    return LAST_SEEN_HOUR_SQL[db.session.get_bind().dialect.name]


def last_seen_moves(moves: Iterable[tuple[int | None, int | None]]) -> dict[int, int]:
    """What profiles moving from one last-seen hour to another (None: not there before / any more)
    do to the hour counts: hour -> change, hours that do not change left out."""
    changes: dict[int, int] = {}
    for old, new in moves:
        if old == new:
            continue
        if old is not None:
            changes[old] = changes.get(old, 0) - 1
        if new is not None:
            changes[new] = changes.get(new, 0) + 1
    return {hour: change for hour, change in changes.items() if change}


def move_last_seen(account_id: int, changes: Mapping[int, int]) -> None:
    """Move the account's profiles-per-hour counts by `changes` (from `last_seen_moves`), in the
    caller's transaction."""
    move_last_seen_many({account_id: changes})


def move_last_seen_many(changes: Mapping[int, Mapping[int, int]]) -> None:
    """`move_last_seen` for several accounts (account id -> its changes) in one statement."""
    rows = sorted((account_id, hour, change)
                  for account_id, moves in changes.items() for hour, change in moves.items() if change)
    execute_rows("INSERT INTO viewer_last_seen_hours (account_id, hour, viewers) VALUES (?, ?, ?) ON CONFLICT"
                 " (account_id, hour) DO UPDATE SET viewers = viewer_last_seen_hours.viewers + excluded.viewers",
                 ("int", "bigint", "bigint"), rows)


def active_since(account_id: int, since: datetime) -> int:
    """How many of the account's profiles were last seen at or after `since`: the kept counts of
    the hours after since's hour, and since's own hour from the last-seen index."""
    hour = hour_of(since)
    hour_end = _EPOCH + timedelta(hours=hour + 1)
    kept = sa.select(sa.func.coalesce(sa.func.sum(LastSeenHour.viewers), 0)).where(
        LastSeenHour.account_id == account_id, LastSeenHour.hour > hour)
    edge = sa.select(sa.func.count()).select_from(ViewerProfile).where(
        ViewerProfile.account_id == account_id, ViewerProfile.last_seen_at >= since,
        ViewerProfile.last_seen_at < hour_end)
    return int(db.session.scalar(sa.select(kept.scalar_subquery() + edge.scalar_subquery())) or 0)


def recounted_last_seen(account_id: int) -> dict[int, int]:
    """Profiles per last-seen hour counted afresh (a pass over all of the account's profiles)."""
    rows = db.session.execute(sa.text(
        f"SELECT {last_seen_hour_sql()} AS hour, count(*) FROM viewer_profiles "  # noqa: S608 - our own SQL
        "WHERE account_id = :account_id GROUP BY 1"), {"account_id": account_id})
    return {int(hour): int(viewers) for hour, viewers in rows}


def stored_last_seen(account_id: int) -> dict[int, int]:
    """The kept profiles-per-hour counts (hours at zero left out)."""
    return {hour: viewers for hour, viewers in db.session.execute(
        sa.select(LastSeenHour.hour, LastSeenHour.viewers).where(LastSeenHour.account_id == account_id,
                                                                  LastSeenHour.viewers != 0))}
