"""The clock the ingest rules read, injected so tests can control time."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from extensions import utcnow


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


SYSTEM_CLOCK = SystemClock()
