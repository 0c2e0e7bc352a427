"""`flask db upgrade` builds the schema on an empty SQLite file and an empty PostgreSQL database,
and the migrations match the models exactly."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from config import normalise_database_url
from extensions import db, include_in_migrations
from tests.support import ROOT


def downgrade_to_0016(database_url: str, instance) -> None:  # noqa: ANN001
    """Put a database back to 0016 by its migration (0017 changes keys, which SQLite cannot drop by hand)."""
    db.session.commit()
    db.session.remove()
    db.engine.dispose()
    downgraded = flask_cli(database_url, "db", "downgrade", "0016_i13_overview_indexes", instance=instance)
    assert downgraded.returncode == 0, downgraded.stderr


#: What puts a database back from 0016 to 0015 by hand (the backfill tests below go back further).
UNDO_0016 = ("DROP INDEX ix_viewer_profiles_account_birthday_handle",
             "DROP INDEX ix_viewer_gift_history_account_room_viewer",
             "CREATE INDEX ix_viewer_profiles_account_birthday "
             "ON viewer_profiles (account_id, birthday_month, birthday_day)")


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
            # Alembic's comparison does not look at a partial index's condition: each that the models
            # give one has one (PostgreSQL rewrites a condition's text, so only its presence is compared).
            assert partial_indexes(sa.inspect(connection), connection.dialect.name) == {
                (table.name, index.name) for table in db.metadata.tables.values() for index in table.indexes
                if index.dialect_options[connection.dialect.name]["where"] is not None}
            if connection.dialect.name == "postgresql":
                # Nor at a table's storage parameters (viewer_sessions' fillfactor).
                wanted = {table.name: table.dialect_options["postgresql"]["with"]
                          for table in db.metadata.tables.values()}
                assert storage_parameters(connection) == {
                    name: {option: str(value) for option, value in options.items()}
                    for name, options in wanted.items() if options}
    finally:
        engine.dispose()
    assert {"users", "shops", "alembic_version"} <= tables


def partial_indexes(inspector: sa.Inspector, dialect: str) -> set[tuple[str, str]]:
    """(table, index) of each partial index the database has."""
    return {(table, index["name"]) for table in inspector.get_table_names() for index in inspector.get_indexes(table)
            if index.get("dialect_options", {}).get(f"{dialect}_where") is not None}


def storage_parameters(connection: sa.Connection) -> dict[str, dict[str, str]]:
    """PostgreSQL: each table's storage parameters set (table -> name -> value), of those with any."""
    rows = connection.execute(sa.text("SELECT relname, reloptions FROM pg_class WHERE relkind = 'r'"
                                      " AND relnamespace = 'public'::regnamespace AND reloptions IS NOT NULL"))
    return {name: dict(option.split("=", 1) for option in options) for name, options in rows}


@contextmanager
def scratch_postgresql() -> Iterator[str]:
    """The URL of a new, empty database on DATABASE_URL's server, dropped afterwards."""
    server = sa.engine.make_url(normalise_database_url(os.environ["DATABASE_URL"]))
    name = f"streamshop_migrate_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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
    with scratch_postgresql() as url:
        upgrade_then_downgrade(url, tmp_path)


