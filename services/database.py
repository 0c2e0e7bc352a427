"""Engine set-up, the database health check, and the upsert helpers both backends share."""

from __future__ import annotations

import json
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


def bulk_insert(table: sa.Table, rows: list[dict[str, Any]], constants: dict[str, Any] | None = None,
                on_conflict: Any = None) -> None:
    """INSERT many rows (each a dict of the same keys) as one statement, with an optional
    `on_conflict(insert) -> insert` clause.

    PostgreSQL gets one `INSERT ... SELECT unnest(...)` with one array parameter per column: one
    execution on the server, however many rows. SQLite runs the same statement for every row
    (cheap in-process). Values the same for every row go in `constants` as SQL expressions.
    """
    if not rows:
        return
    constants = constants or {}
    names = list(rows[0])
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY, insert

        columns = []
        for name in names:
            column_type = table.c[name].type
            values = [row[name] for row in rows]
            if isinstance(column_type, sa.JSON):
                array = sa.cast(sa.bindparam(f"{name}_values", [json.dumps(value) for value in values],
                                             type_=ARRAY(sa.Text)), ARRAY(sa.Text))
                columns.append(sa.cast(sa.func.unnest(array), column_type).label(name))
            else:
                array = sa.cast(sa.bindparam(f"{name}_values", values, type_=ARRAY(column_type)), ARRAY(column_type))
                columns.append(sa.func.unnest(array).label(name))
        columns += [sa.cast(value, table.c[name].type).label(name) for name, value in constants.items()]
        statement = insert(table).from_select([*names, *constants], sa.select(*columns))
        db.session.execute(on_conflict(statement) if on_conflict else statement)
    else:
        from sqlalchemy.dialects.sqlite import insert

        statement = insert(table).values(**constants) if constants else insert(table)
        db.session.execute(on_conflict(statement) if on_conflict else statement, rows)
