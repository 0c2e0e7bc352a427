"""The supervisor: a greenlet that decides which accounts this process runs.

Every few seconds it takes or renews the lease of each account that is not paused. For an
account it holds it runs a TikTokLive client on the one asyncio loop (itself hosted in one
greenlet), or, for the demo streamer with `DEMO_REPLAY` set, a replay of the demo LIVE. An
account it no longer holds (paused, unlinked, or lease lost) is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

import gevent
import sqlalchemy as sa
from flask import Flask

from extensions import db, utcnow
from ingest import leases
from ingest.client import AccountRunner, configure_endpoints
from ingest.protobuf import parse_messages_faster, reuse_message_validators
from ingest.push_frames import send_acks_and_unzip_faster
from ingest.replay import replay
from ingest.writer import Repair, StatusUpdate, Writer
from models import TikTokAccount

log = logging.getLogger(__name__)

#: How often the clients' loop steps aside for the other greenlets (the writer, the lease checks).
SHARE_SECONDS = 0.005


class Supervisor:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.config = dict(app.config)
        self.holder = leases.new_holder_id()
        self.lease_seconds = float(app.config["INGEST_LEASE_SECONDS"])
        # Every process checks every lease/5 seconds, and a renewal is good for the rest of the
        # period: a dead holder's account is taken over within one lease period of its last renewal.
        self.check_seconds = max(0.2, self.lease_seconds / 5)
        self.expiry_seconds = self.lease_seconds - self.check_seconds
        #: The most accounts this process runs at once (0: no limit beyond its fair share).
        self.max_accounts = int(app.config.get("INGEST_MAX_ACCOUNTS", 0))
        self.writer = Writer(app, sweep_accounts=lambda: list(self.running))
        #: account id -> (kind, handle): the asyncio task or replay greenlet running it.
        self.running: dict[int, Any] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._greenlets: list[gevent.Greenlet] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Supervisor:
        configure_endpoints(self.config)
        reuse_message_validators()
        parse_messages_faster()
        send_acks_and_unzip_faster()
        self.loop = asyncio.new_event_loop()
        self._greenlets = [gevent.spawn(self._run_loop), self.writer.start()._greenlet,
                           gevent.spawn(self._supervise_forever)]
        log.info("ingest supervisor %s started (lease %.1f s)", self.holder, self.lease_seconds)
        return self

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._share_time)
        self.loop.run_forever()

    def _share_time(self) -> None:
        """Let the writer and the lease checks run while the clients are busy.

        The loop only gives way to other greenlets when it waits for a socket; with many LIVEs
        there is always a frame to decode, so without this the writer and the supervisor would
        starve (and the leases lapse) however long the queue grew."""
        gevent.sleep(0)
        self.loop.call_later(SHARE_SECONDS, self._share_time)

    def stop(self) -> None:
        held = list(self.running)
        for account_id in held:
            self._stop_account(account_id)
        with self.app.app_context():
            for account_id in held:
                with contextlib.suppress(Exception):
                    leases.release(account_id, self.holder)
            with contextlib.suppress(Exception):
                leases.retire(self.holder)
            db.session.remove()
        for greenlet in self._greenlets:
            greenlet.kill(block=False)

    # -- the check ---------------------------------------------------------------------------

    def _supervise_forever(self) -> None:
        while True:
            try:
                with self.app.app_context():
                    try:
                        self.check()
                    finally:
                        db.session.remove()
            except Exception:  # noqa: BLE001 - a database hiccup must not end the supervisor
                log.exception("ingest supervisor check failed")
            gevent.sleep(self.check_seconds)

    def check(self) -> None:
        """Renew what this process holds, hand back a surplus, and take unheld accounts up to its share."""
        now = utcnow()
        accounts = db.session.execute(sa.select(TikTokAccount.id, TikTokAccount.handle, TikTokAccount.paused)).all()
        db.session.rollback()
        wanted = {row.id: row.handle for row in accounts if not row.paused}
        for account_id in list(self.running):
            if account_id not in wanted:
                self._stop_account(account_id)
                leases.release(account_id, self.holder)
        workers = leases.heartbeat(self.holder, now, self.expiry_seconds)
        share = leases.fair_share(len(wanted), workers, self.max_accounts)
        held = leases.renew(self.holder, sorted(self.running), now, self.expiry_seconds)
        for account_id in [account_id for account_id in self.running if account_id not in held]:
            log.warning("ingest: lost the lease on @%s", wanted.get(account_id, account_id))
            self._stop_account(account_id)
        # More than a fair share (a worker joined): hand the surplus back for the others to take.
        for account_id in sorted(held)[share:]:
            log.info("ingest: handing @%s over to another worker", wanted[account_id])
            self._stop_account(account_id)
            leases.release(account_id, self.holder)
        free = leases.unheld([account_id for account_id in wanted if account_id not in self.running], now)
        random.shuffle(free)  # workers checking at once then mostly try different accounts
        # What another worker took meanwhile is made up for at the next check.
        trying = free[:max(0, share - len(self.running))]
        won = leases.acquire(trying, self.holder, now, self.expiry_seconds)
        for account_id in trying:
            if account_id in won:
                log.info("ingest: this process now runs @%s", wanted[account_id])
                # Sessions left open by whoever ran it before are closed first.
                self.writer.put(Repair(account_id))
                self._start_account(account_id, wanted[account_id])

    def _demo_replay_for(self, handle: str) -> str | None:
        from services.demo import DEMO_TIKTOK_HANDLE

        path = self.config.get("DEMO_REPLAY")
        return path if path and handle == DEMO_TIKTOK_HANDLE else None

    def _start_account(self, account_id: int, handle: str) -> None:
        path = self._demo_replay_for(handle)
        if path:
            self.running[account_id] = ("replay", gevent.spawn(self._replay_demo, account_id, path))
            return
        runner = AccountRunner(account_id, handle, self.writer.put, self.config)
        future = asyncio.run_coroutine_threadsafe(runner.run(), self.loop)
        self.running[account_id] = ("client", runner, future)

    def _replay_demo(self, account_id: int, path: str) -> None:
        put: Callable[[Any], None] = self.writer.put
        put(StatusUpdate(account_id, "live"))
        try:
            count = replay(path, account_id, put, speed=float(self.config.get("DEMO_REPLAY_SPEED", 1)),
                           now=utcnow, fresh=True)
            log.info("demo replay of %s finished: %d events", path, count)
        except Exception as error:  # noqa: BLE001
            log.exception("demo replay failed")
            put(StatusUpdate(account_id, "error", f"Demo replay failed: {error}"[:300]))

    def _stop_account(self, account_id: int) -> None:
        entry = self.running.pop(account_id, None)
        if entry is None:
            return
        if entry[0] == "replay":
            entry[1].kill(block=False)
            return
        _, runner, future = entry
        stopping = asyncio.run_coroutine_threadsafe(runner.stop(), self.loop)
        with contextlib.suppress(Exception):
            stopping.result(timeout=5)
        future.cancel()


_supervisor: Supervisor | None = None


def start_ingest(app: Flask) -> Supervisor:
    """Start this process's supervisor (once); called from `create_app` in server processes."""
    global _supervisor
    if _supervisor is None:
        _supervisor = Supervisor(app).start()
    return _supervisor
