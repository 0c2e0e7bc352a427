"""Engine set-up and the database health check."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from extensions import db


def configure_engine(engine: Engine) -> None:
    """Give every SQLite connection WAL, foreign keys and a busy timeout (PostgreSQL needs none)."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_streamshop_configured", False):
        return

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        # WAL lets readers carry on while one writer commits.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
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
