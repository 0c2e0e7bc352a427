"""The JSON-lines replay format, `flask ingest replay`, and the demo LIVE generator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from extensions import db
from ingest import demo, rules, sessions
from ingest.gifts import GIFTS
from ingest.records import parse_record
from ingest.replay import replay
from ingest.writer import REPLAY_BATCH_MAX, EventClock, Writer
from models import TikTokAccount, ViewerGift, ViewerProfile, ViewerSession
from services import tiktok
from tests.conftest import server_env
from tests.factories import make_user
from tests.ingest_support import event, gift, viewer
from tests.support import ROOT


def flask(app, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = {**os.environ, **server_env(app), "FLASK_APP": "app:create_app"}
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def totals(path) -> dict[str, int]:  # noqa: ANN001
    """What the file says, counted independently of the ingest code."""
    counts: Counter = Counter()
    users = set()
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        record = json.loads(line)
        if "user" in record:
            users.add(record["user"]["id"])
        if record["kind"] == "comment":
            counts["comments"] += 1
        elif record["kind"] == "like":
            counts["likes"] += record["count"]
        elif record["kind"] == "gift":
            counts["coins"] += record["diamond_count"] * record["repeat_count"]
        elif record["kind"] == "viewers":
            users.update(user["id"] for user in record.get("top", []))
    counts["viewers"] = len(users)
    return dict(counts)


def test_replay_command_feeds_the_writer_and_is_idempotent(app_ctx, tmp_path):
    path = tmp_path / "live.jsonl"
    demo.write(path, demo.generate(seed=3, viewers=80, minutes=6))
    expected = totals(path)
    with path.open("a") as out:
        out.write('{"kind": "comment", "id": "broken", "time": "yesterday"}\n')
    tiktok.link_account(make_user("riley"), "riley.live", "Europe/London")

    first = flask(app_ctx, "ingest", "replay", str(path), "--account", "@riley.live", "--speed", "0")
    assert first.returncode == 0, first.stderr
    assert "skipping malformed event" in first.stderr and "broken" not in first.stdout
    row = db.session.execute(sa.select(sa.func.count(), sa.func.sum(ViewerProfile.total_comments),
                                       sa.func.sum(ViewerProfile.total_likes), sa.func.sum(ViewerProfile.total_coins),
                                       sa.func.min(ViewerProfile.total_visits),
                                       sa.func.max(ViewerProfile.total_visits))).one()
    db.session.rollback()
    assert tuple(row) == (expected["viewers"], expected["comments"], expected["likes"], expected["coins"], 1, 1)

    again = flask(app_ctx, "ingest", "replay", str(path), "--account", "riley.live")
    assert again.returncode == 0 and "(0 new, " in again.stdout
    assert db.session.scalar(sa.select(sa.func.sum(ViewerProfile.total_comments))) == expected["comments"]
    db.session.rollback()

    fresh = flask(app_ctx, "ingest", "replay", str(path), "--account", "riley.live", "--fresh")
    assert fresh.returncode == 0, fresh.stderr
    assert db.session.scalar(sa.select(sa.func.sum(ViewerProfile.total_comments))) == 2 * expected["comments"]
    assert db.session.scalar(sa.select(sa.func.min(ViewerProfile.total_visits))) == 2  # a second LIVE
    db.session.rollback()

    # Paced: the writer greenlet applies batches while the replay waits between events; every
    # event of the third LIVE (six minutes played in under two seconds) must land.
    paced = flask(app_ctx, "ingest", "replay", str(path), "--account", "riley.live", "--fresh", "--speed", "200")
    assert paced.returncode == 0, paced.stderr
    assert db.session.scalar(sa.select(sa.func.sum(ViewerProfile.total_comments))) == 3 * expected["comments"]
    assert db.session.scalar(sa.select(sa.func.sum(ViewerProfile.total_likes))) == 3 * expected["likes"]
    db.session.rollback()

    unknown = flask(app_ctx, "ingest", "replay", str(path), "--account", "nobody")
    assert unknown.returncode != 0 and "No linked TikTok account @nobody" in unknown.stderr


def test_the_demo_live_is_realistic(tmp_path):
    records = demo.generate(seed=5, viewers=3000, minutes=60)
    path = tmp_path / "demo.jsonl"
    demo.write(path, records)
    parsed = [parse_record(line) for line in path.read_text().splitlines() if not line.startswith("#")]
    assert len(parsed) == len(records) > 3000
    kinds = Counter(record.kind for record in parsed)
    assert kinds["join"] >= 3000 and kinds["live_start"] == 1 and kinds["live_end"] == 1
    # Long-tailed: the busiest tenth of the commenters write more than half of the comments.
    per_viewer = Counter(record.user.id for record in parsed if record.kind == "comment")
    busiest = sum(count for _, count in per_viewer.most_common(max(1, len(per_viewer) // 10)))
    assert busiest > sum(per_viewer.values()) / 2
    # Gifts at the catalogue's coin prices, including the big gifter's Lion.
    for record in (r for r in parsed if r.kind == "gift"):
        assert GIFTS[record.data["gift_name"]][1] == record.data["diamond_count"]
    assert any(r.kind == "gift" and r.user.id == demo.BIG_GIFTER.id and r.data["gift_name"] == "Lion" for r in parsed)
    assert any(r.user and r.user.id == demo.BIRTHDAY_VIEWER.id for r in parsed)
    # Like storms: some minute has hundreds of likers.
    likers = Counter(r.time.replace(second=0, microsecond=0) for r in parsed if r.kind == "like")
    assert max(likers.values()) >= 200
    assert [r.time for r in parsed] == sorted(r.time for r in parsed)


def test_gift_rows_match_the_file(app_ctx, tmp_path):
    records = demo.generate(seed=9, viewers=120, minutes=10)
    account = tiktok.link_account(make_user("riley"), "riley.live")
    for start in range(0, len(records), 250):
        rules.apply_batch(account.id, records[start:start + 250])
    gifts = [r for r in records if r.kind == "gift"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerGift)) == len(gifts)
    assert db.session.scalar(sa.select(sa.func.sum(ViewerGift.coins))) == sum(
        r.data["diamond_count"] * r.data["repeat_count"] for r in gifts)


def replay_cli(app, path, *args: str, **env: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    return subprocess.run([sys.executable, "-m", "flask", "ingest", "replay", str(path), *args], cwd=ROOT,
                          env={**os.environ, **server_env(app), "FLASK_APP": "app:create_app", **env},
                          capture_output=True, text=True, timeout=600)


def test_a_full_speed_replay_outlasting_the_stop_timeout_applies_every_event(app_ctx, tmp_path):
    """Bug 1: at --speed 0 the whole file was queued before the writer ran, `stop(30)` timed out and
    killed the writer in the middle of a batch: up to 499 events lost, the live end among them, and
    the command still said "(N new)". Here the file holds more than two of the replay's batches and
    the stop timeout is 0.01 s, far shorter than the replay: exact totals and the LIVE over. (Whether
    the timeout passes with events still queued depends on the machine's speed here; the writer's
    test below makes it certain.)"""
    path = tmp_path / "big.jsonl"
    records = demo.generate(seed=11, viewers=4000, minutes=30)
    assert len(records) > 2 * REPLAY_BATCH_MAX
    demo.write(path, records)
    account_id = tiktok.link_account(make_user("riley"), "riley.live").id
    done = replay_cli(app_ctx, path, "--account", "riley.live", INGEST_STOP_SECONDS="0.01")
    assert done.returncode == 0, done.stderr
    assert f"Replayed {len(records)} events into @riley.live ({len(records)} new, 0 already applied" in done.stdout
    assert_applied_exactly(path, account_id)


def test_a_writer_stopped_in_the_middle_of_its_work_applies_every_event_by_draining(app_ctx, tmp_path):
    """The stop timeout passing while the writer is busy: it is never killed in the middle of a
    batch, and whatever is still queued is applied by `drain`, as `flask ingest replay` does.
    Everything is queued before the writer runs (nothing here yields), so a timeout of 0 has
    certainly passed while it works, on any machine."""
    path = tmp_path / "live.jsonl"
    records = demo.generate(seed=11, viewers=400, minutes=12)
    demo.write(path, records)
    account_id = tiktok.link_account(make_user("riley"), "riley.live").id
    db.session.remove()
    writer = Writer(app_ctx, clock=EventClock(), sweep_accounts=lambda: [account_id], batch_max=500).start()
    assert replay(path, account_id, writer.put) == len(records)
    assert writer.stop(timeout=0) is False  # the timeout passed with the writer at work
    writer.drain()
    sessions.sweep([account_id], writer.clock)
    assert (writer.applied, writer.failed) == (len(records), 0)
    assert_applied_exactly(path, account_id)


def assert_applied_exactly(path, account_id: int) -> None:  # noqa: ANN001
    expected = totals(path)
    row = db.session.execute(sa.select(sa.func.count(), sa.func.sum(ViewerProfile.total_comments),
                                       sa.func.sum(ViewerProfile.total_likes),
                                       sa.func.sum(ViewerProfile.total_coins))).one()
    assert tuple(row) == (expected["viewers"], expected["comments"], expected["likes"], expected["coins"])
    assert db.session.get(TikTokAccount, account_id).status == "offline"  # the live end, the last event
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerSession)
                             .where(ViewerSession.ended_at.is_(None))) == 0
    db.session.rollback()


def test_a_replay_runs_the_sweeper_on_the_events_clock(app_ctx, tmp_path):
    """Bug 2: the sweeper ran on the wall clock during a replay of a recorded LIVE, so every sweep
    found the viewer idle (their events are months old) and closed the session: one viewer commenting
    every 20 s for 200 s came out as several sessions and less watchtime. Sweeping after every batch,
    on the events' clock, they are one session of 200 s."""
    start = datetime(2026, 2, 3, 19, 0, tzinfo=UTC)
    someone = viewer(4242, "steady")
    records = [event("live_start", start, message_id="start")]
    records += [event("comment", start + timedelta(seconds=20 * n), someone, message_id=f"c{n}", text=f"n{n}")
                for n in range(11)]
    records.append(event("live_end", start + timedelta(seconds=201), message_id="end"))
    path = tmp_path / "steady.jsonl"
    demo.write(path, records)
    tiktok.link_account(make_user("riley"), "riley.live")
    done = replay_cli(app_ctx, path, "--account", "riley.live", "--speed", "40", INGEST_SWEEP_SECONDS="0.001")
    assert done.returncode == 0, done.stderr
    sessions = db.session.execute(sa.select(ViewerSession.started_at, ViewerSession.ended_at)).all()
    assert sessions == [(start, start + timedelta(seconds=200))]
    assert db.session.scalar(sa.select(ViewerProfile.total_watch_seconds)) == 200
    db.session.rollback()


