"""Engine set-up, the database health check, the upsert helper both backends share, and plain
DB-API statements for the ingest writer."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from extensions import db, utc_loaded, utc_to_store

#: How much of a SQLite database file is read through a memory map (see `configure_engine`).
SQLITE_MMAP_BYTES = 2 << 30  # SQLite clamps it to what its build allows (2 GB for 3.40 here)
#: The WAL is copied back into the database file (with an fsync) once it holds this many pages.
#: SQLite's default, 1,000 (4 MB), meant a checkpoint every few batches when one worker follows
#: 160 LIVEs (90 MB/s of WAL): the process, all its greenlets, waited on each.
SQLITE_CHECKPOINT_PAGES = 10_000


def configure_engine(engine: Engine, ping_after_idle_seconds: float) -> None:
    """Give every SQLite connection WAL and foreign keys; have PostgreSQL connections that sat idle
    in the pool pinged before use.

    SQLite's busy timeout is the driver's `timeout` connect argument (DATABASE_BUSY_TIMEOUT in
    config.py).
    """
    if getattr(engine, "_streamshop_configured", False):
        return
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    else:
        _ping_idle_connections(engine, ping_after_idle_seconds)
        sa.event.listen(engine, "before_cursor_execute", _refuse_rows_in_a_pipeline)
    engine._streamshop_configured = True  # type: ignore[attr-defined]


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        # WAL lets readers carry on while one writer commits.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Reads through a memory map of the file (the OS's page cache, shared by every connection)
        # instead of copying each page into the connection's own 2 MB cache: at a million viewer
        # profiles (a 1.4 GB file) a page of the studio reads thousands of rows scattered over it,
        # and with the small cache each was a read() call: the table's search walk took 17 ms, 8 with
        # the map. Address space, not memory: the kernel keeps what fits.
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
        cursor.close()


def _ping_idle_connections(engine: Engine, after_seconds: float) -> None:
    """Ping a pooled connection before use when it has been idle longer than `after_seconds`.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: one more round trip for every request
    and every auction round, the dearest step of a round under load (bench/auction.py,
    docs/benchmarks.md). A connection back in the pool less than a second ago is as good as
    pinged. One that sat idle longer, through a database restart for instance, is pinged; when
    the ping fails every connection pooled before it is replaced, as with the pre-ping. A restart
    shorter than `after_seconds` between a check-in and the next checkout costs one failed
    request, after which SQLAlchemy's own disconnect handling replaces the pool.
    """

    @sa.event.listens_for(engine, "checkin")
    def _idle_from(dbapi_connection, record):  # noqa: ANN001
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):  # noqa: ANN001
        # A new connection has no "idle_since" (the info is cleared when one is invalidated).
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < after_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise sa.exc.InvalidatePoolError(str(error)) from error


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

def time_param() -> Any:
    """The function that turns an aware UTC datetime (or None) into what the backend in use stores,
    by the models' UTCDateTime rule (`utc_to_store`): on SQLite the naive UTC time as the driver's
    datetime adapter writes it (`isoformat(" ")`), done here so that neither SQLAlchemy's type nor
    the deprecated adapter runs per value."""
    return _sqlite_param if db.session.get_bind().dialect.name == "sqlite" else utc_to_store


def _sqlite_param(value: datetime | None) -> str | None:
    stored = utc_to_store(value)
    return None if stored is None else stored.replace(tzinfo=None).isoformat(" ")


def time_result() -> Any:
    """The function that turns a time as the driver returns it from a plain statement (naive UTC
    text on SQLite) into an aware UTC datetime, as the models' UTCDateTime column type loads it."""
    return _sqlite_time if db.session.get_bind().dialect.name == "sqlite" else utc_loaded


def _sqlite_time(value: str | None) -> datetime | None:
    return None if value is None else utc_loaded(datetime.fromisoformat(value))


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


# --- one statement for many rows on PostgreSQL --------------------------------------------------
#
# psycopg's executemany still runs the statement once per row in the server (a bind, an execute
# and the executor's start and end for every row), and a multi-row VALUES list of thousands of
# parameters costs a parse and a plan as long as itself. `execute_rows` sends one statement whose
# rows come from `unnest` over one typed array per parameter: one execution, set-based.


def execute_rows(sql: str, types: Sequence[str], rows: list[tuple[Any, ...]]) -> list[Any]:
    """Run one plain SQL statement (`?` parameters) for each row of `rows`, in the session's
    transaction, and return what a `RETURNING` gives.

    `sql` is `INSERT INTO t (...) VALUES (...) [tail]`, `UPDATE t SET ... WHERE ...` or
    `DELETE FROM t WHERE ...`; `types` are the PostgreSQL types of its parameters, in order. On
    PostgreSQL the rows are sent as arrays and the statement runs once over `unnest(...)`; on
    SQLite it is the driver's executemany (a C loop), or, when it returns rows, a multi-row VALUES
    (an INSERT) or one execution per row.
    An UPDATE or DELETE must match each row's own target rows only (rows of one target, not two)."""
    if not rows:
        return []
    if db.session.get_bind().dialect.name != "postgresql":
        if " RETURNING " in sql and sql.startswith("INSERT "):
            head, values, tail = _split_insert(sql)
            return insert_values(head, rows, tail)
        if " RETURNING " in sql:  # SQLite's executemany takes no RETURNING: row by row, in process
            connection = db.session.connection()
            return [returned for row in rows for returned in connection.exec_driver_sql(sql, row).fetchall()]
        execute_many(sql, rows)
        return []
    result = db.session.connection().exec_driver_sql(*_unnest_statement(sql, types, rows))
    return result.fetchall() if result.returns_rows else []


