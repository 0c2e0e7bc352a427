"""The plain-SQL helpers the writer's set-based statements go through (services/database.py), on
the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from extensions import db
from services import tiktok
from services.database import array_literal, execute_rows, execute_rows_ahead, pipelined_writes
from tests.conftest import DATABASE_URL
from tests.factories import make_user
from tests.support import wait_for

postgres_only = pytest.mark.skipif(not (DATABASE_URL or "").startswith("postgres"),
                                   reason="needs PostgreSQL (CI's second run)")

#: PostgreSQL's text holds any character but NUL (and UTF-8 has no lone surrogates).
_texts = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)))


@postgres_only
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.none() | _texts, max_size=8))
@example(values=["plain", 'with "quotes"', "{braces},commas", "NULL", "", "  spaced  "])  # quotes only
@example(values=["back\\slash", "C:\\path\\", "NULL"])  # backslashes only
@example(values=["a", "b\\", '"'])
@example(values=["plain", None, "NULL"])
@example(values=['"'])
def test_any_text_column_arrives_as_it_was_sent(app_ctx, values):  # noqa: ANN001
    """A column of the writer's rows is sent as the text of an array and cast by the statement: any
    text, quote, backslash, brace, the word NULL or nothing at all must arrive as it was."""
    got = db.session.connection().exec_driver_sql("SELECT %s::text[]", (array_literal(values),)).scalar()
    assert got == values


@postgres_only
def test_numbers_times_and_flags_arrive_as_they_were_sent(app_ctx):  # noqa: ANN001
    connection = db.session.connection()
    moments = [datetime(2026, 1, 9, 19, 0, 5, 123456, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)]
    assert connection.exec_driver_sql("SELECT %s::timestamptz[]", (array_literal(moments),)).scalar() == moments
    numbers = [7, -3, 2**40]
    assert connection.exec_driver_sql("SELECT %s::bigint[]", (array_literal(numbers),)).scalar() == numbers
    assert connection.exec_driver_sql("SELECT %s::bool[]", (array_literal([True, False, None]),)).scalar() == [
        True, False, None]
    assert connection.exec_driver_sql("SELECT %s::int[]", (array_literal([]),)).scalar() == []


#: Aware times whose instant Python can hold in UTC too: 1 January of year 1 at 00:00 in UTC+14 is
#: still in year 0 in UTC, which the driver cannot load back.
_aware_times = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                            timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11, minutes=-30)),
                                                       timezone(timedelta(hours=14))]))


@postgres_only
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moments=st.lists(st.none() | _aware_times, min_size=1, max_size=8))
@example(moments=[datetime(1970, 1, 1, tzinfo=UTC), datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), None])
@example(moments=[datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)])
@example(moments=[datetime(2026, 3, 29, 1, 30, tzinfo=UTC), datetime(2026, 10, 25, 0, 59, 59, 999999, tzinfo=UTC)])
def test_the_writers_times_arrive_to_the_microsecond_in_any_session_zone(app_ctx, moments):  # noqa: ANN001
    """The writer's statements send times as microseconds since the epoch: any aware time Python
    holds in UTC (before 1970, far ahead, any offset) must be stored as the same instant, to the
    microsecond, whatever zone the database session runs in (here one with daylight saving)."""
    connection = db.session.connection()
    connection.exec_driver_sql("SET LOCAL TIME ZONE 'Europe/Berlin'")
    connection.exec_driver_sql("CREATE TEMP TABLE IF NOT EXISTS moments (n int PRIMARY KEY, at timestamptz)"
                               " ON COMMIT DROP")
    connection.exec_driver_sql("DELETE FROM moments")
    execute_rows("INSERT INTO moments (n, at) VALUES (?, ?)", ("int", "timestamptz"), list(enumerate(moments)))
    assert _stored_moments(connection) == moments
    if all(moment is None or moment.year < 9999 for moment in moments):
        later = [None if moment is None else moment + timedelta(microseconds=1) for moment in moments]
        connection.exec_driver_sql("SET LOCAL TIME ZONE 'Europe/Berlin'")
        execute_rows("UPDATE moments SET at = ? WHERE n = ?", ("timestamptz", "int"),
                     [(moment, n) for n, moment in enumerate(later)])
        assert _stored_moments(connection) == later


def _stored_moments(connection) -> list[datetime | None]:  # noqa: ANN001
    # Read in UTC: Python holds that a time in a repeated hour of a zone with daylight saving (as
    # the driver would give it in Berlin) never equals a time in another zone.
    connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
    return connection.exec_driver_sql("SELECT at FROM moments ORDER BY n").scalars().all()


@postgres_only
def test_a_naive_time_is_refused_not_guessed_at(app_ctx):  # noqa: ANN001
    db.session.connection().exec_driver_sql("CREATE TEMP TABLE moments (at timestamptz) ON COMMIT DROP")
    with pytest.raises(TypeError):
        execute_rows("INSERT INTO moments (at) VALUES (?)", ("timestamptz",), [(datetime(2026, 12, 3, 5, 0),)])


def _hours(account_id: int) -> list[tuple[int, int]]:
    return [tuple(row) for row in db.session.execute(sa.text(
        "SELECT hour, viewers FROM viewer_last_seen_hours WHERE account_id = :a ORDER BY hour"), {"a": account_id})]


_INSERT_HOUR = ("INSERT INTO viewer_last_seen_hours (account_id, hour, viewers) VALUES (?, ?, ?)",
                ("int", "bigint", "bigint"))


def test_writes_in_a_pipeline_apply_in_their_order(app_ctx):  # noqa: ANN001
    """The writer's writes whose answers it does not wait for still apply one after the other: an
    update sees the rows the insert before it wrote, and a read after the block sees both."""
    account_id = tiktok.link_account(make_user("piped"), "piped.host").id
    with pipelined_writes():
        execute_rows(*_INSERT_HOUR, [(account_id, hour, 1) for hour in range(3)])
        execute_rows("UPDATE viewer_last_seen_hours SET viewers = viewers + ? WHERE account_id = ? AND hour = ?",
                     ("bigint", "int", "bigint"), [(10, account_id, 1), (20, account_id, 2)])
        execute_rows("DELETE FROM viewer_last_seen_hours WHERE account_id = ? AND hour = ?", ("int", "bigint"),
                     [(account_id, 0)])
    assert _hours(account_id) == [(1, 11), (2, 21)]
    db.session.commit()
    assert _hours(account_id) == [(1, 11), (2, 21)]


def test_a_write_that_fails_in_a_pipeline_raises_the_databases_error_and_nothing_is_kept(app_ctx):  # noqa: ANN001
    """On PostgreSQL the error of a write sent in pipeline mode arrives at the block's end: it must
    still be the database's error, as SQLAlchemy raises it, and the transaction rolls back whole."""
    account_id = tiktok.link_account(make_user("piped"), "piped.host").id
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError), pipelined_writes():
        execute_rows(*_INSERT_HOUR, [(account_id, 1, 1)])
        execute_rows(*_INSERT_HOUR, [(account_id, 1, 1)])  # the same hour again
        execute_rows(*_INSERT_HOUR, [(account_id, 2, 1)])
    db.session.rollback()
    assert _hours(account_id) == []
    with pipelined_writes():  # the connection is usable again
        execute_rows(*_INSERT_HOUR, [(account_id, 3, 1)])
    db.session.commit()
    assert _hours(account_id) == [(3, 1)]


