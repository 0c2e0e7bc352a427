"""The viewer-profile rules, applied through `ingest.rules` exactly as the writer applies them,
on a real database, with a controllable clock. Docstrings name the original's bug each test catches
(research/viewer-profiles-original.md §6)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from extensions import db
from ingest import rules, sessions
from ingest.records import EventRecord, Viewer
from models import (
    VIEWER_ROWS,
    GiftStreak,
    IngestedMessage,
    TikTokAccount,
    ViewerActivity,
    ViewerGift,
    ViewerInteraction,
    ViewerProfile,
    ViewerSession,
    VipTier,
)
from services import account_figures, local_time, studio, tiktok, vip
from services.errors import FieldError
from tests.conftest import DATABASE_URL
from tests.factories import make_user
from tests.ingest_support import ROOM, FakeClock, event, gift, viewer
from tests.support import wait_for

START = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)  # a Friday


def linked(handle: str = "@host", time_zone: str = "UTC", **settings):  # noqa: ANN201
    account = tiktok.link_account(make_user(), handle, time_zone)
    for name, value in settings.items():
        setattr(account, name, value)
    db.session.commit()
    return account


def profile(account, user_id: int = 1001) -> ViewerProfile:  # noqa: ANN001
    db.session.expire_all()
    return db.session.scalar(sa.select(ViewerProfile).where(ViewerProfile.account_id == account.id,
                                                            ViewerProfile.tiktok_user_id == user_id))


def apply(account, clock, *records):  # noqa: ANN001, ANN201
    return rules.apply_batch(account.id, list(records), clock)


@pytest.fixture(name="clock")
def clock_fixture() -> FakeClock:
    return FakeClock(START)


# --- visits and sessions ---------------------------------------------------------------------


def test_a_new_viewer_has_exactly_one_visit(app_ctx, clock):
    """B1: creating the profile and opening its first session must not make two visits."""
    account = linked()
    result = apply(account, clock, event("comment", clock.now(), viewer(), text="hi"))
    assert profile(account).total_visits == 1
    assert [notice.kind for notice in result.notices] == ["new_viewer"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerSession)) == 1


def test_visits_count_lives_not_sessions(app_ctx, clock):
    """B2: a viewer who goes quiet past the timeout and comes back in the same LIVE starts a second
    session but not a second visit; the next LIVE (another room) is a second visit."""
    account = linked(session_timeout=300)
    someone = viewer()
    apply(account, clock, event("comment", clock.now(), someone, text="hi"))
    clock.advance(1200)  # 20 minutes of silence: the first session is over
    apply(account, clock, event("comment", clock.now(), someone, text="back"))
    assert profile(account).total_visits == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerSession)) == 2
    clock.advance(86400)
    apply(account, clock, event("join", clock.now(), someone, room="7300000000000000999"))
    assert profile(account).total_visits == 2


def test_watchtime_is_credited_incrementally_and_bounded_by_the_timeout(app_ctx, clock):
    """B2/B3: watchtime grows every sweep while the viewer is active, stops at their last activity
    (a silent viewer is not credited for the timeout or beyond), and is never credited twice."""
    account = linked(session_timeout=300)
    someone = viewer()
    apply(account, clock, event("join", clock.now(), someone))
    for _ in range(3):  # active for three minutes
        clock.advance(60)
        apply(account, clock, event("like", clock.now(), someone, count=1))
        sessions.sweep([account.id], clock)
    assert profile(account).total_watch_seconds == 180  # credited while the session is open
    session = db.session.scalar(sa.select(ViewerSession))
    assert session.ended_at is None
    clock.advance(240)  # quiet, but within the timeout: nothing more to credit
    sessions.sweep([account.id], clock)
    assert profile(account).total_watch_seconds == 180
    clock.advance(3600)  # long gone: closed at the last activity, still 180 s
    sessions.sweep([account.id], clock)
    sessions.sweep([account.id], clock)
    db.session.expire_all()
    session = db.session.scalar(sa.select(ViewerSession))
    assert session.ended_at == START + timedelta(seconds=180)
    assert session.credited_seconds == 180
    assert profile(account).total_watch_seconds == 180


def test_live_end_closes_every_session_and_start_up_repair_closes_orphans(app_ctx, clock):
    """B2: sessions close when the LIVE ends; sessions a crash left open are closed at their last
    activity by the start-up repair, with their watchtime credited once."""
    account = linked()
    apply(account, clock, event("join", clock.now(), viewer(1)), event("join", clock.now(), viewer(2)))
    clock.advance(120)
    apply(account, clock, event("comment", clock.now(), viewer(1), text="still here"))
    clock.advance(10)
    apply(account, clock, event("live_end", clock.now()))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerSession)
                             .where(ViewerSession.ended_at.is_(None))) == 0
    assert profile(account, 1).total_watch_seconds == 120
    assert account.status == "offline"

    # A "crash": a new LIVE's session left open, then the repair a new holder runs.
    clock.advance(3600)
    apply(account, clock, event("join", clock.now(), viewer(3), room="7300000000000000777"))
    clock.advance(45)
    apply(account, clock, event("like", clock.now(), viewer(3), room="7300000000000000777", count=2))
    assert sessions.repair_open_sessions([account.id], clock) == 1
    assert sessions.repair_open_sessions([account.id], clock) == 0
    assert profile(account, 3).total_watch_seconds == 45


# --- gifts, likes, comments, idempotency -------------------------------------------------------


def test_a_streak_of_five_roses_counts_once_as_five_coins(app_ctx, clock):
    """B5/B6: streak ticks are skipped, the streak end counts once, coins = price x units (no x2),
    and gifts count units."""
    account = linked()
    someone = viewer()
    ticks = [gift(clock.now(), someone, repeat=n, streaking=True) for n in range(1, 6)]
    apply(account, clock, *ticks, gift(clock.now(), someone, repeat=5))
    viewer_profile = profile(account)
    assert (viewer_profile.total_coins, viewer_profile.total_gifts) == (5, 5)
    rows = db.session.execute(sa.select(ViewerGift.gift_name, ViewerGift.diamond_count, ViewerGift.quantity,
                                        ViewerGift.coins)).all()
    assert rows == [("Rose", 1, 5, 5)]


def test_likes_count_by_their_count_and_fold_per_minute(app_ctx, clock):
    """B5/B8: a like event adds its count, and a like storm adds to one log row per viewer per minute."""
    account = linked()
    someone = viewer()
    storm = [event("like", clock.now() + timedelta(milliseconds=50 * n), someone, count=15) for n in range(400)]
    apply(account, clock, *storm[:200])
    apply(account, clock, *storm[200:])
    assert profile(account).total_likes == 400 * 15
    rows = db.session.execute(sa.select(ViewerInteraction.kind, ViewerInteraction.count)).all()
    assert rows == [("like", 6000)]  # 400 events in 20 s: one row


def test_a_repeated_message_id_changes_nothing(app_ctx, clock):
    """Idempotency: a reconnect replays recent history; the same message ids must not count again."""
    account = linked()
    someone = viewer()
    batch = [event("comment", clock.now(), someone, text="hi", message_id="m-1"),
             gift(clock.now(), someone, name="Corgi", price=299, message_id="m-2"),
             event("like", clock.now(), someone, count=7, message_id="m-3")]
    apply(account, clock, *batch)
    before = profile(account)
    snapshot = (before.total_comments, before.total_coins, before.total_likes, before.total_visits)
    clock.advance(30)
    result = apply(account, clock, *batch, batch[0])
    after = profile(account)
    after_counts = (after.total_comments, after.total_coins, after.total_likes, after.total_visits)
    assert after_counts == snapshot == (1, 299, 7, 1)
    assert (result.applied, result.duplicates) == (0, 4)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerGift)) == 1
    assert db.session.scalar(sa.select(sa.func.sum(ViewerActivity.hits))) == 3


def test_a_malformed_event_is_logged_and_skipped(app_ctx, clock, caplog):
    """A bad record (no user, a like count that is not a number) is logged and skipped; the rest of
    the batch is applied."""
    account = linked()
    bad_like = EventRecord("like", "bad-1", clock.now(), ROOM, viewer(7), {"count": "lots"})
    no_user = EventRecord("comment", "bad-2", clock.now(), ROOM, None, {"text": "who?"})
    with caplog.at_level(logging.WARNING, logger="ingest.rules"):
        result = apply(account, clock, bad_like, event("comment", clock.now(), viewer(8), text="fine"), no_user)
    assert (result.applied, result.malformed) == (1, 2)
    assert profile(account, 8).total_comments == 1
    assert profile(account, 7) is None
    assert "bad-1" in caplog.text and "bad-2" in caplog.text


def test_a_batch_updates_each_known_viewer_once_renamed_or_not(app_ctx, clock):
    """A known viewer's row is written once per batch, a renamed one's too (on PostgreSQL each
    update of a row is a new version of it with an entry in every one of its indexes), and the
    names are set only for the viewers whose names changed."""
    account = linked()
    apply(account, clock, *(event("comment", clock.now(), viewer(user_id), text="hi") for user_id in (1, 2, 3)))
    clock.advance(60)
    updates: list[tuple[bool, Any]] = []

    def count(_conn, cursor, statement, *_args) -> None:  # noqa: ANN001, ANN002
        if statement.startswith("UPDATE viewer_profiles SET"):
            updates.append((" handle = " in statement, cursor))

    engine = db.session.get_bind()
    sa.event.listen(engine, "after_cursor_execute", count)
    try:
        apply(account, clock, event("comment", clock.now(), viewer(1), text="same name"),
              event("comment", clock.now(), Viewer(id=2, handle="new_name", nickname="New"), text="renamed"),
              event("like", clock.now(), viewer(3), count=5))
    finally:
        sa.event.remove(engine, "after_cursor_execute", count)
    # (sets the names, rows): the two viewers who kept their names, then the renamed one. (The rows
    # are read once the batch is in: on PostgreSQL the writer does not wait for each write's answer.)
    assert sorted((names, cursor.rowcount) for names, cursor in updates) == [(False, 2), (True, 1)]
    found = [profile(account, user_id) for user_id in (1, 2, 3)]
    assert [(p.handle, p.nickname, p.total_comments, p.total_likes) for p in found] == [
        ("viewer1", "Viewer 1", 2, 0), ("new_name", "New", 2, 0), ("viewer3", "Viewer 3", 1, 5)]


def test_viewer_is_keyed_by_numeric_id_and_keeps_what_events_carry(app_ctx, clock):
    """B4/B10: the numeric user id is the key (a renamed handle is the same viewer, two viewers with
    one nickname stay two); comment text is stored; badges, levels and follower counts are filled."""
    account = linked()
    first = Viewer(id=5, handle="old_name", nickname="Sam", badges=({"scene": "FANS", "level": 12},
                                                                    {"scene": "USER_GRADE", "level": 30}),
                   follower_count=321)
    apply(account, clock, event("comment", clock.now(), first, text="first words"),
          event("comment", clock.now(), Viewer(id=6, handle="other", nickname="Sam"), text="me too"))
    clock.advance(60)
    apply(account, clock, event("comment", clock.now(), Viewer(id=5, handle="new_name", nickname="Sam B"),
                                text="renamed"))
    renamed = profile(account, 5)
    assert (renamed.handle, renamed.nickname, renamed.total_comments) == ("new_name", "Sam B", 2)
    assert (renamed.fan_level, renamed.gifter_level, renamed.follower_count) == (12, 30, 321)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerProfile)) == 2
    texts = db.session.scalars(sa.select(ViewerInteraction.content).where(ViewerInteraction.viewer_id == renamed.id)
                               .order_by(ViewerInteraction.id)).all()
    assert texts == ["first words", "renamed"]
    columns = set(ViewerProfile.__table__.columns.keys())
    assert not columns & {"bio", "age", "gender", "country", "language", "loyalty_points", "verified"}


AWKWARD = ['say "hi", {friends} \\ NULL', "NULL", " spaced ", "emoji 🎉 日本語", 'back\\slash\\"quote', "{}", '"']


def test_text_is_stored_exactly_as_it_came(app_ctx, clock):
    """Names, comments, gift names and badges with quotes, backslashes, commas, braces and the word
    NULL come back exactly as sent, through a new viewer's insert and a known viewer's update (the
    writer sends a batch's rows as array texts on PostgreSQL)."""
    account = linked()
    badges = ({"scene": "FANS", "level": 3, "label": 'a "b", {c} \\'},)
    apply(account, clock, *[event("comment", clock.now(), Viewer(id=7, handle=f"h{text}", nickname=text, badges=badges),
                                  text=text) for text in AWKWARD],
          gift(clock.now(), Viewer(id=7), name='Rose "red", {x}'))
    assert list(profile(account, 7).badges) == [badges[0]]
    clock.advance(60)
    apply(account, clock, event("comment", clock.now(), Viewer(id=7, handle='new"h', nickname='{N,U\\LL}'),
                                text="NULL"))
    stored = profile(account, 7)
    assert (stored.handle, stored.nickname) == ('new"h', '{N,U\\LL}')
    assert db.session.scalars(sa.select(ViewerInteraction.content).where(ViewerInteraction.viewer_id == stored.id)
                              .order_by(ViewerInteraction.id)).all() == [*AWKWARD, "NULL"]
    assert db.session.scalar(sa.select(ViewerGift.gift_name)) == 'Rose "red", {x}'


def test_times_are_stored_as_aware_utc(app_ctx, clock):
    """T1: every stored time comes back as an aware UTC datetime, whatever zone it was given in."""
    account = linked(time_zone="Asia/Tokyo")
    tokyo = START.astimezone(ZoneInfo("Asia/Tokyo"))
    apply(account, clock, event("comment", tokyo, viewer(), text="hi"))
    viewer_profile = profile(account)
    assert viewer_profile.first_seen_at == START and viewer_profile.first_seen_at.tzinfo == UTC
    assert db.session.scalar(sa.select(ViewerSession.started_at)).utcoffset() == timedelta(0)


def test_a_known_viewers_first_and_last_seen_only_move_outward(app_ctx, clock):
    """An event older than the profile (a recorded LIVE replayed late) moves its first-seen time
    back, and leaves its last-seen time; a newer one moves last-seen only."""
    account = linked()
    apply(account, clock, event("comment", START + timedelta(minutes=10), viewer(), text="first"))
    apply(account, clock, event("like", START, viewer(), count=3))
    stored = profile(account)
    assert (stored.first_seen_at, stored.last_seen_at) == (START, START + timedelta(minutes=10))
    assert (stored.total_comments, stored.total_likes) == (1, 3)
    apply(account, clock, event("comment", START + timedelta(minutes=20), viewer(), text="later"))
    stored = profile(account)
    assert (stored.first_seen_at, stored.last_seen_at) == (START, START + timedelta(minutes=20))
    assert (stored.total_comments, stored.total_likes, stored.total_coins) == (2, 3, 0)
    # The sort on first seen reads its index: the moved time is there too.
    apply(account, clock, event("comment", START + timedelta(minutes=5), viewer(2002), text="other"))
    assert [row.tiktok_user_id for row in db.session.execute(
        sa.select(ViewerProfile.tiktok_user_id).where(ViewerProfile.account_id == account.id)
        .order_by(ViewerProfile.first_seen_at, ViewerProfile.id))] == [1001, 2002]


def test_a_failed_batch_leaves_nothing_behind(app_ctx, clock):
    """B8: a batch is one transaction; when it fails nothing of it stays, not even its message ids."""
    account = linked()
    good = event("comment", clock.now(), viewer(1), text="ok", message_id="t-1")
    poison = gift(clock.now(), viewer(2), price=2**70, message_id="t-2")  # too big for any integer column
    with pytest.raises(Exception):  # noqa: B017 - the database driver decides which
        apply(account, clock, good, poison)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerProfile)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IngestedMessage)) == 0
    assert apply(account, clock, good).applied == 1