def _unnest_statement(sql: str, types: Sequence[str], rows: list[tuple[Any, ...]]) -> tuple[str, tuple[str, ...]]:
    """`execute_rows`' statement on PostgreSQL and its parameters: one array literal per column."""
    columns = tuple(time_array_literal(column) if kind == "timestamptz" else array_literal(column)
                    for column, kind in zip(zip(*rows, strict=True), types, strict=True))
    return _unnest_sql(sql, tuple(types)), columns


@contextmanager
def pipelined_writes() -> Iterator[None]:
    """A block of writes whose answers nobody reads: on PostgreSQL they go out in psycopg's pipeline
    mode, so the server runs each while the client builds the next, and the block's end waits for
    them all (raising the first error, if any). Elsewhere the block runs as it is.

    Only statements that return no rows may run in the block: in pipeline mode a select's rows are
    not there yet when SQLAlchemy looks for them, so one is refused (`_refuse_rows_in_a_pipeline`)."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    with _pipeline(connection):
        yield


class Ahead:
    """The rows of a statement sent ahead (`execute_rows_ahead`): there once its block has ended."""

    rows: list[Any]


@contextmanager
def execute_rows_ahead(sql: str, types: Sequence[str], rows: list[tuple[Any, ...]]) -> Iterator[Ahead]:
    """`execute_rows` for a statement whose answer the caller needs only after some work of its own:
    on PostgreSQL the statement goes out at once in pipeline mode, the server runs it while the
    block runs, and its rows are in the yielded `Ahead` when the block ends (an error is raised
    there, as SQLAlchemy raises it). Elsewhere it runs at once. The block must not use the
    database: a read in it is refused, as in `pipelined_writes`."""
    ahead = Ahead()
    connection = db.session.connection()
    if connection.dialect.name != "postgresql" or not rows:
        ahead.rows = execute_rows(sql, types, rows)
        yield ahead
        return
    with _pipeline(connection) as driver_connection:
        cursor = driver_connection.cursor()
        cursor.execute(*_unnest_statement(sql, types, rows))
        yield ahead
        ahead.rows = cursor.fetchall()


@contextmanager
def _pipeline(connection: sa.Connection) -> Iterator[Any]:
    """The session's PostgreSQL connection in psycopg's pipeline mode for the block (the driver's
    connection is yielded); the block's end waits for every statement sent in it."""
    driver_connection = connection.connection.driver_connection
    try:
        with driver_connection.pipeline():
            yield driver_connection
    except driver_connection.Error as error:
        # Raised by psycopg at the block's end, outside SQLAlchemy's own handling: translated the same
        # way, so a lost connection is thrown away rather than pooled again.
        disconnected = connection.dialect.is_disconnect(error, driver_connection, None)
        if disconnected:
            connection.invalidate(error)
        raise sa.exc.DBAPIError.instance(None, None, error, type(driver_connection).Error,
                                         connection_invalidated=disconnected) from error


