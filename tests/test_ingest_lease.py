"""Two app processes on one database: exactly one runs the account; when it dies, the other takes
over within one lease period and nothing is counted twice."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import sqlalchemy as sa

from extensions import db
from models import IngestLease, TikTokAccount, ViewerInteraction, ViewerProfile
from services import tiktok
from tests.emulator_support import ingest_env, running_emulator, user, wait_for
from tests.factories import make_user
from tests.support import Server

pytestmark = pytest.mark.server

LEASE_SECONDS = 3.0
COMMENTS = 40


def fresh(statement):  # noqa: ANN001, ANN201
    try:
        return db.session.execute(statement).all()
    finally:
        db.session.rollback()


def lease_holder(account_id: int) -> str | None:
    rows = fresh(sa.select(IngestLease.holder).where(IngestLease.account_id == account_id))
    return rows[0][0] if rows else None


def holder_pid(holder: str) -> int:
    return int(holder.split(":")[1])


def kill_server(server: Server, worker_pid: int) -> None:
    """Kill the gunicorn master first (so it cannot start a new worker), then the worker: no goodbye."""
    os.kill(server.process.pid, signal.SIGKILL)
    os.kill(worker_pid, signal.SIGKILL)
    server.process.wait()


def test_one_process_runs_the_account_and_the_other_takes_over(app_ctx, tmp_path):
    streamer = make_user("streamer")
    viewer = user(3001, "steady.viewer")
    script = [{"type": "comment", "user": viewer, "text": f"comment {n}", "msg_id": 900_000 + n, "delay": 0.15}
              for n in range(COMMENTS)]
    script.append({"type": "live_end"})
    # On (re)connect the sign server repeats the last 10 messages with their ids, as TikTok does.
    rooms = [{"unique_id": "lease.host", "script": script, "history": 10}]
    with running_emulator(tmp_path, rooms) as emulator:
        env = ingest_env(app_ctx, emulator, lease_seconds=LEASE_SECONDS)
        first = Server(env)
        second = Server(env)
        try:
            # Linked once both run (starting a server can take seconds on a busy machine): the LIVE
            # must still be on when its holder is killed.
            account_id = tiktok.link_account(streamer, "@lease.host", "UTC").id
            wait_for(lambda: fresh(sa.select(ViewerProfile.total_comments)) >= [(8,)], timeout=120,
                     message="comments flowing")
            holder = lease_holder(account_id)
            assert holder is not None
            # Exactly one process connected to TikTok; the other only watches the lease.
            assert len(emulator.state()["ws_connections"]) == 1
            pids = {}
            for server in (first, second):
                children = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True)
                pids[server] = {int(pid) for pid in children.stdout.split()}
            running = next(server for server, workers in pids.items() if holder_pid(holder) in workers)
            standby = second if running is first else first
            killed_at = time.monotonic()
            kill_server(running, holder_pid(holder))
            new_holder = wait_for(lambda: (h := lease_holder(account_id)) != holder and h, timeout=120,
                                  interval=0.05, message="the takeover")
            took = time.monotonic() - killed_at
            assert holder_pid(new_holder) in pids[standby]
            # Within one lease period of the last renewal (plus a second for a busy machine's scheduling).
            assert took <= LEASE_SECONDS + 1, f"took over after {took:.2f} s"
            wait_for(lambda: fresh(sa.select(TikTokAccount.status).where(TikTokAccount.id == account_id))
                     == [("offline",)], timeout=120, message="the LIVE to end")
            # The standby connects after it takes the lease: wait for it rather than race it.
            state = wait_for(lambda: next((s for s in [emulator.state()] if len(s["ws_connections"]) == 2), None),
                             timeout=120, message="the standby's connection")
        finally:
            for server in (first, second):
                if server.process.poll() is None:
                    server.stop()
                else:
                    server.log.close()
    assert len(state["ws_connections"]) == 2, state["ws_connections"]
    # Every comment exactly once: those the dead process committed were skipped when the
    # sign server repeated them, those it lost were applied by the new holder.
    assert fresh(sa.select(ViewerProfile.total_comments, ViewerProfile.total_visits)) == [(COMMENTS, 1)]
    texts = [row[0] for row in fresh(sa.select(ViewerInteraction.content).order_by(ViewerInteraction.occurred_at))]
    assert sorted(texts) == sorted(f"comment {n}" for n in range(COMMENTS))
