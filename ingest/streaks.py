"""Gift streaks still going. TikTok sends a tick for every repeat of a streakable gift and a last
message when the streak ends; only the end counts (B5/B6), with its repeat count. A streak whose
end never comes (the LIVE ended, the connection dropped) still happened: at live end, or once no
tick has come for STALE_SECONDS, its last tick's repeat count is counted as one gift. The viewer
exists from the first tick (the rules make every event's viewer a profile)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from extensions import db
from ingest.records import EventRecord
from ingest.tallies import Cells, add_heatmaps
from models import GiftStreak, TikTokAccount, ViewerGift
from services import account_figures
from services.database import execute_rows, time_param
from services.local_time import heatmap_bucket

#: TikTok ends a streak a few seconds after its last repeat; this long without a tick, it is over.
STALE_SECONDS = 300


def track(batches: Iterable[tuple[TikTokAccount, Iterable[EventRecord], dict[int, int]]]) -> None:
    """Remember the streaks these accounts' batches (account, records, tiktok user id -> profile id)
    show going, and forget those whose end they brought, with one statement each for all of them."""
    ended: set[tuple[int, int]] = set()
    going_rows = []
    when = time_param()
    for account, records, ids in batches:
        going: dict[tuple[int, int], EventRecord | None] = {}
        for record in records:  # in time order
            if record.kind != "gift" or record.user is None:
                continue
            key = (ids[record.user.id], record.data["gift_id"])
            if not record.data.get("streaking"):
                ended.add(key)
                going[key] = None  # a tick after this end starts a new streak
            elif going.get(key) is None or record.data["repeat_count"] >= going[key].data["repeat_count"]:
                going[key] = record
        going_rows += [(viewer_id, account.id, record.room_id or account.room_id, gift_id,
                        record.data.get("gift_name", "Gift"), record.data["diamond_count"],
                        record.data["repeat_count"], when(record.time))
                       for (viewer_id, gift_id), record in going.items() if record is not None]
    # The ends first: a tick after an end in the same batch starts a new streak.
    execute_rows("DELETE FROM viewer_gift_streaks WHERE viewer_id = ? AND gift_id = ?", ("int", "int"), sorted(ended))
    execute_rows(
        "INSERT INTO viewer_gift_streaks (viewer_id, account_id, room_id, gift_id, gift_name, diamond_count,"
        " repeat_count, last_tick_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (viewer_id, gift_id) DO UPDATE SET"
        " repeat_count = CASE WHEN excluded.repeat_count > viewer_gift_streaks.repeat_count"
        " THEN excluded.repeat_count ELSE viewer_gift_streaks.repeat_count END,"
        " last_tick_at = excluded.last_tick_at, diamond_count = excluded.diamond_count,"
        " gift_name = excluded.gift_name, room_id = excluded.room_id",
        ("int", "int", "text", "int", "text", "int", "int", "timestamptz"), going_rows)


def count_unfinished(accounts: Mapping[int, TikTokAccount], *conditions: Any) -> dict[int, list[int]]:
    """Count these accounts' streaks still going (those matching `conditions`) as finished gifts at
    their last tick, with one statement each for all of them; returns, by account id, the profile
    ids whose totals moved (the caller re-ranks VIPs)."""
    table = GiftStreak.__table__
    going = db.session.execute(sa.select(table).where(table.c.account_id.in_(list(accounts)), *conditions)).all()
    return _count(accounts, going)


def count_ended_lives(accounts: Mapping[int, TikTokAccount],
                      rooms: Mapping[int, set[str | None]]) -> dict[int, list[int]]:
    """Live end: count the streaks still going in the LIVEs that ended (account id -> their rooms;
    None: every room of the account) as finished gifts at their last tick, with one statement each
    for all of them. Returns, by account id, the profile ids whose totals moved (the caller re-ranks VIPs)."""
    table = GiftStreak.__table__
    going = [streak for streak in db.session.execute(sa.select(table).where(table.c.account_id.in_(list(rooms))))
             if None in rooms[streak.account_id] or streak.room_id in rooms[streak.account_id]]
    return _count(accounts, going)


def _count(accounts: Mapping[int, TikTokAccount], going: Sequence[Any]) -> dict[int, list[int]]:
    """Count these streak rows (of these accounts) as finished gifts and forget them."""
    if not going:
        return {}
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    cells: dict[int, Cells] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    coins_by_account: dict[int, int] = defaultdict(int)
    moved: dict[int, set[int]] = defaultdict(set)
    for streak in going:
        coins = streak.diamond_count * streak.repeat_count
        totals[streak.viewer_id][0] += coins
        totals[streak.viewer_id][1] += streak.repeat_count
        cell = cells[streak.account_id][
            (streak.viewer_id, *heatmap_bucket(streak.last_tick_at, accounts[streak.account_id].time_zone))]
        cell[0] += 1
        cell[1] += coins
        coins_by_account[streak.account_id] += coins
        moved[streak.account_id].add(streak.viewer_id)
    db.session.execute(sa.insert(ViewerGift.__table__), [
        {"viewer_id": streak.viewer_id, "account_id": streak.account_id, "room_id": streak.room_id,
         "gift_id": streak.gift_id, "gift_name": streak.gift_name, "diamond_count": streak.diamond_count,
         "quantity": streak.repeat_count, "coins": streak.diamond_count * streak.repeat_count,
         "sent_at": streak.last_tick_at} for streak in going])
    execute_rows("UPDATE viewer_profiles SET total_coins = total_coins + ?, total_gifts = total_gifts + ? WHERE id = ?",
                 ("int", "int", "int"), [(coins, gifts, viewer_id) for viewer_id, (coins, gifts) in totals.items()])
    add_heatmaps(cells)
    account_figures.add_many({account_id: {"total_coins": coins} for account_id, coins in coins_by_account.items()})
    execute_rows("DELETE FROM viewer_gift_streaks WHERE id = ?", ("int",), [(streak.id,) for streak in going])
    return {account_id: sorted(viewer_ids) for account_id, viewer_ids in moved.items()}
