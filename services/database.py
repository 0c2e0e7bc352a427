"""Engine set-up, the database health check, the upsert helper both backends share, and plain
DB-API statements for the ingest writer."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from extensions import db


def configure_engine(engine: Engine) -> None:
    """Give every SQLite connection WAL and foreign keys (PostgreSQL needs neither).

    Its busy timeout is the driver's `timeout` connect argument (DATABASE_BUSY_TIMEOUT in config.py).
    """
    if engine.dialect.name != "sqlite" or getattr(engine, "_streamshop_configured", False):
        return

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        # WAL lets readers carry on while one writer commits.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine._streamshop_configured = True  # type: ignore[attr-defined]


def check_database() -> str:
    """'ok' when a trivial query round-trips, else the error's first line."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        return "ok"
    except Exception as error:  # noqa: BLE001 - any failure means "down", and we say why
        db.session.rollback()
        return f"error: {str(error).splitlines()[0][:200]}"


def upsert(table: sa.Table) -> Any:
    """An INSERT that takes `.on_conflict_do_nothing()` / `.on_conflict_do_update()` for the backend in
    use: SQLite's and PostgreSQL's ON CONFLICT are the same clause with a dialect-specific builder."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


# --- plain DB-API statements for the ingest writer's hot paths ----------------------------------
#
# The writer runs the same few statements for thousands of rows a second. Through SQLAlchemy each
# row goes through statement compilation checks and per-column bind processing; these helpers send
# plain SQL with positional `?` parameters (rewritten to `%s` for psycopg) straight to the driver
# in the session's transaction. Values must already be in the driver's form: datetimes through
# `time_param()`, JSON as `json.dumps` text, booleans as bool.

_TIME_PARAMS: dict[str, Any] = {}


def time_param() -> Any:
    """The function that turns an aware UTC datetime (or None) into what the backend in use stores,
    exactly as the models' UTCDateTime column type binds it (naive UTC text on SQLite)."""
    dialect = db.session.get_bind().dialect
    processor = _TIME_PARAMS.get(dialect.name)
    if processor is None:
        from extensions import UTCDateTime

        processor = _TIME_PARAMS[dialect.name] = UTCDateTime().bind_processor(dialect) or (lambda value: value)
    return processor


def driver_sql(sql: str) -> str:
    """Plain SQL with positional `?` parameters in the paramstyle of the driver in use."""
    return sql.replace("?", "%s") if db.session.get_bind().dialect.name == "postgresql" else sql


def execute_many(sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run one plain SQL statement once per row of parameters (the driver's executemany: a C loop
    on SQLite, a pipeline on psycopg), in the session's transaction."""
    if not rows:
        return
    connection = db.session.connection()
    connection.exec_driver_sql(driver_sql(sql), rows if len(rows) > 1 else rows[0])


def insert_values(head: str, rows: list[tuple[Any, ...]], tail: str = "") -> list[Any]:
    """`head VALUES (?, ...), (?, ...) tail` for many rows, as few statements as the parameter limit
    allows; returns the rows a `RETURNING` in `tail` gives (both backends support it)."""
    if not rows:
        return []
    connection = db.session.connection()
    width = len(rows[0])
    chunk = max(1, 30_000 // width)  # SQLite allows 32,766 parameters a statement, PostgreSQL 65,535
    one = "(" + ", ".join("?" * width) + ")"
    returned: list[Any] = []
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        sql = f"{head} VALUES {', '.join([one] * len(part))} {tail}"
        result = connection.exec_driver_sql(driver_sql(sql),
                                            tuple(value for row in part for value in row))
        if result.returns_rows:
            returned.extend(result.fetchall())
    return returned