def test_a_poison_event_in_a_batch_of_many_accounts_costs_only_itself(app_ctx, clock):
    """The writer applies a batch of many LIVEs in one transaction; when one account's event cannot be
    stored, every other event of the batch, that account's too, is still applied, and it counts one failure."""
    from dataclasses import replace

    from ingest.writer import Writer

    calm, poisoned = linked("@calm"), linked("@poisoned")
    writer = Writer(app_ctx, clock=clock, publish=False)
    writer.apply([
        replace(event("comment", clock.now(), viewer(1), text="hi", message_id="c-1"), account_id=calm.id),
        replace(event("comment", clock.now(), viewer(2), text="hi", message_id="p-1"), account_id=poisoned.id),
        replace(gift(clock.now(), viewer(3), price=2**70, message_id="p-2"), account_id=poisoned.id),
        replace(event("comment", clock.now(), viewer(4), text="hi", message_id="c-2"), account_id=calm.id),
    ])
    assert (writer.applied, writer.failed) == (3, 1)
    comments = dict(db.session.execute(sa.select(ViewerProfile.account_id, sa.func.sum(ViewerProfile.total_comments))
                                       .group_by(ViewerProfile.account_id)).all())
    assert comments == {calm.id: 2, poisoned.id: 1}


def test_status_changes_keep_their_place_among_their_accounts_events(app_ctx, clock):
    """The writer applies a batch's status changes and repairs together, apart from the events, but
    each account's items keep their order: a status after a LIVE's start wins over it, one before
    it does not, and every event is applied."""
    from dataclasses import replace

    from ingest.writer import Repair, StatusUpdate, Writer

    first, second = linked("@first"), linked("@second")
    writer = Writer(app_ctx, clock=clock, publish=False)
    writer.apply([
        StatusUpdate(first.id, "error", "dropped"),
        replace(event("live_start", clock.now(), message_id="s1"), account_id=first.id),
        replace(event("comment", clock.now(), viewer(1), text="hi", message_id="c1"), account_id=second.id),
        replace(event("live_start", clock.now(), message_id="s2"), account_id=second.id),
        StatusUpdate(second.id, "error", "dropped"),
        Repair(first.id),
        replace(event("comment", clock.now(), viewer(2), text="hi", message_id="c2"), account_id=first.id),
    ])
    db.session.expire_all()
    assert (first.status, first.last_error) == ("live", None)
    assert (second.status, second.last_error) == ("error", "dropped")
    assert (writer.applied, writer.failed) == (4, 0)
    assert {profile.account_id for profile in db.session.scalars(sa.select(ViewerProfile))} == {first.id, second.id}


