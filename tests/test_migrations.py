"""`flask db upgrade` builds the schema on an empty SQLite file and an empty PostgreSQL database,
and the migrations match the models exactly."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from config import normalise_database_url
from extensions import db, include_in_migrations
from tests.support import ROOT


def flask_cli(database_url: str, *args: str, instance=None) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = {**os.environ, "FLASK_APP": "app:create_app", "STREAMSHOP_ENV": "testing", "SECRET_KEY": "x",
           "DATABASE_URL": database_url}
    if instance:
        env["INSTANCE_PATH"] = str(instance)
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def assert_schema_matches_models(database_url: str) -> None:
    import models  # noqa: F401

    engine = sa.create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                                   "include_name": include_in_migrations})
            assert compare_metadata(context, db.metadata) == []
            tables = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert {"users", "shops", "alembic_version"} <= tables


def upgrade_then_downgrade(database_url: str, instance) -> None:  # noqa: ANN001
    upgraded = flask_cli(database_url, "db", "upgrade", instance=instance)
    assert upgraded.returncode == 0, upgraded.stderr
    assert_schema_matches_models(database_url)
    downgraded = flask_cli(database_url, "db", "downgrade", "base", instance=instance)
    assert downgraded.returncode == 0, downgraded.stderr


def test_upgrade_an_empty_sqlite_file(tmp_path):
    upgrade_then_downgrade(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path)


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs DATABASE_URL (set in CI's second run)")
def test_upgrade_an_empty_postgresql_database(tmp_path):
    server = sa.engine.make_url(normalise_database_url(os.environ["DATABASE_URL"]))
    name = f"streamshop_migrate_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        upgrade_then_downgrade(server.set(database=name).render_as_string(hide_password=False), tmp_path)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
