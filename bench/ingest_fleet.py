"""N TikTok LIVEs at R events/s each, followed by one gunicorn gevent worker with the real
TikTokLive client, against the emulator's generated rooms (tests/tiktok_emulator/generate.py).

    python -m bench.ingest_fleet --lives 200 --rate 10 --seconds 60              # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1/postgres \\
        python -m bench.ingest_fleet --lives 200 --rate 10 --seconds 60          # fresh PostgreSQL db

How it measures, from outside the worker (nothing in the product is instrumented for it):
- lag: the database is polled every 0.1 s for new comment rows; a comment's lag is the time it was
  first seen committed minus its TikTok time (stamped by the emulator when it built the frame), so
  it includes the emulator, the websocket, the client, the queue, the batch and the commit (and
  up to one poll interval).
- events/s: the events the LIVEs sent (scaled by the share of comments that arrived) over the time
  from the first to the last comment seen committed.
- memory: the worker's resident set at its peak while following the LIVEs, minus its size after a
  warm-up LIVE (so the client library is already imported), divided by N.
- CPU: the worker's user + system time from the moment the LIVEs are unpaused to the end, per event
  applied (decoding in the TikTokLive client and the writer together; from /proc); and the
  emulator's over the same time, since it shares the machine's cores with the worker and the
  database as TikTok's servers would not.
- when: the p99 lag of the comments sent in each tenth of the LIVEs (the start and the end are
  when every LIVE connects, and ends, at once);
- lost: comments sent but never committed; the line above it says whether every viewer's comments,
  likes and coins are exact in every account (the same viewers watch every LIVE).

Last line: `fleet: N lives x R ev/s -> E events/s, p99 lag L ms, M MB per live, lost X`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_app  # noqa: E402


def rss_mb(pid: int) -> float:
    """The resident set of `pid` in MB; 0 once it has gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith("VmRSS:")), 0.0)


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) `pid` has used, in seconds; 0 once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def worker_pid(master: int, gone: int = 0) -> int:
    """The gunicorn master's worker (not `gone`, the one it replaced)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        children = [int(child) for child in children if int(child) != gone and rss_mb(int(child))]
        if children:
            return children[0]
        time.sleep(0.2)
    raise RuntimeError("no gunicorn worker")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lives", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10, help="events per second in each LIVE")
    parser.add_argument("--seconds", type=float, default=60, help="length of each LIVE")
    parser.add_argument("--viewers", type=int, default=200, help="viewers per LIVE (the same people in every LIVE)")
    parser.add_argument("--logs", help="a directory to copy the worker's and the emulator's logs into")
    args = parser.parse_args()

    from extensions import db
    from models import TikTokAccount, ViewerInteraction, ViewerProfile
    from services import tiktok
    from tests.emulator_support import ingest_env, running_emulator
    from tests.factories import make_user
    from tests.support import running_server
    from tests.tiktok_emulator.generate import event_count, generated_script, truth

    specs = {f"fleet.{n}": {"rate": args.rate, "events": int(args.rate * args.seconds), "viewers": args.viewers,
                            "seed": n} for n in range(args.lives)}
    warmup = {"rate": 20, "events": 20, "viewers": 5, "seed": 999_999}
    rooms = [{"unique_id": "fleet.warmup", "generate": warmup}]
    rooms += [{"unique_id": handle, "generate": spec} for handle, spec in specs.items()]

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with bench_app(tmp) as (app, database_url), app.app_context():
            warmup_id = tiktok.link_account(make_user("fleet-warmup"), "@fleet.warmup", "UTC").id
            accounts = {}
            for n, handle in enumerate(specs):
                account = tiktok.link_account(make_user(f"fleet-owner-{n}"), f"@{handle}", "UTC")
                account.paused = True
                accounts[handle] = account.id
            db.session.commit()
            ids = list(accounts.values())

            def scalar(statement):  # noqa: ANN001, ANN202
                try:
                    return db.session.execute(statement).scalar()
                finally:
                    db.session.rollback()

            def ended(account_ids: list[int]) -> int:
                return scalar(sa.select(sa.func.count()).select_from(TikTokAccount).where(
                    TikTokAccount.id.in_(account_ids), TikTokAccount.status == "offline",
                    TikTokAccount.room_id.is_not(None)))

            # Heartbeats every 10 s, the emulator's own default (the tests' 1 s would add 200 a second).
            with running_emulator(tmp, rooms, ping_interval=10) as emulator, running_server({
                **ingest_env(app, emulator), "INGEST_LEASE_SECONDS": "15", "INGEST_SWEEP_SECONDS": "60",
                "INGEST_BACKOFF_BASE_SECONDS": "1", "INGEST_OFFLINE_RECHECK_SECONDS": "3600",
                "LOG_LEVEL": "warning"}) as server:
                pid = worker_pid(server.process.pid)
                deadline = time.monotonic() + 120
                while ended([warmup_id]) < 1 and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(2)
                baseline = rss_mb(pid)

                # Every LIVE starts at once: the worker's next lease check takes them all.
                db.session.execute(sa.update(TikTokAccount).where(TikTokAccount.id.in_(ids)).values(paused=False))
                db.session.commit()
                started = time.monotonic()
                cpu_at_start = cpu_seconds(pid)
                # TikTok's servers are not on the worker's machine; the emulator is, and takes its cores.
                emulator_cpu_at_start = cpu_seconds(emulator.process.pid)
                last_id = scalar(sa.select(sa.func.coalesce(sa.func.max(ViewerInteraction.id), 0)))
                lags: list[float] = []
                sent_at: list[datetime] = []  # each lag's comment's TikTok time, in the same order
                first_seen = last_seen = None
                peak = baseline
                cpu_used = 0.0
                quiet_since = time.monotonic()
                restarts = 0
                limit = args.seconds * 10 + 300
                while time.monotonic() - started < limit:
                    time.sleep(0.1)
                    # Read along the primary key from the last id seen (the order and limit keep the
                    # planner there): a poll that scanned the growing table took 7.7 ms of the server
                    # ten times a second (pg_stat_statements, 200 LIVEs), CPU the worker was short of.
                    rows = db.session.execute(
                        sa.select(ViewerInteraction.id, ViewerInteraction.occurred_at)
                        .where(ViewerInteraction.id > last_id, ViewerInteraction.kind == "comment",
                               ViewerInteraction.account_id.in_(ids))
                        .order_by(ViewerInteraction.id).limit(50_000)).all()
                    db.session.rollback()
                    seen = datetime.now(UTC)
                    if rows:
                        last_id = max(row[0] for row in rows)
                        lags.extend((seen - row[1]).total_seconds() for row in rows)
                        sent_at.extend(row[1] for row in rows)
                        first_seen = first_seen or time.monotonic()
                        last_seen = time.monotonic()
                        quiet_since = time.monotonic()
                    size = rss_mb(pid)
                    cpu_used = cpu_seconds(pid) - cpu_at_start if size else cpu_used
                    if not size:  # gunicorn killed the worker (it missed its heartbeat) and started another
                        restarts += 1
                        pid = worker_pid(server.process.pid, gone=pid)
                    peak = max(peak, size)
                    # Done when every LIVE has ended, or nothing new has arrived for 90 s.
                    if (ended(ids) == len(ids) and time.monotonic() - quiet_since > 1) or \
                            (first_seen and time.monotonic() - quiet_since > 90):
                        break
                followed_for = time.monotonic() - started
                emulator_cpu = cpu_seconds(emulator.process.pid) - emulator_cpu_at_start
                if args.logs:
                    Path(args.logs).mkdir(parents=True, exist_ok=True)
                    shutil.copy(server.log_path, Path(args.logs) / "worker.log")
                    shutil.copy(emulator.log_path, Path(args.logs) / "emulator.log")

            got = {}
            for handle, account_id in accounts.items():
                rows = db.session.execute(
                    sa.select(ViewerProfile.tiktok_user_id, ViewerProfile.total_comments, ViewerProfile.total_likes,
                              ViewerProfile.total_coins).where(ViewerProfile.account_id == account_id)).all()
                got[handle] = {row[0]: {"comments": row[1], "likes": row[2], "coins": row[3]} for row in rows}
            db.session.rollback()

    scripts = {handle: generated_script(**spec) for handle, spec in specs.items()}
    sent_events = sum(event_count(script) for script in scripts.values())
    expected = {handle: truth(script) for handle, script in scripts.items()}
    sent_comments = sum(row["comments"] for totals in expected.values() for row in totals.values())
    exact = sum(1 for handle in specs if got[handle] == expected[handle])
    lost = sent_comments - len(lags)
    span = (last_seen - first_seen) if first_seen and last_seen and last_seen > first_seen else float("nan")
    applied = sent_events * (len(lags) / max(1, sent_comments))
    events_per_second = applied / span
    # When the worst lags happened: the p99 of the comments sent in each tenth of the run.
    by_time: dict[int, list[float]] = {}
    if sent_at:
        start, end = min(sent_at), max(sent_at)
        tenth = max((end - start).total_seconds() / 10, 1e-9)
        for moment, lag in zip(sent_at, lags, strict=True):
            by_time.setdefault(min(9, int((moment - start).total_seconds() / tenth)), []).append(lag)
    series = " ".join(f"{sorted(part)[int(len(part) * 0.99)] * 1000:.0f}" for _, part in sorted(by_time.items()))
    lags.sort()
    p50 = lags[len(lags) // 2] * 1000 if lags else float("nan")
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000 if lags else float("nan")
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    per_live = (peak - baseline) / max(1, args.lives)
    print(f"backend {backend}; {args.lives} LIVEs of {args.seconds:.0f} s, {sent_events} events sent "
          f"({sent_comments} comments); {exact}/{args.lives} accounts exact (comments, likes, coins per viewer); "
          f"median lag {p50:.0f} ms, max {lags[-1] * 1000 if lags else float('nan'):.0f} ms; worker RSS "
          f"{baseline:.0f} MB after warm-up, {peak:.0f} MB at peak; worker restarted {restarts} times; worker CPU "
          f"{cpu_used:.1f} s over {followed_for:.0f} s ({100 * cpu_used / followed_for:.0f}% of a core), "
          f"{1000 * cpu_used / max(1.0, applied):.2f} ms per event applied; the emulator's CPU {emulator_cpu:.1f} s; "
          f"p99 lag (ms) in each tenth of the "
          f"LIVEs: {series}")
    print(f"fleet: {args.lives} lives x {args.rate:g} ev/s -> {events_per_second:.0f} events/s, "
          f"p99 lag {p99:.0f} ms, {per_live:.2f} MB per live, lost {lost}")


if __name__ == "__main__":
    main()