def test_the_sweep_of_many_accounts_is_spread_over_the_writers_steps(app_ctx, clock, monkeypatch):
    """Sweeping every account at once held all their events (3 s for 60 LIVEs on PostgreSQL; the
    p99 lag of 140 LIVEs on SQLite from 0.5 to 1.2 s): a sweep's groups of accounts are spread over
    half the sweep period, a step sweeping those whose turn has come, each account once per sweep;
    an account the process stopped running is left alone."""
    import ingest.writer
    from ingest.writer import Writer

    monkeypatch.setattr(ingest.writer, "SWEEP_GROUP", 1)  # a turn for each account
    accounts = [linked(f"@swept{n}") for n in range(4)]
    for n, account in enumerate(accounts):
        apply(account, clock, event("comment", clock.now(), viewer(n), text="hi"))
    running = [account.id for account in accounts[:3]]
    writer = Writer(app_ctx, clock=clock, publish=False, sweep_accounts=lambda: list(running))

    def open_sessions() -> dict[int, int]:
        db.session.expire_all()
        return dict(db.session.execute(sa.select(ViewerSession.account_id, sa.func.count())
                                       .where(ViewerSession.ended_at.is_(None))
                                       .group_by(ViewerSession.account_id)).all())

    writer.step(timeout=0)  # the first step sets when the first sweep is due
    clock.advance(writer.sweep_seconds + accounts[0].session_timeout + 1)
    writer.step(timeout=0)
    assert sorted(open_sessions().values()) == [1, 1, 1]  # one of the three swept
    gap = writer.sweep_seconds * ingest.writer.SWEEP_SPREAD / 3  # three accounts over their share of the period
    writer.step(timeout=0)
    clock.advance(gap * 0.9)
    writer.step(timeout=0)
    assert sorted(open_sessions().values()) == [1, 1, 1]  # the next one's turn has not come yet
    running.remove(accounts[2].id)  # handed over to another worker meanwhile
    clock.advance(gap * 0.2)
    writer.step(timeout=0)
    assert open_sessions() == {accounts[2].id: 1, accounts[3].id: 1}  # the second; the third is not ours now
    clock.advance(gap * 5)
    writer.step(timeout=0)
    assert open_sessions() == {accounts[2].id: 1, accounts[3].id: 1}


def test_a_writer_behind_its_sweep_catches_up_in_one_step(app_ctx, clock, monkeypatch):
    """Steps slower than the sweep's gap (a busy writer, or a replay whose clock jumps) sweep every
    account whose turn has come at once, not one a step."""
    import ingest.writer
    from ingest.writer import Writer

    monkeypatch.setattr(ingest.writer, "SWEEP_GROUP", 1)  # a turn for each account

    accounts = [linked(f"@late{n}") for n in range(3)]
    for n, account in enumerate(accounts):
        apply(account, clock, event("comment", clock.now(), viewer(n), text="hi"))
    writer = Writer(app_ctx, clock=clock, publish=False, sweep_accounts=lambda: [a.id for a in accounts])
    writer.step(timeout=0)
    clock.advance(writer.sweep_seconds + accounts[0].session_timeout + 1)
    writer.step(timeout=0)  # the first account
    clock.advance(writer.sweep_seconds * 0.45)  # past the other two's turns (a gap is a sixth of the period)
    writer.step(timeout=0)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerSession)
                             .where(ViewerSession.ended_at.is_(None))) == 0


def test_a_sweep_takes_its_accounts_in_groups_with_the_statements_of_one(app_ctx, clock, monkeypatch):
    """Swept one at a time, 200 LIVEs cost the writer about 8 round trips each a minute (20 to 80 ms
    of its time each on PostgreSQL). A sweep now takes its accounts in groups, one turn a group,
    and a group of twelve accounts takes no more statements than one of two; each account's idle
    sessions are closed with their watchtime credited, its own only."""
    import ingest.writer
    from ingest.writer import Writer

    def with_idle_sessions(accounts: list[TikTokAccount]) -> list[TikTokAccount]:
        for n, account in enumerate(accounts):
            apply(account, clock, event("comment", clock.now(), viewer(100 + n), text="hi"),
                  event("comment", clock.now() + timedelta(seconds=30), viewer(100 + n), text="still here"))
        clock.advance(accounts[0].session_timeout + 60)
        return accounts

    few = with_idle_sessions([linked(f"@fewswept{n}") for n in range(2)])
    many = with_idle_sessions([linked(f"@manyswept{n}") for n in range(12)])
    few_ids, many_ids = [account.id for account in few], [account.id for account in many]
    swept_few = _statements_of(lambda: sessions.sweep(few_ids, clock))
    assert _statements_of(lambda: sessions.sweep(many_ids, clock)) == swept_few
    db.session.expire_all()
    for account in few + many:
        assert account.total_watch_seconds == 30  # credited once, by the batch that saw it
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerSession).where(
            ViewerSession.account_id == account.id, ViewerSession.ended_at.is_(None))) == 0

    monkeypatch.setattr(ingest.writer, "SWEEP_GROUP", 2)
    accounts = with_idle_sessions([linked(f"@grouped{n}") for n in range(4)])
    writer = Writer(app_ctx, clock=clock, publish=False, sweep_accounts=lambda: [a.id for a in accounts])

    def open_by_account() -> list[int]:
        db.session.expire_all()
        return [db.session.scalar(sa.select(sa.func.count()).select_from(ViewerSession).where(
            ViewerSession.account_id == account.id, ViewerSession.ended_at.is_(None))) for account in accounts]

    writer.step(timeout=0)  # the first step sets when the first sweep is due
    clock.advance(writer.sweep_seconds)
    writer.step(timeout=0)
    assert open_by_account() == [0, 0, 1, 1]  # the first group's turn
    clock.advance(writer.sweep_seconds * ingest.writer.SWEEP_SPREAD / 2)  # two groups over their share
    writer.step(timeout=0)
    assert open_by_account() == [0, 0, 0, 0]


def test_concurrent_batches_never_lose_increments(app, clock):
    """B7: two writers applying batches for the same viewer at once (as two processes would without a
    lease) lose no increment and never fail on a get-or-create race."""
    import threading

    with app.app_context():
        account_id = linked().id
    errors = []

    def writer(prefix: str) -> None:
        with app.app_context():
            try:
                for n in range(40):
                    rules.apply_batch(account_id, [event("comment", START, viewer(42), text="x",
                                                           message_id=f"{prefix}-{n}")], clock)
            except Exception as error:  # noqa: BLE001
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        rows = db.session.execute(sa.select(ViewerProfile.total_comments, ViewerProfile.total_visits)).all()
        assert rows == [(120, 1)]


def race_a_held_batch(app, monkeypatch, account_id: int, records: list[EventRecord], clock, deletion) -> None:  # noqa: ANN001
    """Apply a batch of `records` to the account in one thread, held at its last step before its
    commit while `deletion` runs in another: the deletion must wait for the batch (or be done
    without waiting), and both end without error. Both threads end even when the test fails."""
    import threading

    in_batch, release = threading.Event(), threading.Event()
    end_lives = rules._end_lives

    def end_lives_then_wait(shares, now):  # noqa: ANN001, ANN202 - the batch's last step before its commit
        end_lives(shares, now)
        in_batch.set()
        release.wait(timeout=300)

    monkeypatch.setattr(rules, "_end_lives", end_lives_then_wait)
    errors = []

    def in_thread(work) -> threading.Thread:  # noqa: ANN001
        def run() -> None:
            with app.app_context():
                try:
                    work()
                except Exception as error:  # noqa: BLE001
                    errors.append(error)
                finally:
                    db.session.remove()
        thread = threading.Thread(target=run)
        thread.start()
        return thread

    threads = [in_thread(lambda: rules.apply_batch(account_id, records, clock))]

    def lock_waits() -> int:
        count = db.session.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                           " AND datname = current_database()")).scalar()
        # PostgreSQL reads pg_stat_activity once a transaction: without ending it, every poll after
        # the first saw the same count, and the deletion hit the statement timeout before the release.
        db.session.rollback()
        return count

    with app.app_context():
        try:
            assert in_batch.wait(timeout=300)
            deleting = in_thread(deletion)
            threads.append(deleting)
            # The deletion waits on the batch's lock (or, with nothing to hold it, is already done).
            wait_for(lambda: not deleting.is_alive() or lock_waits() > 0, message="the deletion waiting for the batch")
        finally:  # the batch commits and both threads end, even when the test fails
            release.set()
            for thread in threads:
                thread.join(timeout=300)
            db.session.rollback()
            db.session.remove()
    assert errors == []


