"""How long a TikTok LIVE goes unfollowed when the worker following it dies, and what is lost.

    python -m bench.takeover --rounds 5                        # SQLite, production's 15 s lease
    python -m bench.takeover --rounds 5 --lease 5
    DATABASE_URL=postgresql://postgres@127.0.0.1/postgres python -m bench.takeover --rounds 5

Two gunicorn gevent servers with the ingester share one fresh database and follow one emulated LIVE
(tests/tiktok_emulator/) that sends a comment every 0.1 s. While no client is connected the
emulator holds its script, and on every (re)connect it repeats the last minute of messages with
their ids, as TikTok's sign server repeats recent history: what the dead worker had received but
not committed comes back, and the benchmark checks it is counted once. Each round waits until
comments flow, then kills the server that holds the account's lease (SIGKILL, the master first,
then its worker: no goodbye), and measures from the kill, polling the database every 0.1 s:

- lease taken: until the other server holds the lease;
- ingest resumed: until the first comment sent after the kill is committed.

Then it starts a new server, so that the next round has a standby again. At the end the LIVE ends
and every comment is checked: each one sent up to the last committed is stored exactly once.

Last line: `takeover: R rounds, lease L s -> lease taken p50 A s, max B s; ingest resumed p50 C s,
max D s; comments exact yes|no`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_app  # noqa: E402

COMMENT_EVERY = 0.1
#: Messages the emulator repeats on a reconnect: a minute of comments, more than any gap here.
HISTORY = int(60 / COMMENT_EVERY)
DEADLINE = 600


def worker_pids(server) -> set[int]:  # noqa: ANN001 - tests.support.Server
    children = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True)
    return {int(pid) for pid in children.stdout.split()}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lease", type=float, default=15.0, help="INGEST_LEASE_SECONDS (production: 15)")
    args = parser.parse_args()

    from extensions import db
    from models import IngestLease, TikTokAccount, ViewerInteraction
    from services import tiktok
    from tests.emulator_support import ingest_env, running_emulator, user
    from tests.factories import make_user
    from tests.support import Server, wait_for

    # Long enough for every round (each: comments flowing, the takeover, a new standby starting)
    # on a busy machine; the LIVE is ended by the benchmark, not by the script.
    comments = int(args.rounds * (args.lease * 3 + 120) / COMMENT_EVERY)
    viewer = user(4001, "steady.viewer")
    script = [{"type": "comment", "user": viewer, "text": f"comment {n}", "msg_id": 700_000 + n,
               "delay": COMMENT_EVERY} for n in range(comments)]
    rooms = [{"unique_id": "takeover.host", "script": script, "history": HISTORY}]

    lease_taken: list[float] = []
    resumed: list[float] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with bench_app(tmp) as (app, database_url), app.app_context():

            def rows(statement):  # noqa: ANN001, ANN202
                try:
                    return db.session.execute(statement).all()
                finally:
                    db.session.rollback()

            def holder() -> str | None:
                found = rows(sa.select(IngestLease.holder).where(IngestLease.account_id == account_id))
                return found[0][0] if found else None

            def committed_since(moment: datetime) -> int:
                return rows(sa.select(sa.func.count()).select_from(ViewerInteraction).where(
                    ViewerInteraction.kind == "comment", ViewerInteraction.occurred_at > moment))[0][0]

            with running_emulator(tmp, rooms) as emulator:
                env = {**ingest_env(app, emulator, lease_seconds=args.lease), "INGEST_SWEEP_SECONDS": "60",
                       "LOG_LEVEL": "warning"}
                servers = [Server(env), Server(env)]
                try:
                    account_id = tiktok.link_account(make_user("takeover-streamer"), "@takeover.host", "UTC").id
                    for round_number in range(1, args.rounds + 1):
                        # Comments flowing: one committed in the last two seconds.
                        wait_for(lambda: holder() and committed_since(datetime.fromtimestamp(time.time() - 2, UTC)),
                                 DEADLINE, 0.1, "comments to flow")
                        current = holder()
                        pid = int(current.split(":")[1])
                        running = next(server for server in servers if pid in worker_pids(server))
                        killed_at = datetime.now(UTC)
                        started = time.monotonic()
                        os.kill(running.process.pid, signal.SIGKILL)
                        os.kill(pid, signal.SIGKILL)
                        running.process.wait()
                        running.log.close()
                        servers.remove(running)
                        wait_for(lambda current=current: (found := holder()) and found != current, DEADLINE, 0.1,
                                 "the lease to be taken")
                        lease_taken.append(time.monotonic() - started)
                        wait_for(lambda killed_at=killed_at: committed_since(killed_at), DEADLINE, 0.1,
                                 "a comment sent after the kill to be committed")
                        resumed.append(time.monotonic() - started)
                        print(f"round {round_number}: lease taken after {lease_taken[-1]:.1f} s, "
                              f"ingest resumed after {resumed[-1]:.1f} s", flush=True)
                        servers.append(Server(env))
                    # End the LIVE, then check every comment up to the last one stored.
                    for action, params in (("set_live", {"live": "0"}),
                                           ("inject", {"event": json.dumps({"type": "live_end"})})):
                        httpx.get(f"{emulator.url}/__emulator/{action}", params={"room": "takeover.host", **params},
                                  timeout=30).raise_for_status()
                    wait_for(lambda: rows(sa.select(TikTokAccount.status).where(TikTokAccount.id == account_id))
                             == [("offline",)], DEADLINE, 0.1, "the LIVE to end")
                finally:
                    for server in servers:
                        server.stop()
            texts = [row[0] for row in rows(sa.select(ViewerInteraction.content)
                                            .where(ViewerInteraction.kind == "comment"))]
    numbers = sorted(int(text.split()[1]) for text in texts)
    exact = bool(numbers) and numbers == list(range(numbers[-1] + 1))
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    print(f"backend {backend}; {len(numbers)} comments stored, {len(set(numbers))} distinct, "
          f"{'none missing' if exact else 'some missing or repeated'} up to the last stored")
    print(f"takeover: {args.rounds} rounds, lease {args.lease:g} s -> lease taken p50 "
          f"{percentile(lease_taken, 0.5):.1f} s, max {max(lease_taken):.1f} s; ingest resumed p50 "
          f"{percentile(resumed, 0.5):.1f} s, max {max(resumed):.1f} s; comments exact {'yes' if exact else 'no'}")


if __name__ == "__main__":
    main()
