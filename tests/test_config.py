"""Configuration from the environment, the secret key rule and SQLite connection settings."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import create_app
from config import normalise_database_url
from extensions import db


def test_production_refuses_to_start_without_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("STREAMSHOP_ENV", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_development_makes_and_keeps_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = create_app({"STREAMSHOP_ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    second = create_app({"STREAMSHOP_ENV": "development", "INSTANCE_PATH": str(tmp_path)})
    assert len(first.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]


def test_secret_key_and_database_url_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("DATABASE_URL", "postgresql://user@db.internal/shop")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://user@db.internal/shop"
    assert app.config["SESSION_COOKIE_SECURE"] is True  # production default


@pytest.mark.parametrize(
    ("given", "expected"),
    [("postgres://u@h/d", "postgresql+psycopg://u@h/d"), ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
     ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db")],
)
def test_database_urls_use_psycopg3(given, expected):
    assert normalise_database_url(given) == expected


def test_sqlite_is_opened_with_wal_foreign_keys_and_busy_timeout(tmp_path):
    app = create_app({"STREAMSHOP_ENV": "testing", "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path),
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/pragma.db"})
    with app.app_context():
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(sa.text("PRAGMA busy_timeout")).scalar() == 15000
        db.engine.dispose()


def test_times_are_stored_and_returned_as_aware_utc(app_ctx):
    from models import User
    from tests.factories import make_user

    user = make_user("clock")
    db.session.expire_all()
    loaded = db.session.get(User, user.id)
    assert loaded.created_at.tzinfo is not None and loaded.created_at.utcoffset().total_seconds() == 0