def _refuse_rows_in_a_pipeline(connection: sa.Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    """Refuse a statement that returns rows inside a pipeline (`pipelined_writes`, `execute_rows_ahead`):
    SQLAlchemy would find no rows."""
    if connection.connection.driver_connection.pgconn.pipeline_status and (
            statement.split(None, 1)[0].upper() in {"SELECT", "WITH", "VALUES", "SHOW"}
            or " RETURNING " in statement.upper()):
        raise sa.exc.InvalidRequestError(f"a statement that returns rows inside a pipeline: {statement[:80]}")


def ids_in(column: sa.ColumnElement[int], ids: Sequence[int]) -> sa.ColumnElement[bool]:
    """`column IN ids` for a long list of integers (the writer's thousands of viewers): on
    PostgreSQL the rows of one array parameter, so the statement is one short text whatever the
    count; an IN list of thousands of parameters cost the driver more to parse and adapt than the
    server to run. (Not `= ANY(array)`: for a small table the planner chose to scan it and search
    the array, unhashed, for every row, 240 ms for 3,000 ids.) Elsewhere an IN list: SQLite takes
    at most 32,766 parameters a statement, so the caller passes at most IN_CHUNK ids a statement
    (`id_chunks`)."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column.in_(sa.select(sa.func.unnest(sa.cast(sa.literal(array_literal(ids), sa.Text),
                                                             ARRAY(sa.BigInteger)))))
    return column.in_(ids)


def ids_in_sql(column: str, ids: Sequence[int]) -> tuple[str, tuple[Any, ...]]:
    """`ids_in` for plain SQL: the condition's text (`?` parameters) and its parameters."""
    if db.session.get_bind().dialect.name == "postgresql":
        return f"{column} IN (SELECT unnest(?::bigint[]))", (array_literal(ids),)
    return f"{column} IN ({', '.join('?' * len(ids))})", tuple(ids)


#: The ids a statement with `ids_in` takes on SQLite (PostgreSQL takes them all at once).
IN_CHUNK = 5000


def id_chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    """`ids` in parts `ids_in` can take: all at once on PostgreSQL, IN_CHUNK at a time elsewhere."""
    size = len(ids) if db.session.get_bind().dialect.name == "postgresql" else IN_CHUNK
    for start in range(0, len(ids), max(1, size)):
        yield ids[start:start + size]


def array_literal(values: Sequence[Any]) -> str:
    """`values` as the text of a PostgreSQL array, which the statement casts to its type: psycopg
    would adapt a list element by element in Python, which cost about as much as the server's work."""
    if all(type(value) is int for value in values):
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join("NULL" if value is None else
                          '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values) + "}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MICROSECONDS_A_DAY = 86_400_000_000


def time_array_literal(values: Sequence[datetime | None]) -> str:
    """Aware datetimes as the text of an array of microseconds since the epoch (a naive one is
    refused), which `execute_rows`' statement turns back into timestamptz: formatting a datetime as
    text cost four times as much as the number, and the server parsed it again."""
    return "{" + ",".join(["NULL" if value is None else str((value - _EPOCH) // _MICROSECOND)
                           for value in values]) + "}"


def _time_from_microseconds(column: str) -> str:
    """SQL for the timestamptz `column` microseconds after the epoch, exact over the whole range of
    Python's datetime: whole days and the microseconds left each stay exact where the interval
    arithmetic goes through double precision, and timestamp arithmetic (no time zone) keeps the
    session's zone and its daylight saving out of it. (`%%` is the driver's escape for `%`.)"""
    return (f"(TIMESTAMP 'epoch' + ({column} / {_MICROSECONDS_A_DAY}) * INTERVAL '1 day'"
            f" + ({column} %% {_MICROSECONDS_A_DAY}) * INTERVAL '1 microsecond') AT TIME ZONE 'UTC'")


_INSERT = re.compile(r"^(INSERT INTO \w+ \([^)]*\)) VALUES \((.*?)\)(.*)$", re.DOTALL)
_UNNEST_CACHE: dict[tuple[str, tuple[str, ...]], str] = {}


def _split_insert(sql: str) -> tuple[str, str, str]:
    match = _INSERT.match(sql)
    if match is None:
        raise ValueError("not an insert of one row of values: " + sql[:80])
    return match.group(1), match.group(2), match.group(3).strip()


def _unnest_sql(sql: str, types: tuple[str, ...]) -> str:
    """The PostgreSQL form of `sql`: its parameters become columns p1, p2 … of `unnest(%s::type[], …)`."""
    cached = _UNNEST_CACHE.get((sql, types))
    if cached is not None:
        return cached
    if sql.count("?") != len(types):
        raise ValueError(f"{sql.count('?')} parameters, {len(types)} types: {sql[:80]}")
    numbers = iter(range(1, len(types) + 1))
    marked = re.sub(r"\?", lambda _: f"v.p{next(numbers)}", sql)
    names = [f"p{n}" for n in range(1, len(types) + 1)]
    # Times are sent as microseconds (`time_array_literal`) and turned back in a subquery.
    times = "timestamptz" in types
    arrays = ", ".join(f"%s::{'bigint' if kind == 'timestamptz' else kind}[]" for kind in types)
    source = f"unnest({arrays}) AS {'u' if times else 'v'}({', '.join(names)})"
    if times:
        columns = ", ".join(f"{_time_from_microseconds('u.' + name)} AS {name}" if kind == "timestamptz"
                            else f"u.{name}" for name, kind in zip(names, types, strict=True))
        source = f"(SELECT {columns} FROM {source}) AS v"  # noqa: S608 - our own SQL
    if marked.startswith("INSERT "):
        head, values, tail = _split_insert(marked)
        statement = f"{head} SELECT {values} FROM {source} {tail}"  # noqa: S608 - the caller's SQL, parameter marks
    elif marked.startswith("UPDATE "):
        target, where = marked.split(" WHERE ", 1)
        statement = f"{target} FROM {source} WHERE {where}"
    elif marked.startswith("DELETE FROM "):
        target, where = marked.split(" WHERE ", 1)
        statement = f"{target} USING {source} WHERE {where}"
    else:
        raise ValueError(f"not an INSERT, UPDATE or DELETE: {sql[:80]}")
    _UNNEST_CACHE[(sql, types)] = statement
    return statement