def count_rows(model, *conditions) -> int:  # noqa: ANN001
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions))


@pytest.mark.skipif(not (DATABASE_URL or "").startswith("postgres"), reason="needs PostgreSQL (CI's second run)")
def test_an_unlink_racing_a_batch_leaves_none_of_its_message_ids(app, clock, monkeypatch):
    """The claimed message ids have no foreign key to the account. A streamer unlinks an account while
    the writer applies a batch to it, one that writes nothing but its claim (a LIVE's start for the
    room it is already live in): the unlink must wait for the batch and leave none of its ids behind."""
    with app.app_context():
        account = linked()
        account_id = account.id
        apply(account, clock, event("live_start", clock.now(), message_id="start-1"))
        db.session.remove()
    race_a_held_batch(app, monkeypatch, account_id, [event("live_start", clock.now(), message_id="start-2")], clock,
                      lambda: tiktok.unlink_account(db.session.get(TikTokAccount, account_id)))
    with app.app_context():
        assert db.session.get(TikTokAccount, account_id) is None
        assert count_rows(IngestedMessage) == 0
        db.session.remove()


@pytest.mark.skipif(not (DATABASE_URL or "").startswith("postgres"), reason="needs PostgreSQL (CI's second run)")
def test_deleting_a_viewer_while_a_batch_writes_their_rows_leaves_none(app, clock, monkeypatch):
    """A viewer's rows have no foreign key to the profile. The streamer deletes a viewer while the
    writer applies a batch with that viewer's first comment, like and unfinished gift streak of a new
    LIVE: the deletion must wait for the batch and then remove the rows it wrote as well as the
    older ones. (The viewer's session of the last LIVE is closed, so the batch inserts their rows
    rather than only updating rows the deletion would wait on anyway.)"""
    fan = viewer()
    with app.app_context():
        account = linked()
        account_id = account.id
        apply(account, clock, event("live_start", clock.now(), user=None, room="last"),
              event("comment", clock.now(), fan, text="first", room="last"),
              event("live_end", clock.now() + timedelta(minutes=1), user=None, room="last"))
        viewer_id = profile(account).id
        db.session.remove()
    later = clock.now() + timedelta(hours=1)
    batch = [event("live_start", later, user=None, room="next"),
             event("comment", later, fan, text="back again", room="next"),
             event("like", later, fan, count=5, room="next"), gift(later, fan, repeat=3, streaking=True, room="next")]
    race_a_held_batch(app, monkeypatch, account_id, batch, clock,
                      lambda: studio.delete_viewer(db.session.get(ViewerProfile, viewer_id)))
    with app.app_context():
        assert db.session.get(ViewerProfile, viewer_id) is None
        assert {model.__tablename__: count_rows(model, model.viewer_id == viewer_id) for model in VIEWER_ROWS} == \
            dict.fromkeys((model.__tablename__ for model in VIEWER_ROWS), 0)
        assert db.session.get(TikTokAccount, account_id).total_viewers == 0
        db.session.remove()


# --- VIP tiers -------------------------------------------------------------------------------


def test_new_accounts_get_the_default_tiers(app_ctx):
    account = linked()
    tiers = db.session.execute(sa.select(VipTier.name, VipTier.min_coins, VipTier.min_watch_seconds,
                                         VipTier.min_visits).where(VipTier.account_id == account.id)
                               .order_by(VipTier.rank)).all()
    assert tiers == [("Bronze", 1000, 5 * 3600, 10), ("Silver", 5000, 20 * 3600, 25),
                     ("Gold", 20000, 50 * 3600, 50), ("Platinum", 100000, 200 * 3600, 100)]


def _regular(account, visits: int, hours: int, coins: int = 0, user_id: int = 1001) -> ViewerProfile:  # noqa: ANN001
    """A viewer with this history already (as if from earlier LIVEs)."""
    viewer_profile = ViewerProfile(account_id=account.id, tiktok_user_id=user_id, handle=f"regular{user_id}",
                                   nickname="Regular", first_seen_at=START - timedelta(days=90),
                                   last_seen_at=START - timedelta(days=1), total_visits=visits,
                                   total_watch_seconds=hours * 3600, total_coins=coins)
    db.session.add(viewer_profile)
    db.session.commit()
    return viewer_profile


def _edit_vip(account, viewer_profile: ViewerProfile, choice: str, clock) -> None:  # noqa: ANN001
    """Save the profile editor with only its VIP choice changed: the path the studio takes."""
    studio.update_profile(account, viewer_profile, studio.ProfileChanges(
        tts_voice=viewer_profile.tts_voice, discord_username=viewer_profile.discord_username, birthday=None,
        notes=viewer_profile.notes, tags=list(viewer_profile.tags or []), is_favorite=viewer_profile.is_favorite,
        is_moderator=viewer_profile.is_moderator, is_blocked=viewer_profile.is_blocked, vip=choice), clock.now())


def test_promotion_follows_watchtime_and_visits_too_and_only_upward_is_announced(app_ctx, clock):
    """B9: tiers are re-evaluated when watchtime or visits change (not only on gifts), a promotion is
    announced only when the rank goes up, and losing a tier (edited thresholds) is not "promoted"."""
    account = linked()
    regular = _regular(account, visits=9, hours=5, coins=1500)
    result = apply(account, clock, event("join", clock.now(), viewer(1001, "regular1001")))  # visit 10
    assert profile(account).vip_tier.name == "Bronze"
    assert [n.text for n in result.notices if n.kind == "vip"] == ["@regular1001 is now Bronze VIP"]
    assert profile(account).vip_since == START

    # More coins, still Bronze: no notice.
    result = apply(account, clock, gift(clock.now(), viewer(1001, "regular1001"), name="Perfume", price=20))
    assert [n for n in result.notices if n.kind == "vip"] == []

    # The streamer raises Bronze above what they have: demoted, silently, and vip_since reset.
    bronze = db.session.scalar(sa.select(VipTier).where(VipTier.account_id == account.id, VipTier.name == "Bronze"))
    vip.edit_tier(account, bronze, vip.TierDraft("Bronze", 50_000, 5, 10, bronze.colour, bronze.benefits), clock.now())
    demoted = profile(account)
    assert (demoted.vip_tier_id, demoted.vip_source, demoted.vip_since) == (None, None, None)
    assert regular.id == demoted.id


def test_a_manual_tier_is_never_overridden_by_automation(app_ctx, clock):
    """B9: a tier the streamer set is locked; gifts that would re-rank it change nothing until the
    streamer clears the lock, and then automation takes over again."""
    account = linked()
    _regular(account, visits=60, hours=60, coins=10)
    gold = db.session.scalar(sa.select(VipTier).where(VipTier.account_id == account.id, VipTier.name == "Gold"))
    _edit_vip(account, profile(account), str(gold.id), clock)
    result = apply(account, clock, gift(clock.now(), viewer(1001, "regular1001"), name="Lion", price=29999))
    locked = profile(account)
    assert (locked.vip_tier.name, locked.vip_source) == ("Gold", "manual")
    assert [n for n in result.notices if n.kind == "vip"] == []
    _edit_vip(account, locked, "auto", clock)  # clear: 30,009 coins, 60 h, 61 visits
    cleared = profile(account)
    assert (cleared.vip_tier.name, cleared.vip_source) == ("Gold", "auto")
    other_account_tier = db.session.scalar(sa.select(VipTier).where(VipTier.account_id == linked("@other").id))
    with pytest.raises(FieldError):
        _edit_vip(account, cleared, str(other_account_tier.id), clock)
    assert profile(account).vip_source == "auto"


def test_a_removed_vip_stays_removed(app_ctx, clock):
    """B9: the original re-promoted a VIP the streamer had removed at the next gift."""
    account = linked()
    _regular(account, visits=30, hours=30, coins=9000)
    apply(account, clock, event("join", clock.now(), viewer(1001, "regular1001")))
    assert profile(account).vip_tier.name == "Silver"
    _edit_vip(account, profile(account), "none", clock)
    result = apply(account, clock, gift(clock.now(), viewer(1001, "regular1001"), name="Lion", price=29999))
    removed = profile(account)
    assert (removed.vip_tier_id, removed.vip_source, removed.vip_since) == (None, "manual", None)
    assert [n for n in result.notices if n.kind == "vip"] == []


