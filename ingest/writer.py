"""The writer: one greenlet that drains the ingest queue in batches (what came in the BATCH_SECONDS
after the batch's first event was queued, up to `batch_max` events: a writer behind takes bigger
batches, which fold more events into each row and so catch up faster), applies the batch, every
account's share of it, in one transaction (in rounds when status changes come among the events:
see `apply`), publishes what changed (the studio card at most once a
PUBLISH_SECONDS per account, off the batch's path), and runs the session sweeper about once a
minute of its clock's time, each account in its turn, spread over half the minute.

A live writer's clock is the system clock; a replay's is an `EventClock`, which reads the time of
the latest event the writer has taken, so the sweeper, session timeouts and "today" follow the
recorded LIVE rather than the wall clock."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import gevent
import gevent.queue
from flask import Flask

from extensions import db, utcnow
from ingest import rules, sessions
from ingest.publish import publish_account, publish_consoles
from ingest.records import EventRecord
from ingest.replay import MAX_BACKLOG
from services.clock import SYSTEM_CLOCK, Clock
from services.notices import Notice

log = logging.getLogger(__name__)

#: An event waits at most this long for others to share its transaction (plus the batch's own work);
#: 50 ms rather than 100 kept the p99 lag at 5,000 events/s under 250 ms on SQLite (docs/benchmarks.md).
BATCH_SECONDS = 0.05
#: A writer behind takes at most this many events a batch. In a web worker on SQLite a batch holds the
#: whole process (nothing in it waits on a socket), so this bounds that pause to about 0.1 s.
BATCH_MAX = 2000
#: `flask ingest replay` runs in its own process with no page to serve, so it takes batches as big as
#: the backlog it allows: each viewer's row is written once for more events, about a fifth less
#: work per event than batches of 2,000 (docs/benchmarks.md).
REPLAY_BATCH_MAX = MAX_BACKLOG
#: The studio card of one account is rendered and pushed at most this often; notices wait with it.
PUBLISH_SECONDS = 1.0
#: A sweep takes its accounts in groups of at most this many, each group swept with one statement a
#: table (`sessions.sweep`): swept one at a time, 200 LIVEs took about 8 round trips each a minute,
#: 20 to 80 ms of the writer's time each on PostgreSQL (docs/benchmarks.md).
SWEEP_GROUP = 25
#: A sweep's groups are spread over this share of the sweep period: swept back to back, 140 LIVEs'
#: sweeps doubled the writer's work for seconds and took the p99 lag from 0.5 s to 1.2 s
#: (docs/benchmarks.md); spread out, they fit in the time the writer has to spare.
SWEEP_SPREAD = 0.5


class EventClock:
    """A replay's clock: the time of the latest event the writer has taken (before any, now)."""

    def __init__(self) -> None:
        self.current: datetime | None = None

    def now(self) -> datetime:
        return self.current or utcnow()

    def advance(self, moment: datetime) -> None:
        if self.current is None or moment > self.current:
            self.current = moment


@dataclass(frozen=True)
class StatusUpdate:
    account_id: int
    status: str
    error: str | None = None


@dataclass(frozen=True)
class Repair:
    """Close the sessions a dead process left open (sent when this process takes a lease)."""

    account_id: int


def _is_change(item: EventRecord | StatusUpdate | Repair) -> bool:
    return isinstance(item, StatusUpdate | Repair)


def _ends_a_live(item: EventRecord | StatusUpdate | Repair) -> bool:
    return isinstance(item, EventRecord) and item.kind == "live_end"