@postgres_only
def test_a_read_inside_a_pipeline_is_refused_not_answered_with_no_rows(app_ctx):  # noqa: ANN001
    with pytest.raises(sa.exc.InvalidRequestError, match="returns rows"), pipelined_writes():
        db.session.execute(sa.text("SELECT 1")).all()
    db.session.rollback()
    with pytest.raises(sa.exc.InvalidRequestError, match="returns rows"), pipelined_writes():
        db.session.execute(sa.text("  with one as (select 1) select * from one")).all()
    db.session.rollback()
    with pytest.raises(sa.exc.InvalidRequestError, match="returns rows"), pipelined_writes():
        execute_rows("INSERT INTO viewer_last_seen_hours (account_id, hour, viewers) VALUES (?, ?, ?) RETURNING hour",
                     ("int", "bigint", "bigint"), [(1, 1, 1)])
    db.session.rollback()
    assert db.session.execute(sa.text("SELECT 1")).scalar() == 1


@postgres_only
def test_a_connection_lost_in_a_pipeline_is_not_pooled_again(app_ctx):  # noqa: ANN001
    """The server ends the writer's connection while its writes are in flight: the block raises a
    disconnect, and the next transaction gets a working connection rather than the dead one."""
    account_id = tiktok.link_account(make_user("piped"), "piped.host").id
    db.session.commit()
    pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    with pytest.raises(sa.exc.OperationalError) as raised, pipelined_writes():
        execute_rows(*_INSERT_HOUR, [(account_id, 1, 1)])
        with db.engine.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        execute_rows(*_INSERT_HOUR, [(account_id, 2, 1)])
    assert raised.value.connection_invalidated
    db.session.rollback()
    assert _hours(account_id) == []
    assert db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar() != pid