# --- birthdays ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "moment", "expected"), [
    # 11:30 UTC on 14 March is 00:30 on 15 March in Auckland (UTC+13): the 15th is "today" there.
    ("Pacific/Auckland", datetime(2026, 3, 14, 11, 30, tzinfo=UTC), date(2026, 3, 15)),
    ("Pacific/Auckland", datetime(2026, 3, 14, 10, 30, tzinfo=UTC), date(2026, 3, 14)),
    # 00:30 UTC on 15 March is still 17:30 on 14 March in Los Angeles (UTC-7).
    ("America/Los_Angeles", datetime(2026, 3, 15, 0, 30, tzinfo=UTC), date(2026, 3, 14)),
    ("America/Los_Angeles", datetime(2026, 3, 15, 7, 30, tzinfo=UTC), date(2026, 3, 15)),
])
def test_birthday_today_is_today_in_the_accounts_zone(zone, moment, expected):
    """T2: "today" is the account's local date, not the UTC date."""
    assert local_time.is_birthday_today(expected.month, expected.day, moment, zone)
    other = expected + timedelta(days=1)
    assert not local_time.is_birthday_today(other.month, other.day, moment, zone)


def test_29_february_is_celebrated_on_28_february_in_other_years():
    """T2: a leap-day birthday never matched in non-leap years in the original."""
    assert local_time.is_birthday_today(2, 29, datetime(2027, 2, 28, 12, tzinfo=UTC), "UTC")
    assert not local_time.is_birthday_today(2, 29, datetime(2027, 3, 1, 12, tzinfo=UTC), "UTC")
    assert local_time.is_birthday_today(2, 29, datetime(2028, 2, 29, 12, tzinfo=UTC), "UTC")
    assert not local_time.is_birthday_today(2, 29, datetime(2028, 2, 28, 12, tzinfo=UTC), "UTC")
    local_time.validate_birthday(2, 29, None)
    with pytest.raises(ValueError):
        local_time.validate_birthday(2, 30, None)
    with pytest.raises(ValueError):
        local_time.validate_birthday(2, 29, 2027)


def test_birthday_notice_once_per_local_day_and_remembered_in_the_database(app_ctx):
    """T2: the notice comes when the viewer shows up on their local birthday (Auckland, while it is
    still the day before in UTC), once that day even across restarts, and again the next year."""
    clock = FakeClock(datetime(2026, 3, 14, 11, 30, tzinfo=UTC))  # 00:30, 15 March in Auckland
    account = linked(time_zone="Pacific/Auckland")
    _regular(account, visits=1, hours=0)
    regular = profile(account)
    regular.birthday_month, regular.birthday_day, regular.birthday_year = 3, 15, 2001
    db.session.commit()
    someone = viewer(1001, "regular1001")
    result = apply(account, clock, event("comment", clock.now(), someone, text="hi"))
    assert [n.text for n in result.notices if n.kind == "birthday"] == ["@regular1001 turns 25 today"]
    clock.advance(3600)
    account_id = account.id
    db.session.remove()  # as after a restart: nothing remembered in memory
    account = db.session.get(TikTokAccount, account_id)
    result = apply(account, clock, event("comment", clock.now(), someone, text="again"))
    assert [n for n in result.notices if n.kind == "birthday"] == []
    assert profile(account).birthday_greeted_on == date(2026, 3, 15)
    clock.advance(365 * 86400)
    result = apply(account, clock, event("comment", clock.now(), someone, text="a year on"))
    assert [n.text for n in result.notices if n.kind == "birthday"] == ["@regular1001 turns 26 today"]


# --- heatmap -------------------------------------------------------------------------------------


def test_heatmap_buckets_are_in_the_accounts_zone_monday_first(app_ctx, clock):
    """T3: buckets are (weekday, hour) in the account's time zone with Monday = 0, and gifts add
    their coins to the bucket."""
    account = linked(time_zone="Pacific/Auckland")
    sunday_night_utc = datetime(2026, 3, 8, 20, 15, tzinfo=UTC)  # Monday 09:15 in Auckland (UTC+13)
    someone = viewer()
    apply(account, clock, event("comment", sunday_night_utc, someone, text="hi"),
          gift(sunday_night_utc, someone, name="Corgi", price=299))
    rows = db.session.execute(sa.select(ViewerActivity.weekday, ViewerActivity.hour, ViewerActivity.hits,
                                        ViewerActivity.coins)).all()
    assert rows == [(0, 9, 2, 299)]
    assert local_time.heatmap_bucket(sunday_night_utc, "UTC") == (6, 20)


# --- privacy and storage ---------------------------------------------------------------------------


def test_deleting_a_viewer_removes_every_row_about_them(app_ctx, clock):
    """S6: deleting a profile in the studio removes its sessions, streaks, gifts, interactions and
    heatmap rows (none has a foreign key: models.tiktok.VIEWER_ROWS); another viewer's stay."""
    account = linked()
    someone = viewer()
    apply(account, clock, event("comment", clock.now(), someone, text="hi"), gift(clock.now(), someone),
          event("like", clock.now(), someone, count=3), gift(clock.now(), someone, repeat=2, streaking=True))
    keep = viewer(2)
    apply(account, clock, event("comment", clock.now(), keep, text="stay"), gift(clock.now(), keep),
          gift(clock.now(), keep, streaking=True))
    gone, kept = profile(account), profile(account, 2)
    gone_id = gone.id
    studio.delete_viewer(gone)
    for model in VIEWER_ROWS:
        assert count_rows(model, model.viewer_id == gone_id) == 0, model.__tablename__
        assert count_rows(model, model.viewer_id == kept.id) > 0, model.__tablename__
    assert db.session.get(ViewerProfile, gone_id) is None


def test_unlinking_an_account_removes_every_row_about_its_viewers(app_ctx, clock):
    """Unlinking removes the account's profiles and every row about its viewers (none has a foreign
    key), and its message ids; another account's rows, of the same TikTok viewer, stay."""
    account, other = linked(), linked("other.live")
    someone = viewer()
    for each in (account, other):
        apply(each, clock, event("comment", clock.now(), someone, text="hi"), gift(clock.now(), someone),
              event("like", clock.now(), someone, count=3), gift(clock.now(), someone, repeat=2, streaking=True))
    account_id = account.id
    tiktok.unlink_account(account)
    for model in (*VIEWER_ROWS, ViewerProfile, IngestedMessage):
        assert count_rows(model, model.account_id == account_id) == 0, model.__tablename__
        assert count_rows(model, model.account_id == other.id) > 0, model.__tablename__


def test_a_viewers_rows_name_the_viewers_own_account(app_ctx, clock):
    """A viewer's sessions, streaks, gifts, interactions and heatmap cells keep the account beside the
    viewer (for the account's indexes), and no foreign key checks it: one batch of two accounts
    with the same TikTok viewers, and a live end that counts their unfinished streaks, write every
    row with its profile's own account."""
    account, other = linked(), linked("other.live")
    fans = [viewer(user_id) for user_id in (1001, 1002, 1003)]
    at = clock.now()
    batches = {each.id: [event("live_start", at, user=None, room=f"room-{each.id}"),
                         *(record for fan in fans for record in (
                             event("comment", at, fan, text="hi", room=f"room-{each.id}"),
                             event("like", at, fan, count=2, room=f"room-{each.id}"),
                             gift(at, fan, repeat=2, streaking=True, room=f"room-{each.id}"),
                             gift(at, fan, name="Lion", gift_id=7, price=5, room=f"room-{each.id}")))]
               for each in (account, other)}
    rules.apply_batches(batches, clock)
    assert count_rows(GiftStreak) == 6
    clock.advance(60)
    rules.apply_batches({each.id: [event("live_end", clock.now(), user=None, room=f"room-{each.id}")]
                         for each in (account, other)}, clock)
    owners = dict(db.session.execute(sa.select(ViewerProfile.id, ViewerProfile.account_id)).all())
    assert len(owners) == 6
    for model in VIEWER_ROWS:
        rows = db.session.execute(sa.select(model.viewer_id, model.account_id)).all()
        assert rows or model is GiftStreak, model.__tablename__  # the streaks were counted at the end
        assert all(owners[viewer_id] == account_id for viewer_id, account_id in rows), model.__tablename__
    assert count_rows(ViewerGift) == 12


def test_old_interactions_and_message_ids_are_pruned(app_ctx, clock):
    """B8: the interaction log has a retention period; seen message ids are kept two days."""
    account = linked()
    apply(account, clock, event("comment", clock.now(), viewer(), text="old"))
    clock.advance(91 * 86400)
    apply(account, clock, event("comment", clock.now(), viewer(), text="new"))
    sessions.sweep([account.id], clock, retention_days=90)
    assert db.session.scalars(sa.select(ViewerInteraction.content)).all() == ["new"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IngestedMessage)) == 1


# --- gift streaks (bug 3) and the account's kept totals ----------------------------------------------


def _gift_rows(account) -> list[tuple[int, int]]:  # noqa: ANN001
    return [tuple(row) for row in db.session.execute(
        sa.select(ViewerGift.quantity, ViewerGift.coins).where(ViewerGift.account_id == account.id)
        .order_by(ViewerGift.id))]


