"""The plain-SQL helpers the writer's set-based statements go through (services/database.py), on
the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from extensions import db
from services.database import array_literal, execute_rows
from tests.conftest import DATABASE_URL

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


_aware_times = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-11, minutes=-30)),
                                                       timezone(timedelta(hours=14))]))


@postgres_only
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moments=st.lists(st.none() | _aware_times, min_size=1, max_size=8))
@example(moments=[datetime(1970, 1, 1, tzinfo=UTC), datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), None])
@example(moments=[datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)])
@example(moments=[datetime(2026, 3, 29, 1, 30, tzinfo=UTC), datetime(2026, 10, 25, 0, 59, 59, 999999, tzinfo=UTC)])
def test_the_writers_times_arrive_to_the_microsecond_in_any_session_zone(app_ctx, moments):  # noqa: ANN001
    """The writer's statements send times as microseconds since the epoch: any aware time Python
    holds (before 1970, far ahead, any offset) must be stored as the same instant, to the
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
