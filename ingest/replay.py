"""Replaying a JSON-lines file of event records (docs/ingest-events.md) through the writer."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import gevent

from ingest.records import EventRecord, MalformedEvent, parse_record

log = logging.getLogger(__name__)

#: A replay at full speed waits while the writer has this many events queued: memory stays bounded
#: and the writer applies batches while the file is read, instead of all of them after it.
MAX_BACKLOG = 10_000


def read_records(path: Path | str, account_id: int | None = None,
                 skipped: Callable[[], None] = lambda: None) -> Iterator[EventRecord]:
    """The file's records in order; a malformed line is logged, counted through `skipped`, and skipped."""
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                yield parse_record(line, account_id)
            except MalformedEvent as error:
                log.warning("%s:%d: skipping malformed event: %s", path, number, error)
                skipped()


def _fresh(record: EventRecord, token: str, shift: timedelta) -> EventRecord:
    """The same event as a new LIVE: new message and room ids, times moved by `shift`."""
    return replace(record, message_id=f"{token}:{record.message_id}"[:48],
                   room_id=f"{token}{record.room_id or ''}"[:32], time=record.time + shift)


def replay(path: Path | str, account_id: int, put: Callable[[EventRecord], None], *, speed: float = 0,
           now: Callable[[], datetime] | None = None, fresh: bool = False,
           stop: Callable[[], bool] = lambda: False, backlog: Callable[[], int] | None = None,
           skipped: Callable[[], None] = lambda: None) -> int:
    """Feed the file to `put` at `speed` times real time (0 = as fast as possible).

    With `fresh`, the file plays as a new LIVE starting now: message and room ids get a new
    prefix and times move so the first event is now (the demo behind `make run`). Otherwise
    events keep their ids and times, so replaying a file twice changes nothing the second time.
    At full speed, `backlog()` (the writer's queue length) above MAX_BACKLOG makes it wait.
    Returns how many records it read and fed.
    """
    records = iter(read_records(path, account_id, skipped))
    first = next(records, None)
    if first is None:
        return 0
    token = uuid.uuid4().hex[:6]
    shift = (now() - first.time) if (fresh and now) else timedelta(0)
    started = time.monotonic()
    count = 0
    for record in _chain(first, records):
        if stop():
            break
        if speed > 0:
            due = started + (record.time - first.time).total_seconds() / speed
            delay = due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
        elif backlog is not None:
            while backlog() > MAX_BACKLOG:
                gevent.sleep(0.01)
        put(_fresh(record, token, shift) if fresh else record)
        count += 1
    return count


def _chain(first: EventRecord, rest: Iterator[EventRecord]) -> Iterator[EventRecord]:
    yield first
    yield from rest