def test_an_unfinished_streak_counts_its_last_tick_at_live_end(app_ctx, clock):
    """Bug 3: a viewer seen only through the ticks of a streak whose end never came got no profile
    and their coins were never counted. The viewer exists from the first tick; at live end the
    streak counts its last repeat count, once."""
    account = linked()
    fan = viewer(77, "streaker")
    apply(account, clock, gift(clock.now(), fan, name="Rose", price=1, repeat=1, streaking=True))
    ticked = profile(account, 77)
    assert ticked is not None and ticked.total_visits == 1 and ticked.total_coins == 0  # exists, nothing counted yet
    clock.advance(2)
    apply(account, clock, gift(clock.now(), fan, name="Rose", price=1, repeat=3, streaking=True),
          gift(clock.now(), fan, name="Rose", price=1, repeat=2, streaking=True))  # out of order: 3 stays
    clock.advance(1)
    apply(account, clock, event("live_end", clock.now()))
    counted = profile(account, 77)
    assert (counted.total_coins, counted.total_gifts) == (3, 3)
    assert _gift_rows(account) == [(3, 3)]
    assert db.session.scalar(sa.select(sa.func.sum(ViewerActivity.coins))) == 3
    clock.advance(600)
    sessions.sweep([account.id], clock)  # nothing left to count twice
    assert profile(account, 77).total_coins == 3
    assert db.session.get(TikTokAccount, account.id).total_coins == 3


def test_a_finished_streak_counts_once_and_a_stale_one_is_counted_by_the_sweeper(app_ctx, clock):
    """The end of a streak counts it (its ticks add nothing); a streak with no tick for five minutes
    and no end is counted by the sweeper at its last tick."""
    account = linked()
    fan, other = viewer(5, "fan"), viewer(6, "other")
    apply(account, clock, *(gift(clock.now(), fan, name="Perfume", price=20, repeat=n, streaking=True)
                            for n in (1, 2, 3)))
    apply(account, clock, gift(clock.now(), fan, name="Perfume", price=20, repeat=4))  # the end: 4 x 20
    apply(account, clock, gift(clock.now(), other, name="GG", price=1, repeat=9, streaking=True))
    clock.advance(60)
    sessions.sweep([account.id], clock)
    assert profile(account, 6).total_coins == 0  # a minute without a tick: maybe still going
    clock.advance(300)
    sessions.sweep([account.id], clock)
    assert (profile(account, 5).total_coins, profile(account, 6).total_coins) == (80, 9)
    assert sorted(_gift_rows(account)) == [(4, 80), (9, 9)]
    apply(account, clock, event("live_end", clock.now()))
    assert (profile(account, 5).total_coins, profile(account, 6).total_coins) == (80, 9)


def test_the_status_card_totals_are_kept_on_the_account(app_ctx, clock):
    """The card's viewers and coins are kept on the account row by the writer (no count per push)
    and equal what the profiles say; deleting a viewer takes theirs off."""
    account = linked()
    apply(account, clock, event("comment", clock.now(), viewer(1), text="hi"),
          gift(clock.now(), viewer(2), name="Corgi", price=299))
    apply(account, clock, gift(clock.now(), viewer(2), name="Rose", price=1, repeat=5),
          event("join", clock.now(), viewer(3)))
    db.session.expire_all()
    assert tiktok.account_totals(db.session.get(TikTokAccount, account.id)) == {"viewers": 3, "coins": 304}
    studio.delete_viewer(profile(account, 2))
    db.session.expire_all()
    assert tiktok.account_totals(db.session.get(TikTokAccount, account.id)) == {"viewers": 2, "coins": 0}


def test_a_live_end_and_the_next_live_in_one_batch(app_ctx, clock):
    """A batch can hold one LIVE's end and the next LIVE's start (a full-speed replay does): the end
    closes only its own room's sessions, and the account is live in the new room afterwards."""
    account = linked()
    someone, second_room = viewer(9), "7300000000000000222"
    start = clock.now()
    apply(account, clock, event("live_start", start, message_id="s1"),
          event("comment", start + timedelta(seconds=10), someone, text="first live"),
          event("live_end", start + timedelta(seconds=20), message_id="e1"),
          event("live_start", start + timedelta(hours=3), room=second_room, message_id="s2"),
          event("comment", start + timedelta(hours=3, seconds=5), someone, room=second_room, text="second"),
          event("comment", start + timedelta(hours=3, seconds=65), someone, room=second_room, text="still"))
    rows = db.session.execute(sa.select(ViewerSession.room_id, ViewerSession.ended_at)
                              .order_by(ViewerSession.started_at)).all()
    assert rows == [(ROOM, start + timedelta(seconds=10)), (second_room, None)]
    db.session.expire_all()
    assert (account.status, account.room_id) == ("live", second_room)
    assert profile(account, 9).total_visits == 2


def _script(clock: FakeClock) -> list[list[EventRecord]]:
    """Batches of one LIVE with every kind of event: new and returning viewers, a session that times
    out, a gift streak (one that ends, one that never does), a big gift that makes a VIP, follows,
    shares, like storms and the LIVE's end."""
    start = clock.now()
    fan, regular, lurker = viewer(501, "fan.tt"), viewer(502, "regular.tt"), viewer(503, "lurker.tt")

    def at(seconds: float) -> datetime:
        return start + timedelta(seconds=seconds)

    return [
        [event("live_start", at(0), message_id="start"), event("comment", at(1), fan, text="hello", message_id="c1"),
         event("like", at(2), regular, count=7, message_id="l1"), event("join", at(3), lurker, message_id="j1")],
        [gift(at(10), fan, price=1, repeat=2, streaking=True, message_id="s1"),
         gift(at(11), fan, price=1, repeat=5, message_id="s2"), event("follow", at(12), regular, message_id="f1"),
         event("viewers", at(13), total=40, top=[lurker], message_id="v1")],
        [gift(at(20), regular, name="Lion", price=29_999, message_id="g1"),
         gift(at(21), lurker, name="Heart", price=5, repeat=3, streaking=True, gift_id=7, message_id="s3"),
         event("share", at(22), fan, message_id="sh1"), event("comment", at(23), fan, text="hello", message_id="c1")],
        # The fan comes back after the session timeout: a new session, the same visit.
        [event("comment", at(2000), fan, text="back", message_id="c2"),
         event("like", at(2001), fan, count=3, message_id="l2"), event("live_end", at(2100), message_id="end")],
    ]


def _snapshot(account_id: int) -> dict[str, object]:
    """Everything the rules wrote for one account, keyed by TikTok user id instead of profile id."""
    db.session.expire_all()
    users = dict(db.session.execute(sa.select(ViewerProfile.id, ViewerProfile.tiktok_user_id)
                                    .where(ViewerProfile.account_id == account_id)).all())
    profiles = sorted(
        (row[0], *row[1:-1], db.session.scalar(sa.select(VipTier.name).where(VipTier.id == row[-1])))
        for row in db.session.execute(sa.select(
            ViewerProfile.tiktok_user_id, ViewerProfile.total_coins, ViewerProfile.total_gifts,
            ViewerProfile.total_comments, ViewerProfile.total_likes, ViewerProfile.total_shares,
            ViewerProfile.total_visits, ViewerProfile.total_watch_seconds, ViewerProfile.follows_streamer,
            ViewerProfile.first_seen_at, ViewerProfile.last_seen_at, ViewerProfile.vip_tier_id)
            .where(ViewerProfile.account_id == account_id)))

    def rows(model, *columns):  # noqa: ANN001, ANN002, ANN202
        return sorted((users[row[0]], *row[1:]) for row in db.session.execute(
            sa.select(model.viewer_id, *columns).where(model.account_id == account_id)))

    account = db.session.get(TikTokAccount, account_id)
    return {
        "profiles": profiles,
        "sessions": rows(ViewerSession, ViewerSession.room_id, ViewerSession.started_at, ViewerSession.ended_at,
                         ViewerSession.credited_seconds, ViewerSession.vip),
        "heatmap": rows(ViewerActivity, ViewerActivity.weekday, ViewerActivity.hour, ViewerActivity.hits,
                        ViewerActivity.coins),
        "interactions": rows(ViewerInteraction, ViewerInteraction.kind, ViewerInteraction.content,
                             ViewerInteraction.count, ViewerInteraction.occurred_at),
        "gifts": rows(ViewerGift, ViewerGift.gift_name, ViewerGift.quantity, ViewerGift.coins, ViewerGift.sent_at),
        "account": (account.status, account.viewer_count, account.room_id, account_figures.stored(account_id)),
        "hours": account_figures.stored_last_seen(account_id),
    }


