"""Two app processes on one database: exactly one runs the account; when it dies, the other takes
over and nothing is counted twice or lost.

Behaviour only: every wait polls with a deadline of minutes, so a busy machine is slower but not
wrong. How fast the takeover is belongs in a benchmark, not in a pass/fail test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import httpx
import pytest
import sqlalchemy as sa

from extensions import db
from models import IngestLease, TikTokAccount, ViewerInteraction, ViewerProfile
from services import tiktok
from tests.emulator_support import ingest_env, running_emulator, user
from tests.factories import make_user
from tests.support import Server, wait_for

#: Long enough that a holder stalled by a busy machine keeps its lease (the standby only takes a
#: lease that has expired), short enough that the takeover does not drag the test out.
LEASE_SECONDS = 10.0
COMMENTS = 40
#: Every wait ends as soon as its condition holds.
DEADLINE = 600


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


def emulator_control(emulator, action: str, **params: str) -> None:  # noqa: ANN001
    response = httpx.get(f"{emulator.url}/__emulator/{action}", params=params, timeout=30)
    assert response.status_code == 200, response.text


@pytest.mark.server
def test_one_process_runs_the_account_and_the_other_takes_over(app_ctx, tmp_path):
    streamer = make_user("streamer")
    viewer = user(3001, "steady.viewer")
    # No live_end in the script: the LIVE must still be on when its holder is killed, however slow
    # the machine; the test ends it once every comment is in.
    script = [{"type": "comment", "user": viewer, "text": f"comment {n}", "msg_id": 900_000 + n, "delay": 0.15}
              for n in range(COMMENTS)]
    # On (re)connect the sign server repeats recent messages with their ids, as TikTok does; here
    # all of them, so whatever the killed process had received but not committed comes back
    # however far behind it was.
    rooms = [{"unique_id": "lease.host", "script": script, "history": COMMENTS}]
    with running_emulator(tmp_path, rooms) as emulator:
        env = ingest_env(app_ctx, emulator, lease_seconds=LEASE_SECONDS)
        first = Server(env)
        second = Server(env)
        try:
            account_id = tiktok.link_account(streamer, "@lease.host", "UTC").id
            wait_for(lambda: fresh(sa.select(ViewerProfile.total_comments)) >= [(8,)], timeout=DEADLINE,
                     message="comments flowing")
            holder = lease_holder(account_id)
            assert holder is not None
            # Exactly one process is connected to TikTok; the other only watches the lease.
            assert emulator.state()["open_sessions"] == 1
            pids = {}
            for server in (first, second):
                children = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True)
                pids[server] = {int(pid) for pid in children.stdout.split()}
            running = next(server for server, workers in pids.items() if holder_pid(holder) in workers)
            standby = second if running is first else first
            kill_server(running, holder_pid(holder))

            new_holder = wait_for(lambda: (h := lease_holder(account_id)) != holder and h, timeout=DEADLINE,
                                  message="the takeover")
            assert holder_pid(new_holder) in pids[standby]
            # The standby connects after it takes the lease: wait for it rather than race it.
            state = wait_for(lambda: (s := emulator.state())["open_sessions"] == 1 and len(s["ws_connections"]) >= 2
                             and s, timeout=DEADLINE, message="the standby's connection")
            wait_for(lambda: fresh(sa.select(ViewerProfile.total_comments)) == [(COMMENTS,)], timeout=DEADLINE,
                     message="every comment counted")
            # The LIVE ends; once the account is offline nothing more can arrive.
            emulator_control(emulator, "set_live", room="lease.host", live="0")
            emulator_control(emulator, "inject", room="lease.host", event=json.dumps({"type": "live_end"}))
            wait_for(lambda: fresh(sa.select(TikTokAccount.status).where(TikTokAccount.id == account_id))
                     == [("offline",)], timeout=DEADLINE, message="the LIVE to end")
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


def test_a_worker_takes_the_leases_it_can_with_one_statement(app_ctx):
    """A worker taking its share of many LIVEs takes their leases together: it gets those nobody
    holds and its own, never one another live worker holds, and an expired one is anybody's."""
    from datetime import timedelta

    from extensions import utcnow
    from ingest import leases

    accounts = [tiktok.link_account(make_user(f"lessee{n}"), f"@lessee{n}", "UTC").id for n in range(4)]
    db.session.commit()
    now = utcnow()
    assert leases.acquire(accounts[:3], "first", now, 15) == set(accounts[:3])
    assert leases.acquire(accounts[1:], "second", now, 15) == {accounts[3]}
    assert leases.acquire(accounts[:2], "first", now + timedelta(seconds=5), 15) == set(accounts[:2])
    later = now + timedelta(seconds=16)  # the first worker's third lease has expired, its renewed two have not
    assert leases.acquire(accounts, "second", later, 15) == set(accounts[2:])
    assert dict(fresh(sa.select(IngestLease.account_id, IngestLease.holder))) == {
        accounts[0]: "first", accounts[1]: "first", accounts[2]: "second", accounts[3]: "second"}
    assert leases.acquire([], "second", later, 15) == set()