class Writer:
    def __init__(self, app: Flask, clock: Clock = SYSTEM_CLOCK, publish: bool = True,
                 sweep_accounts: Callable[[], Iterable[int]] | None = None, batch_max: int = BATCH_MAX) -> None:
        self.app = app
        self.batch_max = batch_max
        self.clock = clock
        self.publish = publish
        self.queue: gevent.queue.Queue = gevent.queue.Queue()
        self.sweep_seconds = float(app.config.get("INGEST_SWEEP_SECONDS", 60))
        self.stop_seconds = float(app.config.get("INGEST_STOP_SECONDS", 30))
        self.retention_days = int(app.config.get("INGEST_RETENTION_DAYS", 90))
        self.sweep_accounts = sweep_accounts or (lambda: ())
        #: When the next sweep is due, in the clock's time (set by the first step).
        self._next_sweep: datetime | None = None
        #: The accounts of the sweep under way not swept yet; when (in the clock's time) the next of
        #: them is due, and the time between two of them.
        self._to_sweep: deque[int] = deque()
        self._next_account_sweep = datetime.min.replace(tzinfo=UTC)  # set with the accounts of each sweep
        self._sweep_gap = timedelta(0)
        self._greenlet: gevent.Greenlet | None = None
        #: How long the last step's work (apply, sweep, publish) took, in seconds.
        self._last_work = 0.0
        self._stopping = False
        self._abandon = False
        #: Seconds between an event's time and its commit, for the benchmark.
        self.lags: list[float] = []
        self.record_lag = False
        #: What became of every event record taken: applied (new), duplicates (applied before),
        #: malformed (logged and skipped) and failed (could not be applied even alone).
        self.applied = self.duplicates = self.malformed = self.failed = 0
        #: Accounts whose card is to be pushed, with the notices waiting for it; when each was last pushed.
        self._unpublished: dict[int, list[Notice]] = {}
        self._published_at: dict[int, float] = {}

    def put(self, item: EventRecord | StatusUpdate | Repair) -> None:
        self.queue.put((time.monotonic(), item))

    def start(self) -> Writer:
        self._greenlet = gevent.spawn(self.run_forever)
        return self

    def stop(self, timeout: float | None = None) -> bool:
        """Apply what is queued, then end the greenlet; True when the queue was empty in time.

        After `timeout` (INGEST_STOP_SECONDS) the greenlet finishes the batch it has taken and ends:
        it is never killed in the middle of a batch (that lost the batch, live end included), and
        what is still queued stays there for `drain`."""
        self._stopping = True
        if self._greenlet is None:
            return self.queue.empty()
        self._greenlet.join(self.stop_seconds if timeout is None else timeout)
        drained = self._greenlet.dead
        if not drained:
            self._abandon = True
            self._greenlet.join(300)  # one batch; only a hung database takes this long
            self._greenlet.kill()
        return drained and self.queue.empty()

    def _wait(self) -> float:
        if self._stopping or self._next_sweep is None or self._to_sweep:
            return 0.05
        wait = min(self.sweep_seconds, max(0.05, (self._next_sweep - self.clock.now()).total_seconds()))
        return min(wait, PUBLISH_SECONDS) if self._unpublished else wait

    def run_forever(self) -> None:
        while not self._abandon and not (self._stopping and self.queue.empty()):
            try:
                self.step(timeout=self._wait())
            except Exception:  # noqa: BLE001 - the writer must outlive any one bad batch
                log.exception("ingest writer step failed")
                gevent.sleep(1)
            # A queue never empty never blocks `get`, and SQLite never waits on a socket: without
            # this a writer behind would hold the process, and gunicorn would kill the worker for
            # a missed heartbeat (losing the queue) instead of letting it fall behind.
            gevent.sleep(0)
        self.publish_now()

    def step(self, timeout: float = BATCH_SECONDS) -> int:
        """Take one batch off the queue (waiting up to `timeout` for the first item) and apply it.

        The batch closes BATCH_SECONDS after its first item was queued (not after the writer took
        it), or as soon as the queue is empty when the last batch's work took longer than that: what
        came meanwhile has waited a batch already (the producers could not even queue it while a
        batch blocked the process), so a writer that keeps up holds no event much longer than the
        window plus one batch's work."""
        batch = []
        arrived = 0.0
        with contextlib.suppress(gevent.queue.Empty):
            arrived, item = self.queue.get(timeout=timeout)
            batch.append(item)
        deadline = arrived + BATCH_SECONDS if self._last_work < BATCH_SECONDS else 0.0
        while batch and len(batch) < self.batch_max:
            try:
                batch.append(self.queue.get(timeout=max(0, deadline - time.monotonic()))[1])
            except gevent.queue.Empty:
                # Waiting, even for 0 s, let the producers run: what they queued meanwhile (the
                # events that came while the last batch was applied) joins this batch.
                if self.queue.empty():
                    break
        started = time.monotonic()
        with self.app.app_context():
            try:
                if batch:
                    self.apply(batch)
                self._sweep_when_due()
                self._publish_due()
            finally:
                db.session.remove()
        self._last_work = time.monotonic() - started
        return len(batch)

    def _sweep_when_due(self) -> None:
        now = self.clock.now()
        if self._next_sweep is None:
            self._next_sweep = now + timedelta(seconds=self.sweep_seconds)
        elif now >= self._next_sweep:
            self._next_sweep = now + timedelta(seconds=self.sweep_seconds)
            overdue = len(self._to_sweep)  # left from the last sweep: their turns have passed
            self._to_sweep.extend(account_id for account_id in self.sweep_accounts()
                                  if account_id not in self._to_sweep)
            groups = math.ceil(len(self._to_sweep) / SWEEP_GROUP)
            self._sweep_gap = timedelta(seconds=self.sweep_seconds * SWEEP_SPREAD / max(1, groups))
            self._next_account_sweep = now - self._sweep_gap * math.ceil(overdue / SWEEP_GROUP)
        if self._to_sweep and now >= self._next_account_sweep:
            # The groups whose turn has come (more than one when the steps were slower than the gap).
            late = now - self._next_account_sweep
            due = 1 + int(late / self._sweep_gap) if self._sweep_gap else len(self._to_sweep)
            self.sweep(most=due * SWEEP_GROUP)
            self._next_account_sweep = now + self._sweep_gap

    def apply(self, batch: list) -> None:
        if isinstance(self.clock, EventClock):
            for item in batch:
                if isinstance(item, EventRecord):
                    self.clock.advance(item.time)
        # Each account's items keep their order: a status change or repair comes after the events
        # of its account queued before it, and an event after the changes of its account queued
        # before it. Across accounts order does not matter, so the batch is applied in rounds:
        # each account's next run of changes, or of events, and each round's changes of every
        # account share one transaction, and its events another. A worker that takes 100 LIVEs at
        # once queues for each a repair, two status changes and its LIVE's start among the first
        # events: applied in the order they came, that was about three transactions per LIVE (one
        # batch of them took 1.8 s on PostgreSQL, while all its events waited); in rounds, eight.
        # A LIVE's end starts a run of its own, and a round's runs that start with one are applied
        # after its other events, in a transaction of their own: closing every open session of
        # many LIVEs that end together is the dearest work there is (200 LIVEs' 40,000 sessions,
        # about a second on PostgreSQL), and every other event, of any LIVE, is committed first
        # instead of waiting for it.
        runs: dict[int, deque[list[EventRecord | StatusUpdate | Repair]]] = {}
        for item in batch:
            if item.account_id is None:
                continue
            account_runs = runs.setdefault(item.account_id, deque())
            if account_runs and _is_change(account_runs[-1][0]) == _is_change(item) and not _ends_a_live(item):
                account_runs[-1].append(item)
            else:
                account_runs.append([item])
        changed: dict[int, list[Notice]] = defaultdict(list)
        while runs:
            changes: list[StatusUpdate | Repair] = []
            events: dict[int, list[EventRecord]] = {}
            ends: dict[int, list[EventRecord]] = {}
            for account_id in list(runs):
                run = runs[account_id].popleft()
                if _is_change(run[0]):
                    changes.extend(run)
                else:
                    (ends if _ends_a_live(run[0]) else events)[account_id] = run
                if not runs[account_id]:
                    del runs[account_id]
            self._apply_changes(changes, changed)
            self._flush(events, changed)
            self._flush(ends, changed)
        if self.publish:
            for account_id, notices in changed.items():
                self._unpublished.setdefault(account_id, []).extend(notices)
            self._publish_due()

    def _apply_changes(self, changes: list[StatusUpdate | Repair], changed: dict[int, list[Notice]]) -> None:
        """Apply these status changes and start-up repairs in one transaction; if that fails, each alone."""
        if not changes:
            return
        try:
            # An account's changes in a round come one after another: its last status is the one that
            # stands (an account that went from live through connecting back to live has not changed).
            statuses = {change.account_id: (change.status, change.error) for change in changes
                        if isinstance(change, StatusUpdate)}
            for account_id in rules.set_statuses(statuses, self.clock, commit=False):
                changed[account_id]
            # A worker taking many LIVEs at once records and repairs them all with one statement a table.
            self._repair([change.account_id for change in changes if isinstance(change, Repair)], commit=False)
            db.session.commit()
        except Exception:  # noqa: BLE001 - find the bad one, apply the rest
            db.session.rollback()
            log.exception("%d status changes failed together; applying each alone", len(changes))
            for change in changes:
                try:
                    self._apply_change(change, changed)
                except Exception:  # noqa: BLE001
                    db.session.rollback()
                    log.exception("skipping %s that cannot be applied", change)
        changes.clear()

    def _apply_change(self, change: StatusUpdate | Repair, changed: dict[int, list[Notice]]) -> None:
        """One status change or repair in its own transaction."""
        if isinstance(change, StatusUpdate):
            if rules.set_status(change.account_id, change.status, change.error, self.clock):
                changed[change.account_id]
            return
        self._repair([change.account_id], commit=True)

    def _repair(self, account_ids: list[int], commit: bool) -> None:
        if not account_ids:
            return
        closed = sessions.repair_open_sessions(account_ids, self.clock, commit=commit)
        if closed:
            log.info("closed %d sessions left open on accounts %s", closed, account_ids)

    def _publish_due(self, force: bool = False) -> None:
        """Push the cards (and waiting notices) of the accounts not pushed for PUBLISH_SECONDS."""
        moment = time.monotonic()
        for account_id in list(self._unpublished):
            if not force and moment - self._published_at.get(account_id, -PUBLISH_SECONDS) < PUBLISH_SECONDS:
                continue
            notices = self._unpublished.pop(account_id)
            self._published_at[account_id] = moment
            try:
                publish_account(account_id, notices)
            except Exception:  # noqa: BLE001 - a failed publish must not lose the next batch
                log.exception("could not publish to the studio of account %d", account_id)

    def publish_now(self) -> None:
        """Push every card still waiting (the writer stops, or a replay has drained)."""
        if not self._unpublished:
            return
        with self.app.app_context():
            try:
                self._publish_due(force=True)
            finally:
                db.session.remove()

    def _apply_alone(self, account_id: int, records: list[EventRecord], whole: bool) -> list[rules.BatchResult]:
        """One account's events in their own transaction (`whole`), else (or if that fails) one by one."""
        if whole:
            try:
                return [rules.apply_batch(account_id, records, self.clock)]
            except Exception:  # noqa: BLE001
                log.exception("batch of %d events for account %d failed; applying one by one", len(records),
                              account_id)
        results = []
        for record in records:
            try:
                results.append(rules.apply_batch(account_id, [record], self.clock))
            except Exception:  # noqa: BLE001
                db.session.rollback()
                self.failed += 1
                log.exception("skipping event %s (%s) that cannot be applied", record.message_id, record.kind)
        return results

    def _flush(self, events: dict[int, list[EventRecord]], changed: dict[int, list[Notice]]) -> None:
        """Apply the accounts' events taken so far: all of them in one transaction (one commit for a
        batch of many LIVEs); if that fails, each account alone, and an account whose batch fails
        event by event, so one bad event cannot hold up the rest."""
        if not events:
            return
        try:
            together = {account_id: [result] for account_id, result in
                        rules.apply_batches(events, self.clock).items()}
        except Exception:  # noqa: BLE001 - find the bad event, apply the rest
            if len(events) > 1:
                log.exception("batch of %d accounts failed; applying each account alone", len(events))
            else:
                log.exception("batch of %d events for account %d failed; applying one by one",
                              sum(map(len, events.values())), *events)
            together = {}
        chats: dict[int, list[EventRecord]] = {}
        for account_id, records in events.items():
            results = together.get(account_id) or self._apply_alone(account_id, records, len(events) > 1)
            result = rules.BatchResult(
                applied=sum(r.applied for r in results),
                duplicates=sum(r.duplicates for r in results),
                malformed=sum(r.malformed for r in results),
                notices=[notice for r in results for notice in r.notices],
                account_changed=any(r.account_changed for r in results),
            )
            self.applied += result.applied
            self.duplicates += result.duplicates
            self.malformed += result.malformed
            if self.record_lag:
                committed = self.clock.now()
                self.lags.extend((committed - record.time).total_seconds() for record in records)
            if result.applied or result.account_changed:
                changed[account_id].extend(result.notices)
            chats[account_id] = [record for r in results for record in r.chat]
            gevent.sleep(0)  # a batch of many accounts lets the clients and the heartbeat run between them
        events.clear()
        if self.publish:
            try:
                publish_consoles(chats)
            except Exception:  # noqa: BLE001 - a failed publish must not lose the next batch
                db.session.rollback()
                log.exception("could not publish the chat of %d accounts to their shows' consoles", len(chats))

    def sweep(self, most: int | None = None) -> None:
        """Sweep the next `most` accounts (all) of the sweep under way together, or each alone if that
        fails; an account this process no longer runs is left to its new holder."""
        held = set(self.sweep_accounts())
        group = []
        while self._to_sweep and (most is None or len(group) < most):
            account_id = self._to_sweep.popleft()
            if account_id in held:
                group.append(account_id)
        if not group:
            return
        try:
            self._swept(group, sessions.sweep(group, self.clock, self.retention_days))
            return
        except Exception:  # noqa: BLE001 - find the bad account, sweep the rest
            db.session.rollback()
            log.exception("sweeping accounts %s failed", group)
        if len(group) == 1:
            return
        for account_id in group:  # each alone
            try:
                self._swept([account_id], sessions.sweep([account_id], self.clock, self.retention_days))
            except Exception:  # noqa: BLE001
                db.session.rollback()
                log.exception("sweeping account %d failed", account_id)

    def _swept(self, account_ids: list[int], notices: dict[int, list[Notice]]) -> None:
        """The studio cards of swept accounts are pushed again (sessions closed, watchtime credited)."""
        if self.publish:
            for account_id in account_ids:
                self._unpublished.setdefault(account_id, []).extend(notices.get(account_id, []))

    def drain(self) -> None:
        """Apply everything queued so far (replay and tests)."""
        while not self.queue.empty():
            self.step(timeout=0)
        self.publish_now()
