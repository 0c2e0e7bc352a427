"""Counters more than one rule adds to: the heatmap's cells and the account's totals."""

from __future__ import annotations

import sqlalchemy as sa

from extensions import db
from models import TikTokAccount, ViewerActivity
from services.database import upsert

#: (viewer id, weekday, hour) -> [hits, coins]
Cells = dict[tuple[int, int, int], list[int]]


def add_heatmap(account_id: int, cells: Cells) -> None:
    """Add hits and coins to these heatmap cells, one upsert row per cell."""
    if not cells:
        return
    table = ViewerActivity.__table__
    statement = upsert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["viewer_id", "weekday", "hour"],
        set_={"hits": table.c.hits + statement.excluded.hits, "coins": table.c.coins + statement.excluded.coins},
    )
    rows = [{"viewer_id": viewer_id, "account_id": account_id, "weekday": weekday, "hour": hour,
             "hits": hits, "coins": coins} for (viewer_id, weekday, hour), (hits, coins) in cells.items()]
    db.session.execute(statement, rows)


def add_account_totals(account_id: int, viewers: int = 0, coins: int = 0) -> None:
    """Move the status card's totals (kept on the account row, so a push never counts profiles)."""
    if viewers or coins:
        db.session.execute(sa.update(TikTokAccount.__table__).where(TikTokAccount.__table__.c.id == account_id)
                           .values(total_viewers=TikTokAccount.__table__.c.total_viewers + viewers,
                                   total_coins=TikTokAccount.__table__.c.total_coins + coins))
