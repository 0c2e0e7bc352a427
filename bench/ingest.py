"""Replays N generated events (demo LIVEs) through the ingest writer into a fresh database, and
checks that the totals are exact against the stream's known truth.

    python -m bench.ingest --events 50000                    # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1/postgres \\
        python -m bench.ingest --events 50000                # a fresh PostgreSQL database
    python -m bench.ingest --events 50000 --profile          # where the time goes (pyinstrument)

Two phases, both through the real writer (one transaction a batch, then the studio fragments
rendered and published, as to a streamer with the studio open):

1. throughput: all N events queued at once, drained as fast as the writer can, on the events'
   clock, in batches of up to --batch-max events (by default 10,000, as `flask ingest replay`
   takes them; a writer in a web worker takes at most 2,000: `--batch-max 2000`); then coins,
   likes, comments, viewers, visits, sessions and heatmap cells are compared with what the stream
   says, counted here without the ingest rules;
2. lag: events fed at --rate per second, stamped when queued, to a writer as a web worker runs it
   (batches of what came in 50 ms, up to 2,000 events); lag = commit time - queue time.

The viewers (TikTok user ids) come back to every generated LIVE and keep their names;
`--rename-every-live` gives them new names at each LIVE, as the stream did before 3 December 2026
(every returning viewer renamed: their search entries rewritten too).

The last line reads `ingest: BACKEND N events -> R events/s, p99 lag L ms`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_app  # noqa: E402

#: Kinds that count as one heatmap hit (the product's rule, restated here on purpose).
HEATMAP_KINDS = {"comment", "gift", "like", "share", "follow", "join"}
LIVE_START = datetime(2026, 1, 9, 19, 0, tzinfo=UTC)


def generated_events(count: int, account_id: int, prefix: str = "", *, rename_every_live: bool = False):  # noqa: ANN201
    """`count` events from as many generated demo LIVEs as it takes, each LIVE a new room, one after
    the other (three hours apart, so no viewer is in two at once). The same viewers (TikTok user
    ids) come back to every LIVE and keep the names of their first, as people do; with
    `rename_every_live` each LIVE gives them new names (the generator draws names per seed), so
    every returning viewer is renamed, as this benchmark's stream did before 3 December 2026."""
    from ingest import demo

    events = []
    seed = 0
    first_names: dict[int, Any] = {}
    while len(events) < count:
        seed += 1
        for record in demo.generate(seed=seed, viewers=3000, minutes=60, room_id=f"74{seed:017d}",
                                    start=LIVE_START + timedelta(hours=3 * (seed - 1))):
            user = record.user
            if user is not None and not rename_every_live:
                user = first_names.setdefault(user.id, user)
            events.append(replace(record, user=user, message_id=f"{prefix}{seed}:{record.message_id}",
                                  account_id=account_id))
    return events[:count]


def truth(events, session_timeout: int = 300) -> dict[str, int]:  # noqa: ANN001
    """What the stream says, counted directly: a session ends after `session_timeout` s without
    activity (any event of the viewer, or being in a top-viewers list) or at a new room; a visit
    is one room; a heatmap cell is (viewer, weekday, hour) in UTC."""
    activity: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    cells, totals = set(), defaultdict(int)
    for record in events:
        users = [record.user] if record.user else list(record.data.get("top", []))
        for user in users:
            activity[(user.id, record.room_id)].append(record.time)
        if record.user is None:
            continue
        kind, data = record.kind, record.data
        if kind == "gift" and data.get("streaking"):
            continue
        if kind in HEATMAP_KINDS:
            cells.add((record.user.id, record.time.weekday(), record.time.hour))
            totals["hits"] += 1
        if kind == "gift":
            totals["coins"] += data["diamond_count"] * data["repeat_count"]
        elif kind == "like":
            totals["likes"] += data["count"]
        elif kind == "comment":
            totals["comments"] += 1
    for times in activity.values():
        times.sort()
        gaps = ((later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False))
        totals["sessions"] += 1 + sum(1 for gap in gaps if gap > session_timeout)
    totals["viewers"] = len({user_id for user_id, _ in activity})
    totals["visits"] = len(activity)
    totals["cells"] = len(cells)
    return dict(totals)


def stored(account_id: int) -> dict[str, int]:
    from extensions import db

    def one(sql: str) -> int:
        return int(db.session.execute(sa.text(sql), {"a": account_id}).scalar() or 0)

    return {
        "viewers": one("SELECT count(*) FROM viewer_profiles WHERE account_id = :a"),
        "coins": one("SELECT sum(total_coins) FROM viewer_profiles WHERE account_id = :a"),
        "likes": one("SELECT sum(total_likes) FROM viewer_profiles WHERE account_id = :a"),
        "comments": one("SELECT sum(total_comments) FROM viewer_profiles WHERE account_id = :a"),
        "visits": one("SELECT sum(total_visits) FROM viewer_profiles WHERE account_id = :a"),
        "sessions": one("SELECT count(*) FROM viewer_sessions WHERE account_id = :a"),
        "cells": one("SELECT count(*) FROM viewer_activity_heatmap WHERE account_id = :a"),
        "hits": one("SELECT sum(hits) FROM viewer_activity_heatmap WHERE account_id = :a"),
    }


