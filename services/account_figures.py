"""The whole-account figures over an account's viewer profiles, kept on the account row so that no
page counts a million profiles to print them: how many profiles, their coins, their watchtime and
how many are VIPs. The status card, the viewer table's unfiltered count and the overview read them.

The rule is written here once. `recounted` says what each figure is over the profiles (a fresh
count: what `recount` stores after profiles were written in bulk, and what the tests compare with);
`share` says what one profile adds to them, and `vip_change` what a change of tier does. Every
path that changes them moves them with `add`, in its own transaction: the ingest writer's batch
(new viewers, coins, watchtime), the sweeper and live end (watchtime, coins of unfinished
streaks), VIP re-ranking, the profile editor and the tiers editor (VIPs), and a viewer's delete.
Figures that depend on the current time ("active in the last 30 days") cannot be kept; they are
read from an index range (services/studio.py).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from extensions import db
from models import TikTokAccount, ViewerProfile

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
    moved = {name: change for name, change in changes.items() if change}
    unknown = set(moved) - set(FIGURES)
    if unknown:
        raise ValueError(f"not an account figure: {sorted(unknown)}")
    if moved:
        table = TikTokAccount.__table__
        db.session.execute(sa.update(table).where(table.c.id == account_id)
                           .values({name: table.c[name] + change for name, change in moved.items()}))


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
