"""Our TikTok tables come from our own migration, never from a table someone else left behind."""

from __future__ import annotations

import sqlalchemy as sa

import tests.test_migrations as migrations


def test_a_foreign_viewer_profiles_table_stops_the_upgrade_instead_of_being_reused(tmp_path):
    """P1: the original's CREATE TABLE IF NOT EXISTS silently reused another plugin's
    `viewer_profiles`; our migration fails loudly and leaves that table alone."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE viewer_profiles (username TEXT PRIMARY KEY, xp INTEGER)"))
    upgraded = migrations.flask_cli(url, "db", "upgrade", instance=tmp_path)
    assert upgraded.returncode != 0
    assert "viewer_profiles" in upgraded.stderr and "already exists" in upgraded.stderr
    with engine.connect() as connection:
        columns = [row[1] for row in connection.execute(sa.text("PRAGMA table_info(viewer_profiles)"))]
        assert columns == ["username", "xp"]
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0002"
    engine.dispose()