def test_a_batch_of_many_accounts_writes_what_each_account_alone_would(app_ctx, clock):
    """The writer applies a batch of many LIVEs with one statement per table for all of them. Three
    accounts (their own zones and session timeouts, the same TikTok viewers in each) fed together
    must end up exactly as three twins fed one account at a time: profiles, sessions, heatmap,
    logs, VIPs, the account's figures, and the notices each batch raised."""
    settings = [{"time_zone": "UTC", "session_timeout": 300}, {"time_zone": "Asia/Tokyo", "session_timeout": 600},
                {"time_zone": "America/Los_Angeles", "session_timeout": 120}]
    together = [linked(f"@together{n}", **setting) for n, setting in enumerate(settings)]
    alone = [linked(f"@alone{n}", **setting) for n, setting in enumerate(settings)]
    for account in together + alone:  # a tier a big gift reaches on the first visit
        db.session.add(VipTier(account_id=account.id, name="Whale", rank=9, min_coins=10_000, min_watch_seconds=0,
                               min_visits=1, colour="#123456", benefits=""))
    db.session.commit()
    heard: dict[str, list[list[tuple[str, str]]]] = {"together": [], "alone": []}
    for batch in _script(clock):
        results = rules.apply_batches({account.id: list(batch) for account in together}, clock)
        heard["together"].append([[(n.kind, n.text) for n in results[account.id].notices] for account in together])
        heard["alone"].append([[(n.kind, n.text) for n in apply(account, clock, *batch).notices] for account in alone])
    for twin, single in zip(together, alone, strict=True):
        assert _snapshot(twin.id) == _snapshot(single.id)
    assert heard["together"] == heard["alone"]
    # The script did what it is for: a VIP, a session that timed out, a counted unfinished streak.
    snapshot = _snapshot(together[0].id)
    assert [(row[0], row[-1]) for row in snapshot["sessions"]] == [
        (501, False), (501, False), (502, True), (503, False)]
    assert [row[-1] for row in snapshot["profiles"]] == [None, "Whale", None]
    assert ("vip", "@regular.tt is now Whale VIP") in heard["together"][2][0]
    assert ("Heart", 3, 15) in [row[1:4] for row in snapshot["gifts"]]


def test_a_batch_that_repeats_messages_writes_what_its_new_ones_alone_would(app_ctx, clock):
    """A reconnect replays recent history. The rules fold a batch while the server is still claiming
    its message ids, as if all were new: an account whose batch repeats messages already applied (here
    every earlier batch again, the LIVE's start and a viewer count among them) must end up exactly as
    a twin fed only the new records, and so must another account in the same batch with nothing
    repeated."""
    repeating, twin, other = linked("@repeating"), linked("@twin"), linked("@other")
    seen: list[EventRecord] = []
    for batch in _script(clock):
        applied = {record.message_id for record in seen}
        new = [record for record in batch if record.message_id not in applied]  # the script repeats one
        results = rules.apply_batches({repeating.id: [*seen, *batch], other.id: list(new)}, clock)
        apply(twin, clock, *new)
        assert (results[repeating.id].applied, results[repeating.id].duplicates) == (
            len(new), len(seen) + len(batch) - len(new))
        assert (results[other.id].applied, results[other.id].duplicates) == (len(new), 0)
        seen.extend(batch)
    assert _snapshot(repeating.id) == _snapshot(twin.id) == _snapshot(other.id)
    assert [row[:5] for row in _snapshot(twin.id)["profiles"]] == [
        (501, 5, 5, 2, 3), (502, 29_999, 1, 0, 7), (503, 15, 3, 0, 0)]


def test_many_lives_connecting_at_once_are_applied_in_a_few_transactions(app_ctx, clock):
    """A worker taking many LIVEs at once queues, for each, a repair, status changes and its LIVE's
    start among the first events. Each account's order holds, but the accounts share transactions:
    four runs each (changes, start, change, events) are eight commits for any number of LIVEs,
    not three per LIVE (61 before)."""
    from dataclasses import replace

    from ingest.writer import Repair, StatusUpdate, Writer

    accounts = [linked(f"@live{n}") for n in range(20)]
    batch = []
    for n, account in enumerate(accounts):  # each LIVE's client queues its items in turn
        batch += [Repair(account.id), StatusUpdate(account.id, "connecting"),
                  replace(event("live_start", clock.now(), message_id=f"s{n}"), account_id=account.id),
                  StatusUpdate(account.id, "live"),
                  replace(event("comment", clock.now(), viewer(100 + n), text="hi", message_id=f"c{n}"),
                          account_id=account.id)]
    commits = []

    def count(session) -> None:  # noqa: ANN001
        commits.append(session)

    sa.event.listen(db.session, "after_commit", count)
    try:
        writer = Writer(app_ctx, clock=clock, publish=False)
        writer.apply(batch)
    finally:
        sa.event.remove(db.session, "after_commit", count)
    assert (writer.applied, writer.failed) == (40, 0)
    db.session.expire_all()
    assert {account.status for account in accounts} == {"live"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerInteraction)) == 20
    assert len(commits) <= 8, len(commits)


def test_the_events_before_lives_end_are_committed_before_the_ends(app_ctx, clock):
    """Closing the sessions of many LIVEs that end together is the writer's dearest work (about a
    second for 200 LIVEs on PostgreSQL), and every event of the batch, of every LIVE, waited for it.
    Now every event that is not an end, of any LIVE, is committed before the ends, which follow in
    a transaction of their own; each account's order holds: a LIVE started after its end is live,
    with its comment."""
    from dataclasses import replace

    from ingest.writer import Writer

    accounts = [linked(f"@ending{n}") for n in range(3)]
    start = clock.now()
    for n, account in enumerate(accounts):
        apply(account, clock, event("live_start", start, message_id=f"start{n}"),
              event("comment", start, viewer(100 + n), text="hello", message_id=f"hello{n}"))
    clock.advance(60)
    # The third LIVE's goodbye came in the batch before: its end comes first in this one.
    apply(accounts[2], clock, event("comment", clock.now(), viewer(102), text="bye", message_id="bye2"))
    batch = [replace(event("live_end", clock.now(), message_id="end2"), account_id=accounts[2].id)]
    for n, account in enumerate(accounts[:2]):
        batch += [replace(event("comment", clock.now(), viewer(100 + n), text="bye", message_id=f"bye{n}"),
                          account_id=account.id),
                  replace(event("live_end", clock.now(), message_id=f"end{n}"), account_id=account.id)]
    restart = [replace(event("live_start", clock.now(), room="second-room", message_id="restart"),
                       account_id=accounts[0].id),
               replace(event("comment", clock.now(), viewer(100), room="second-room", text="back", message_id="back"),
                       account_id=accounts[0].id)]
    committed = []

    def seen(session) -> None:  # noqa: ANN001
        count = session.connection().exec_driver_sql
        committed.append((count("SELECT count(*) FROM viewer_interactions WHERE kind = 'comment'").scalar(),
                          count("SELECT count(*) FROM viewer_sessions WHERE ended_at IS NULL").scalar()))

    sa.event.listen(db.session, "before_commit", seen)
    try:
        Writer(app_ctx, clock=clock, publish=False).apply(batch + restart)
    finally:
        sa.event.remove(db.session, "before_commit", seen)
    # Every goodbye committed while the three LIVEs were still open; then the ends: the third's,
    # then the others' (and the LIVE started again on the first, with its comment in a session of its own).
    assert committed == [(6, 3), (6, 2), (7, 1)]
    db.session.expire_all()
    assert [account.status for account in accounts] == ["live", "offline", "offline"]
    assert accounts[0].room_id == "second-room"
    assert [(row.room_id, row.ended_at is not None) for row in db.session.scalars(
        sa.select(ViewerSession).where(ViewerSession.account_id == accounts[0].id).order_by(ViewerSession.id))] == [
        (ROOM, True), ("second-room", False)]


def test_the_status_changes_of_many_lives_take_the_statements_of_a_few(app_ctx, clock):
    """A worker taking or losing hundreds of LIVEs at once queues status changes for each (connecting,
    live, offline). Recorded with a statement each, they held every LIVE's events for a round trip
    each on PostgreSQL; there twenty accounts' changes now take no more statements than two (SQLite,
    in process, has no round trips to save and runs them row by row). Each account ends with its
    own last status, and only an account whose status or error moved counts as changed."""
    from ingest.writer import Repair, StatusUpdate, Writer

    def connect_and_drop(accounts: list[TikTokAccount]) -> int:
        batch = [item for account in accounts for item in (
            Repair(account.id), StatusUpdate(account.id, "connecting"),
            StatusUpdate(account.id, "error", f"dropped <{account.handle}>" + "!" * 1200))]
        return _statements_of(lambda: Writer(app_ctx, clock=clock, publish=False).apply(batch))

    few = connect_and_drop([linked(f"@few{n}") for n in range(2)])
    accounts = [linked(f"@many{n}") for n in range(20)]
    many = connect_and_drop(accounts)
    if db.session.get_bind().dialect.name == "postgresql":
        assert many == few, (few, many)
    db.session.expire_all()
    for account in accounts:
        assert (account.status, account.last_error) == ("error", (f"dropped <{account.handle}>" + "!" * 1200)[:1000])
        assert account.status_changed_at == clock.now()

    calm, moved = accounts[:2]
    clock.advance(60)
    assert rules.set_statuses({calm.id: ("error", calm.last_error), moved.id: ("live", None)}, clock) == {moved.id}
    db.session.expire_all()
    assert (calm.status, calm.status_changed_at) == ("error", clock.now() - timedelta(seconds=60))
    assert (moved.status, moved.last_error, moved.status_changed_at) == ("live", None, clock.now())


