"""Fixtures: an app on a real database (SQLite file by default, PostgreSQL when DATABASE_URL is
set), its test client, and real gunicorn servers sharing that database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app import create_app
from config import normalise_database_url
from extensions import db, limiter
from tests.support import FAST_HASH, Browser, Server, end_started_processes

DATABASE_URL = os.environ.get("DATABASE_URL")
REDIS_URL = os.environ.get("REDIS_URL")
_postgres_schema_ready = False


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fail loudly, not skip, when a configured PostgreSQL or Redis cannot be reached."""
    if DATABASE_URL:
        try:
            engine = sa.create_engine(normalise_database_url(DATABASE_URL))
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            engine.dispose()
        except Exception as error:  # noqa: BLE001
            pytest.exit(f"DATABASE_URL is set but unreachable: {error}", returncode=3)
    if REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        except Exception as error:  # noqa: BLE001
            pytest.exit(f"REDIS_URL is set but unreachable: {error}", returncode=3)


@pytest.fixture(autouse=True)
def _end_started_processes() -> Iterator[None]:
    """Whatever a test started (gunicorn masters and their workers, emulators, redis-server) is
    ended after it, even when the test failed before its own finaliser could run."""
    yield
    end_started_processes()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

# `expect` waits up to this for what a person would see (Playwright's default is 5 s); a test that
# bounds a delay (e.g. "within 15 s") passes its own timeout.
expect.set_options(timeout=60_000)


@pytest.fixture(name="chromium", scope="session")
def chromium_fixture() -> Iterator:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing: `make test` installs Debian's chromium")
        pytest.skip("no browser: /usr/bin/chromium is missing and `make test` could not install it here")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def requires_redis() -> pytest.MarkDecorator:
    return pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (set in CI's second run)")


@pytest.fixture(name="database_uri")
def database_uri_fixture(tmp_path: Path) -> str:
    if DATABASE_URL:
        return normalise_database_url(DATABASE_URL)
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(name="app")
def app_fixture(tmp_path: Path, database_uri: str) -> Iterator:
    global _postgres_schema_ready
    app = create_app(
        {
            "STREAMSHOP_ENV": "testing",
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "PASSWORD_HASH_METHOD": FAST_HASH,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "REDIS_HUB_PREFIX": f"test-{uuid.uuid4().hex}:",
        }
    )
    with app.app_context():
        if not DATABASE_URL:
            db.create_all()
        elif not _postgres_schema_ready:
            db.drop_all()
            db.create_all()
            _postgres_schema_ready = True
        limiter.reset()
        if REDIS_URL:
            app.extensions["hub"].redis.flushdb()
    yield app
    with app.app_context():
        db.session.remove()
        if DATABASE_URL:
            empty_postgres_tables()
        db.engine.dispose()


def empty_postgres_tables() -> None:
    """Every table emptied and every id sequence restarted, as in a fresh database, for the next test.

    DELETE rather than TRUNCATE: a test leaves a few rows, and TRUNCATE gives each table and index
    new files, about 60 ms a test (25 s of the suite's 11 minutes on PostgreSQL); DELETE in
    dependency order and the sequences set back take about 6 ms."""
    with db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())
        connection.execute(sa.text("SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) "
                                   "FROM pg_sequences WHERE schemaname = current_schema()"))


@pytest.fixture(name="client")
def client_fixture(app):  # noqa: ANN001, ANN201
    return app.test_client()


@pytest.fixture(name="app_ctx")
def app_ctx_fixture(app):  # noqa: ANN001, ANN201
    with app.app_context():
        yield app


def server_env(app) -> dict[str, str]:  # noqa: ANN001
    """Environment for a gunicorn process that serves the same database as `app`."""
    env = {
        "STREAMSHOP_ENV": "testing",
        "SECRET_KEY": app.config["SECRET_KEY"],
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "INSTANCE_PATH": app.instance_path,
        "REDIS_HUB_PREFIX": app.config["REDIS_HUB_PREFIX"],
        "GRACEFUL_TIMEOUT": "20",
    }
    if REDIS_URL:
        env["REDIS_URL"] = REDIS_URL
    return env


@pytest.fixture(name="live_server")
def live_server_fixture(app) -> Iterator[Server]:  # noqa: ANN001
    """One real gunicorn gevent worker on the test database."""
    server = Server(server_env(app))
    yield server
    server.stop()


@pytest.fixture(name="browser_client")
def browser_client_fixture(live_server: Server) -> Iterator[Browser]:
    with Browser(live_server.url) as client:
        yield client
