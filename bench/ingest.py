"""Replays N generated events (demo LIVEs) through the ingest writer into a fresh database.

    python -m bench.ingest --events 50000                    # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1/postgres \\
        python -m bench.ingest --events 50000                # a fresh PostgreSQL database

Two phases, both through the real writer (batches of up to 500 events or 100 ms, one transaction
each, then the studio fragments rendered and published):

1. throughput: all N events queued at once, drained as fast as the writer can;
2. lag: events fed at --rate per second, stamped when queued; lag = commit time - queue time.

The last line reads `ingest: BACKEND N events -> R events/s, p99 lag L ms`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_app  # noqa: E402


def generated_events(count: int, account_id: int):  # noqa: ANN201
    """`count` events from as many generated demo LIVEs as it takes, each LIVE a new room."""
    from ingest import demo

    events = []
    seed = 0
    while len(events) < count:
        seed += 1
        for record in demo.generate(seed=seed, viewers=3000, minutes=60, room_id=f"74{seed:017d}"):
            events.append(replace(record, message_id=f"{seed}:{record.message_id}", account_id=account_id))
    return events[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=5000, help="events per second in the lag phase")
    parser.add_argument("--lag-seconds", type=float, default=5, help="length of the lag phase")
    args = parser.parse_args()

    import gevent

    from extensions import db, utcnow
    from ingest.writer import Writer
    from services import tiktok
    from tests.factories import make_user

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with bench_app(tmp) as (app, database_url):
            with app.app_context():
                account_id = tiktok.link_account(make_user("bench-streamer"), "bench.host").id
                events = generated_events(args.events, account_id)
                db.session.remove()

            # Phase 1: throughput with a full queue.
            writer = Writer(app)
            for record in events:
                writer.put(record)
            started = time.perf_counter()
            writer.drain()
            seconds = time.perf_counter() - started
            assert writer.applied == len(events), f"applied {writer.applied} of {len(events)}"

            # Phase 2: lag at a steady rate, events stamped as they are queued.
            lag_events = generated_events(int(args.rate * args.lag_seconds), account_id)
            lag_writer = Writer(app)
            lag_writer.record_lag = True
            lag_writer.start()
            begun = time.perf_counter()
            for number, record in enumerate(lag_events):
                due = begun + number / args.rate
                if due > time.perf_counter():
                    gevent.sleep(due - time.perf_counter())
                lag_writer.put(replace(record, message_id=f"lag:{record.message_id}", time=utcnow()))
            while lag_writer.applied < len(lag_events) and time.perf_counter() - begun < 600:
                gevent.sleep(0.05)
            lag_writer.stop()
            lags = sorted(lag_writer.lags)
            with app.app_context():
                viewers_count = db.session.execute(sa.text("SELECT count(*) FROM viewer_profiles")).scalar()
                db.session.remove()

    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000
    print(f"backend {backend}; {viewers_count} viewer profiles; throughput phase {seconds:.2f} s; "
          f"lag phase {len(lag_events)} events at {args.rate:.0f}/s, median lag "
          f"{statistics.median(lags) * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms")
    print(f"ingest: {backend} {len(events)} events -> {len(events) / seconds:.0f} events/s, p99 lag {p99:.0f} ms")


if __name__ == "__main__":
    main()