def _statements_of(work) -> int:  # noqa: ANN001
    """How many statements `work()` sent to the database."""
    statements = []

    def count(*_args) -> None:  # noqa: ANN002
        statements.append(1)

    engine = db.session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        work()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def _statements_to_end(accounts: list[TikTokAccount], clock: FakeClock) -> int:
    """Start a LIVE on each account with three viewers (each 60 s of watchtime) and a gift streak
    whose end never comes, then end every LIVE in one batch; the statements that batch took."""
    start = clock.now()
    rules.apply_batches({account.id: [
        event("live_start", start, message_id=f"start-{account.id}"),
        *(event("comment", start + timedelta(seconds=at), viewer(user_id), text="hi")
          for user_id in (1, 2, 3) for at in (0, 60)),
        gift(start + timedelta(seconds=30), viewer(1), name="Rose", price=1, repeat=4, streaking=True),
    ] for account in accounts}, clock)
    clock.advance(120)
    ends = {account.id: [event("live_end", clock.now(), message_id=f"end-{account.id}")] for account in accounts}
    return _statements_of(lambda: rules.apply_batches(ends, clock))


def test_lives_ending_together_are_closed_with_the_same_statements_for_any_number(app_ctx, clock):
    """LIVEs on a platform often end together (a fleet of them started together ended in one batch):
    closing each one's sessions and counting its unfinished streaks with statements of its own held
    every LIVE's events for seconds on PostgreSQL. Now twelve LIVEs ending take no more statements
    than two, and each account ends up with exactly its own sessions closed, watchtime and coins."""
    few = _statements_to_end([linked(f"@few{n}") for n in range(2)], clock)
    accounts = [linked(f"@many{n}") for n in range(12)]
    many = _statements_to_end(accounts, clock)
    assert many == few, (few, many)
    db.session.expire_all()
    for account in accounts:
        rows = db.session.execute(sa.select(ViewerProfile.total_watch_seconds, ViewerProfile.total_coins)
                                  .where(ViewerProfile.account_id == account.id)
                                  .order_by(ViewerProfile.tiktok_user_id)).all()
        assert rows == [(60, 4), (60, 0), (60, 0)]
        assert (account.status, account.total_watch_seconds, account.total_coins) == ("offline", 180, 4)
        assert account_figures.stored(account.id) == account_figures.recounted(account.id)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerSession)
                             .where(ViewerSession.ended_at.is_(None))) == 0


def test_the_watchtime_a_batch_credits_can_promote_a_viewer(app_ctx, clock):
    """B9: a tier follows watchtime too. The minute a regular watched is credited by the batch that
    saw it (their session still open), and that minute takes them over Bronze's five hours: they
    are promoted then, not at the LIVE's end."""
    account = linked()
    regular = _regular(account, visits=9, hours=5, coins=1000)
    regular.total_watch_seconds -= 90
    db.session.commit()
    start = clock.now()
    first = apply(account, clock, event("comment", start, viewer(1001, "regular1001"), text="hi"),
                  event("comment", start + timedelta(seconds=60), viewer(1001, "regular1001"), text="still here"))
    assert "vip" not in [notice.kind for notice in first.notices]
    assert (profile(account).vip_tier_id, profile(account).total_watch_seconds) == (None, 5 * 3600 - 30)
    clock.advance(60)
    second = apply(account, clock, event("comment", start + timedelta(seconds=120), viewer(1001, "regular1001"),
                                         text="and still"))
    promoted = profile(account)
    assert promoted.total_watch_seconds == 5 * 3600 + 30
    assert db.session.get(VipTier, promoted.vip_tier_id).name == "Bronze"
    assert [notice.text for notice in second.notices if notice.kind == "vip"] == ["@regular1001 is now Bronze VIP"]
    # The end closes the session with nothing left to credit.
    clock.advance(120)
    apply(account, clock, event("live_end", clock.now()))
    assert profile(account).total_watch_seconds == 5 * 3600 + 30


def test_a_batch_ranks_its_viewers_from_the_figures_it_has_just_written(app_ctx, clock):
    """B9 in the writer: a batch's viewers are ranked from their figures as it wrote them, not read
    back (the profiles are read once a batch, 2 statements of a 200-LIVE batch before): a regular
    renamed by the batch that takes them over Bronze is announced by the new name, a viewer whose
    tier the streamer set is left alone, and a viewer who stays under every tier gets none."""
    account = linked()
    regular = _regular(account, visits=9, hours=5, coins=999)
    locked = _regular(account, visits=200, hours=300, coins=500_000, user_id=1002)
    _edit_vip(account, locked, "none", clock)
    _regular(account, visits=1, hours=0, user_id=1003)
    reads = []

    def note_reads(_connection, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and "FROM viewer_profiles" in statement:
            reads.append(statement)

    sa.event.listen(db.session.get_bind(), "before_cursor_execute", note_reads)
    try:
        result = apply(account, clock, gift(clock.now(), viewer(1001, "renamed.regular"), name="Rose", price=1),
                       gift(clock.now(), viewer(1002, "regular1002"), name="Lion", price=29999),
                       gift(clock.now(), viewer(1003, "regular1003"), name="Lion", price=29999))
    finally:
        sa.event.remove(db.session.get_bind(), "before_cursor_execute", note_reads)
    assert len(reads) == 1, reads
    assert [n.text for n in result.notices if n.kind == "vip"] == ["@renamed.regular is now Bronze VIP"]
    db.session.expire_all()
    assert (regular.handle, regular.total_coins, regular.total_visits, regular.vip_tier.name, regular.vip_source) == (
        "renamed.regular", 1000, 10, "Bronze", "auto")
    assert (locked.vip_tier_id, locked.vip_source, locked.total_coins) == (None, "manual", 529_999)
    assert (profile(account, 1003).vip_tier_id, profile(account, 1003).total_coins) == (None, 29_999)
    vip_viewers = account_figures.stored(account.id)["vip_viewers"]
    assert vip_viewers == account_figures.recounted(account.id)["vip_viewers"] == 1


def test_the_watchtime_a_live_end_credits_can_promote_a_viewer(app_ctx, clock):
    """B9: a session whose watchtime is not credited yet (as a version before 3 December 2026 left
    an open one: it credited at the end or the sweep) is credited when the LIVE ends, and that
    minute can take the viewer over Bronze's five hours: promoted then, not at the next LIVE."""
    account = linked()
    regular = _regular(account, visits=9, hours=5, coins=1000)
    regular.total_watch_seconds -= 30
    start = clock.now()
    db.session.add(ViewerSession(viewer_id=regular.id, account_id=account.id, room_id=ROOM, started_at=start,
                                 last_activity_at=start + timedelta(seconds=60), credited_seconds=0,
                                 open_viewer_id=regular.id))
    regular.total_visits += 1
    db.session.commit()
    clock.advance(180)
    ended = apply(account, clock, event("live_end", clock.now()))
    promoted = profile(account)
    assert promoted.total_watch_seconds == 5 * 3600 + 30
    assert db.session.get(VipTier, promoted.vip_tier_id).name == "Bronze"
    assert [notice.text for notice in ended.notices if notice.kind == "vip"] == ["@regular1001 is now Bronze VIP"]


def _statements_to_repair(accounts: list[TikTokAccount], clock: FakeClock) -> int:
    """Leave two sessions open on each account (as a crashed worker would), then repair them all
    at once, as the writer does for a round of LIVEs it takes; the statements the repair took."""
    rules.apply_batches({account.id: [event("comment", clock.now(), viewer(user_id), text="hi")
                                      for user_id in (1, 2)] for account in accounts}, clock)
    clock.advance(30)
    rules.apply_batches({account.id: [event("comment", clock.now(), viewer(1), text="still")]
                         for account in accounts}, clock)
    ids = [account.id for account in accounts]
    closed = []
    taken = _statements_of(lambda: closed.append(sessions.repair_open_sessions(ids, clock)))
    assert closed == [2 * len(ids)]
    return taken


def test_many_accounts_are_repaired_with_the_same_statements_as_two(app_ctx, clock):
    """A worker taking many LIVEs at once repairs them together: twelve accounts' orphans take no
    more statements than two accounts', and each account is credited exactly its own watchtime."""
    few = _statements_to_repair([linked(f"@few{n}") for n in range(2)], clock)
    accounts = [linked(f"@many{n}") for n in range(12)]
    many = _statements_to_repair(accounts, clock)
    assert many == few, (few, many)
    db.session.expire_all()
    for account in accounts:
        rows = db.session.execute(sa.select(ViewerProfile.total_watch_seconds)
                                  .where(ViewerProfile.account_id == account.id)
                                  .order_by(ViewerProfile.tiktok_user_id)).scalars().all()
        assert rows == [30, 0]
        assert account.total_watch_seconds == 30
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerSession)
                             .where(ViewerSession.ended_at.is_(None))) == 0
