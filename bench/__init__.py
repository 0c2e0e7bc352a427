"""Benchmarks: each prints its figures; none asserts a time (machines here are shared and noisy)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from flask import Flask


def fresh_database(tmp: Path) -> tuple[str, Callable[[], None]]:
    """A new empty database and a function that drops it: a SQLite file in `tmp`, or a new
    database on the server `DATABASE_URL` names (called BENCH_DATABASE_NAME when that is set, for a
    machine where each user may only create a database of a given name; it must not exist yet)."""
    from config import normalise_database_url

    if not os.environ.get("DATABASE_URL"):
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    server = sa.engine.make_url(normalise_database_url(os.environ["DATABASE_URL"]))
    name = os.environ.get("BENCH_DATABASE_NAME") or f"streamshop_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop


@contextmanager
def bench_app(tmp: Path) -> Iterator[tuple[Flask, str]]:
    """The app (testing config, fast password hashes) on a fresh database with the schema created,
    and that database's URL; afterwards the connections are closed and the database dropped."""
    from app import create_app
    from extensions import db
    from tests.support import FAST_HASH

    database_url, drop_database = fresh_database(tmp)
    try:
        app = create_app({"STREAMSHOP_ENV": "testing", "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database_url,
                          "PASSWORD_HASH_METHOD": FAST_HASH, "INSTANCE_PATH": str(tmp)})
        with app.app_context():
            db.create_all()
        yield app, database_url
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        drop_database()