_CLAIM_HOUR = ("INSERT INTO viewer_last_seen_hours (account_id, hour, viewers) VALUES (?, ?, ?)"
               " ON CONFLICT (account_id, hour) DO NOTHING RETURNING hour", ("int", "bigint", "bigint"))


def test_a_statement_sent_ahead_answers_when_its_block_ends(app_ctx):  # noqa: ANN001
    """The writer sends its claim of message ids ahead and folds the batch meanwhile: after the
    block the statement's rows are there (only the rows it inserted), in the caller's transaction."""
    account_id = tiktok.link_account(make_user("ahead"), "ahead.host").id
    execute_rows(*_INSERT_HOUR, [(account_id, 1, 1)])
    with execute_rows_ahead(*_CLAIM_HOUR, [(account_id, hour, 5) for hour in range(4)]) as ahead:
        folded = sum(range(10_000))  # the caller's own work meanwhile
    assert folded == 49_995_000
    assert sorted(row[0] for row in ahead.rows) == [0, 2, 3]
    assert _hours(account_id) == [(0, 5), (1, 1), (2, 5), (3, 5)]
    db.session.rollback()
    assert _hours(account_id) == []


@postgres_only
def test_a_statement_sent_ahead_runs_while_its_block_does(app_ctx):  # noqa: ANN001
    """On PostgreSQL the statement reaches the server when the block starts, not when it ends: while
    the block runs, another connection sees the statement's lock on its table."""
    account_id = tiktok.link_account(make_user("ahead"), "ahead.host").id
    db.session.commit()
    pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    locked = sa.text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND relation = 'viewer_last_seen_hours'::regclass")
    with db.engine.connect() as other, execute_rows_ahead(*_CLAIM_HOUR, [(account_id, 1, 1)]):
        wait_for(lambda: other.execute(locked, {"pid": pid}).scalar() > 0, timeout=120,
                 message="the statement sent ahead reaching the server")
    db.session.rollback()


def test_an_error_of_a_statement_sent_ahead_is_the_databases_and_nothing_is_kept(app_ctx):  # noqa: ANN001
    account_id = tiktok.link_account(make_user("ahead"), "ahead.host").id
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError), execute_rows_ahead(
            _INSERT_HOUR[0] + " RETURNING hour", _INSERT_HOUR[1], [(account_id, 1, 1), (account_id, 1, 2)]):
        pass
    db.session.rollback()
    assert _hours(account_id) == []
    with execute_rows_ahead(*_CLAIM_HOUR, [(account_id, 2, 1)]) as ahead:  # the connection is usable again
        pass
    assert ahead.rows == [(2,)]


@postgres_only
def test_a_read_while_a_statement_is_sent_ahead_is_refused(app_ctx):  # noqa: ANN001
    account_id = tiktok.link_account(make_user("ahead"), "ahead.host").id
    with pytest.raises(sa.exc.InvalidRequestError, match="returns rows"), execute_rows_ahead(
            *_CLAIM_HOUR, [(account_id, 1, 1)]):
        db.session.execute(sa.text("SELECT 1")).all()
    db.session.rollback()
    assert db.session.execute(sa.text("SELECT 1")).scalar() == 1
