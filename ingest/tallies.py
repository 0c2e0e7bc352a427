"""Counters more than one rule adds to: the heatmap's cells (the account's figures: services/account_figures.py)."""

from __future__ import annotations

from collections.abc import Mapping

from services.database import execute_rows

#: (viewer id, weekday, hour) -> [hits, coins]
Cells = dict[tuple[int, int, int], list[int]]


def add_heatmaps(cells: Mapping[int, Cells]) -> None:
    """Add hits and coins to these accounts' heatmap cells (account id -> its cells), one upsert row
    per cell, in one statement."""
    rows = [(viewer_id, account_id, weekday, hour, hits, coins)
            for account_id, account_cells in cells.items()
            for (viewer_id, weekday, hour), (hits, coins) in account_cells.items()]
    execute_rows("INSERT INTO viewer_activity_heatmap (viewer_id, account_id, weekday, hour, hits, coins)"
                 " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (viewer_id, weekday, hour) DO UPDATE SET"
                 " hits = viewer_activity_heatmap.hits + excluded.hits,"
                 " coins = viewer_activity_heatmap.coins + excluded.coins",
                 ("int", "int", "int", "int", "int", "int"), rows)
