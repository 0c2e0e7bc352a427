"""The plain-SQL helpers the writer's set-based statements go through (services/database.py), on
the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from extensions import db
from services.database import array_literal
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
