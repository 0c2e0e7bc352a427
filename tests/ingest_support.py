"""Helpers for the ingest tests: a controllable clock and event-record builders."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from ingest.records import EventRecord, Viewer

_ids = itertools.count(1)
ROOM = "7300000000000000001"


class FakeClock:
    """A clock that moves only when the test says so."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> datetime:
        self.current += timedelta(seconds=seconds)
        return self.current


def viewer(user_id: int = 1001, handle: str | None = None, **fields) -> Viewer:
    return Viewer(id=user_id, handle=handle or f"viewer{user_id}", nickname=fields.pop("nickname", f"Viewer {user_id}"),
                  **fields)


def event(kind: str, at: datetime, user: Viewer | None = None, room: str | None = ROOM, message_id: str | None = None,
          **data) -> EventRecord:
    return EventRecord(kind=kind, message_id=message_id or f"m{next(_ids)}", time=at, room_id=room, user=user,
                       data=data)


def gift(at: datetime, user: Viewer, name: str = "Rose", price: int = 1, repeat: int = 1, streaking: bool = False,
         gift_id: int = 5655, **kwargs) -> EventRecord:
    return event("gift", at, user, gift_id=gift_id, gift_name=name, diamond_count=price, repeat_count=repeat,
                 streaking=streaking, **kwargs)


def message_state(value: Any) -> Any:
    """Every attribute of a parsed protobuf message, recursively, with its type: what two parses
    of the same bytes must agree on."""
    import betterproto2

    if isinstance(value, betterproto2.Message):
        return type(value), {name: message_state(item) for name, item in value.__dict__.items()}
    if isinstance(value, list):
        return [message_state(item) for item in value]
    if isinstance(value, dict):
        return {key: message_state(item) for key, item in value.items()}
    return type(value), value