def test_the_account_figures_migration_counts_them_from_existing_profiles(tmp_path):
    """0012 gives existing accounts their kept figures (watchtime, VIPs, and the two 0009 kept),
    counted from their profiles: a database with viewers, put back to 0011's schema by hand (a
    batch downgrade on SQLite would recreate the accounts table, which its foreign keys forbid
    while profiles point at it) and upgraded again."""
    from datetime import UTC, datetime, timedelta

    from app import create_app
    from ingest import rules
    from models import VipTier
    from services import account_figures, tiktok
    from tests.factories import make_user
    from tests.ingest_support import FakeClock, event, gift, viewer
    from tests.support import FAST_HASH

    url = f"sqlite:///{tmp_path / 'figures.db'}"
    assert flask_cli(url, "db", "upgrade", instance=tmp_path).returncode == 0
    app = create_app({"STREAMSHOP_ENV": "testing", "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url,
                      "PASSWORD_HASH_METHOD": FAST_HASH, "INSTANCE_PATH": str(tmp_path)})
    start = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
    with app.app_context():
        account_id = tiktok.link_account(make_user("figures"), "figures.live", "UTC").id
        ann, bob = viewer(1, "ann"), viewer(2, "bob")
        rules.apply_batch(account_id, [event("live_start", start, None), gift(start, ann, price=300, repeat=2),
                                       event("comment", start, bob, text="hi"),
                                       event("comment", start + timedelta(minutes=4), bob, text="bye"),
                                       event("live_end", start + timedelta(minutes=5), None)],
                          FakeClock(start + timedelta(minutes=5)))
        gold = db.session.scalar(sa.select(VipTier.id).where(VipTier.account_id == account_id, VipTier.name == "Gold"))
        db.session.execute(sa.text("UPDATE viewer_profiles SET vip_tier_id = :gold, vip_source = 'manual' "
                                   "WHERE handle = 'ann'"), {"gold": gold})
        db.session.execute(sa.text("UPDATE tiktok_accounts SET total_viewers = 0, total_coins = 0"))
        db.session.commit()
        expected = account_figures.recounted(account_id)
        downgrade_to_0016(url, tmp_path)
        for statement in ("ALTER TABLE tiktok_accounts DROP COLUMN total_watch_seconds",
                          "ALTER TABLE tiktok_accounts DROP COLUMN vip_viewers",
                          *(f"DROP INDEX {name}" for name in (
                              "ix_viewer_sessions_account_started", "ix_viewer_sessions_account_room_started",
                              "ix_viewer_sessions_account_room_last", "ix_viewer_gift_history_account_room_sent",
                              "ix_viewer_interactions_account_room_occurred")),
                          "DROP TABLE viewer_last_seen_hours",  # 0014's
                          "DROP INDEX ix_viewer_sessions_account_room_vip_started",  # 0015's
                          "ALTER TABLE viewer_sessions DROP COLUMN vip",
                          *UNDO_0016,
                          "UPDATE alembic_version SET version_num = '0011_i10_video'"):
            db.session.execute(sa.text(statement))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    assert expected == {"total_viewers": 2, "total_coins": 600, "total_watch_seconds": 240, "vip_viewers": 1}
    upgraded = flask_cli(url, "db", "upgrade", instance=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    with app.app_context():
        assert account_figures.stored(account_id) == expected
        db.session.remove()
        db.engine.dispose()


def the_last_seen_hours_backfill(url: str, tmp_path) -> None:  # noqa: ANN001
    """Profiles last seen in three different hours (two in one), one of them given a tier behind
    the app's back, then 0014's table and 0015's column dropped and the version put back to 0013 by
    hand, and upgraded again: the backfilled hours equal the recount, and each session says
    whether its viewer is a VIP."""
    from datetime import UTC, datetime, timedelta

    from app import create_app
    from ingest import rules
    from services import account_figures, tiktok
    from tests.factories import make_user
    from tests.ingest_support import FakeClock, event, viewer
    from tests.support import FAST_HASH

    assert flask_cli(url, "db", "upgrade", instance=tmp_path).returncode == 0
    app = create_app({"STREAMSHOP_ENV": "testing", "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url,
                      "PASSWORD_HASH_METHOD": FAST_HASH, "INSTANCE_PATH": str(tmp_path)})
    start = datetime(2026, 11, 1, 20, 59, 59, 999_999, tzinfo=UTC)
    with app.app_context():
        account_id = tiktok.link_account(make_user("hours"), "hours.live", "UTC").id
        for number, moment in enumerate((start, start, start + timedelta(microseconds=1), start + timedelta(days=3))):
            rules.apply_batch(account_id, [event("comment", moment, viewer(number + 1, f"v{number}"), text="hi")],
                              FakeClock(moment))
        expected = account_figures.recounted_last_seen(account_id)
        assert account_figures.stored_last_seen(account_id) == expected
        db.session.execute(sa.text("UPDATE viewer_profiles SET vip_tier_id = (SELECT min(id) FROM vip_tiers), "
                                   "vip_source = 'manual' WHERE handle IN ('v0', 'v3')"))
        downgrade_to_0016(url, tmp_path)
        db.session.execute(sa.text("DROP TABLE viewer_last_seen_hours"))
        db.session.execute(sa.text("DROP INDEX ix_viewer_sessions_account_room_vip_started"))
        db.session.execute(sa.text("ALTER TABLE viewer_sessions DROP COLUMN vip"))
        for statement in UNDO_0016:
            db.session.execute(sa.text(statement))
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = '0013_i13_live_picture_indexes'"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    hour = account_figures.hour_of(start)
    assert expected == {hour: 2, hour + 1: 1, hour + 72: 1}
    upgraded = flask_cli(url, "db", "upgrade", instance=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    with app.app_context():
        assert account_figures.stored_last_seen(account_id) == expected
        flags = db.session.execute(sa.text("SELECT p.handle, s.vip FROM viewer_sessions s "
                                           "JOIN viewer_profiles p ON p.id = s.viewer_id ORDER BY p.handle")).all()
        assert [(handle, bool(vip)) for handle, vip in flags] == [
            ("v0", True), ("v1", False), ("v2", False), ("v3", True)]
        db.session.remove()
        db.engine.dispose()


def test_the_last_seen_hours_and_session_vip_migrations_backfill_on_sqlite(tmp_path):
    the_last_seen_hours_backfill(f"sqlite:///{tmp_path / 'hours.db'}", tmp_path)


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs DATABASE_URL (set in CI's second run)")
def test_the_last_seen_hours_and_session_vip_migrations_backfill_on_postgresql(tmp_path):
    with scratch_postgresql() as url:
        the_last_seen_hours_backfill(url, tmp_path)


def message_ids_survive_0018(database_url: str, instance) -> None:  # noqa: ANN001
    """0018 rekeys the applied message ids (by account and message id, no foreign key): ids applied
    before it, downgraded through it and upgraded again, are still applied, so a reconnect's replay
    after the upgrade counts nothing twice."""
    from datetime import UTC, datetime

    from app import create_app
    from ingest import rules
    from models import IngestedMessage, TikTokAccount, ViewerProfile
    from services import tiktok
    from tests.factories import make_user
    from tests.ingest_support import FakeClock, event, viewer
    from tests.support import FAST_HASH

    assert flask_cli(database_url, "db", "upgrade", instance=instance).returncode == 0
    app = create_app({"STREAMSHOP_ENV": "testing", "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": database_url,
                      "PASSWORD_HASH_METHOD": FAST_HASH, "INSTANCE_PATH": str(instance)})
    start = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    batch = [event("comment", start, viewer(1, "ann"), text="hi", message_id="m-1"),
             event("comment", start, viewer(1, "ann"), text="again", message_id="m-2")]
    with app.app_context():
        account_id = tiktok.link_account(make_user("claims"), "claims.live", "UTC").id
        assert rules.apply_batch(account_id, batch, FakeClock(start)).applied == 2
        db.session.remove()
        db.engine.dispose()
        for command, revision in (("downgrade", "0017_i13_viewer_row_keys"), ("upgrade", "head")):
            moved = flask_cli(database_url, "db", command, revision, instance=instance)
            assert moved.returncode == 0, moved.stderr
        assert_schema_matches_models(database_url)
        result = rules.apply_batch(account_id, batch, FakeClock(start))
        assert (result.applied, result.duplicates) == (0, 2)
        assert db.session.scalar(sa.select(ViewerProfile.total_comments)) == 2
        tiktok.unlink_account(db.session.get(TikTokAccount, account_id))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IngestedMessage)) == 0
        db.session.remove()
        db.engine.dispose()


def test_message_ids_applied_before_0018_stay_applied_on_sqlite(tmp_path):
    message_ids_survive_0018(f"sqlite:///{tmp_path / 'claims.db'}", tmp_path)


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs DATABASE_URL (set in CI's second run)")
def test_message_ids_applied_before_0018_stay_applied_on_postgresql(tmp_path):
    with scratch_postgresql() as url:
        message_ids_survive_0018(url, tmp_path)
