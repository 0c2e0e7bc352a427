"""Counters more than one rule adds to: the heatmap's cells (the account's figures: services/account_figures.py)."""

from __future__ import annotations

from extensions import db
from models import ViewerActivity
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