def test_a_replay_that_cannot_apply_everything_says_so_and_fails(app_ctx, tmp_path):
    """A replay reports what became of every event. An event the rules refuse (a like of no likes)
    is reported as malformed: the file's fault, and the rest applies. An event the database cannot
    take (a price too big for any integer column) is not applied: the command says so and fails."""
    start = datetime(2026, 2, 3, 19, 0, tzinfo=UTC)
    records = [event("comment", start, viewer(1), message_id="ok", text="fine"),
               event("like", start, viewer(2), message_id="zero", count=0)]
    path = tmp_path / "refused.jsonl"
    demo.write(path, records)
    tiktok.link_account(make_user("riley"), "riley.live")
    done = replay_cli(app_ctx, path, "--account", "riley.live")
    assert done.returncode == 0, done.stderr
    assert "Replayed 2 events into @riley.live (1 new, 0 already applied, 1 malformed, 0 failed)." in done.stdout

    path = tmp_path / "poison.jsonl"
    demo.write(path, [event("comment", start, viewer(3), message_id="fine-2", text="fine"),
                      gift(start, viewer(4), price=2**70, message_id="poison")])
    failed = replay_cli(app_ctx, path, "--account", "riley.live")
    assert failed.returncode != 0
    assert "(1 new, 0 already applied, 0 malformed, 1 failed)." in failed.stdout
    assert "1 of 2 events could not be applied" in failed.stderr
    assert db.session.scalar(sa.select(sa.func.sum(ViewerProfile.total_comments))) == 2
    db.session.rollback()