def server_cpu() -> dict[int, float]:
    """PostgreSQL on this machine: CPU seconds used so far by each backend of the bench database
    (pid -> seconds, from /proc), so the server's share of the work is counted too. Empty on SQLite
    or when the server's processes cannot be read."""
    import os

    from extensions import db

    if db.session.get_bind().dialect.name != "postgresql":
        return {}
    pids = db.session.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()
    tick, used = os.sysconf("SC_CLK_TCK"), {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=5000, help="events per second in the lag phase")
    parser.add_argument("--lag-seconds", type=float, default=5, help="length of the lag phase")
    parser.add_argument("--batch-max", type=int,
                        help="largest batch of the throughput phase (default: a replay's, 10,000)")
    parser.add_argument("--profile", action="store_true", help="profile the throughput phase with pyinstrument")
    parser.add_argument("--rename-every-live", action="store_true",
                        help="give the returning viewers new names at every LIVE (the stream before 3 December 2026)")
    args = parser.parse_args()

    import gevent

    from extensions import db, utcnow
    from ingest.writer import REPLAY_BATCH_MAX, EventClock, Writer
    from realtime import current_hub
    from realtime.channels import studio_channel
    from runtime import keep_start_up_objects_out_of_full_collections
    from services import tiktok
    from tests.factories import make_user

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with bench_app(tmp) as (app, database_url):
            # As `flask ingest replay` does once it has started (before it reads any event).
            keep_start_up_objects_out_of_full_collections()
            with app.app_context():
                account = tiktok.link_account(make_user("bench-streamer"), "bench.host")
                account_id, timeout = account.id, account.session_timeout
                events = generated_events(args.events, account_id, rename_every_live=args.rename_every_live)
                expected = truth(events, timeout)
                db.session.remove()
                # The streamer has the studio open: the writer renders and publishes its card.
                current_hub().listen(studio_channel(account_id), lambda html: None)

            # Phase 1: throughput with a full queue, on the events' clock.
            with app.app_context():
                server_before = server_cpu()
                db.session.remove()
            writer = Writer(app, clock=EventClock(), batch_max=args.batch_max or REPLAY_BATCH_MAX)
            for record in events:
                writer.put(record)
            profiler = None
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.001)
                profiler.start()
            started, cpu_started = time.perf_counter(), time.process_time()
            writer.drain()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            if profiler is not None:
                profiler.stop()
                print(profiler.output_text(unicode=False, color=False, show_all=False))
            assert writer.applied == len(events), f"applied {writer.applied} of {len(events)}"
            with app.app_context():
                server_after = server_cpu()
                found = stored(account_id)
                db.session.remove()
            server = sum(seconds - server_before.get(pid, 0) for pid, seconds in server_after.items())
            exact = found == expected
            print(f"exact: {'yes' if exact else 'NO'}; " + ", ".join(f"{key} {value:,}" for key, value in
                                                                      sorted(found.items())))
            if not exact:
                print(f"expected: {sorted(expected.items())}")

            # Phase 2: lag at a steady rate, events stamped as they are queued.
            lag_events = generated_events(int(args.rate * args.lag_seconds), account_id, prefix="lag:",
                                          rename_every_live=args.rename_every_live)
            lag_writer = Writer(app)
            lag_writer.record_lag = True
            lag_writer.start()
            begun = time.perf_counter()
            for number, record in enumerate(lag_events):
                due = begun + number / args.rate
                if due > time.perf_counter():
                    gevent.sleep(due - time.perf_counter())
                lag_writer.put(replace(record, time=utcnow()))
            while lag_writer.applied < len(lag_events) and time.perf_counter() - begun < 600:
                gevent.sleep(0.05)
            lag_writer.stop()
            lags = sorted(lag_writer.lags)

    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000
    print(f"backend {backend}; {found['viewers']} viewer profiles; throughput phase {seconds:.2f} s "
          f"in batches of up to {args.batch_max or REPLAY_BATCH_MAX:,} events "
          f"({cpu:.2f} s of CPU in this process: {len(events) / cpu:.0f} events per CPU second"
          + (f"; {server:.2f} s in the PostgreSQL server, {len(events) / (cpu + server):.0f} events per CPU "
             f"second of both" if server_after else "") + "); "
          f"lag phase {len(lag_events)} events at {args.rate:.0f}/s, median lag "
          f"{statistics.median(lags) * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms")
    print(f"ingest: {backend} {len(events)} events -> {len(events) / seconds:.0f} events/s, p99 lag {p99:.0f} ms")
    if not exact:
        sys.exit(1)


if __name__ == "__main__":
    main()
