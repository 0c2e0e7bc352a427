"""What the streamer's studio announces: the ingest rules and the VIP rules make these, and the
writer publishes them after its commit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Notice:
    """Something the streamer's studio announces (new viewer, VIP promoted, birthday, ...)."""

    kind: str
    text: str
    viewer_id: int | None = None
