"""GET /healthz reports the database and Redis: 503 when the database is down, "degraded" without Redis."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
import sqlalchemy as sa

from app import create_app
from extensions import db
from tests.conftest import DATABASE_URL, requires_redis, server_env
from tests.support import (
    FAST_HASH,
    READY_TIMEOUT,
    ROOT,
    end_process,
    free_port,
    running_server,
    start_process,
    wait_for,
)


def _app(tmp_path, **overrides):  # noqa: ANN001, ANN202
    return create_app({"STREAMSHOP_ENV": "testing", "SECRET_KEY": "x", "PASSWORD_HASH_METHOD": FAST_HASH,
                       "INSTANCE_PATH": str(tmp_path), **overrides})


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok" and response.json["database"] == "ok"


def test_database_down_is_503(tmp_path):
    app = _app(tmp_path, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/nothing",
               SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "error" and response.json["database"].startswith("error")


def test_redis_down_is_degraded_not_down(tmp_path):
    app = _app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/h.db", REDIS_URL="redis://127.0.0.1:1/0",
               REDIS_HUB_PREFIX="down:")
    response = app.test_client().get("/healthz")
    # The app still serves without Redis (tests/test_faults.py), so it stays in rotation.
    assert response.status_code == 200 and response.json["status"] == "degraded"
    assert response.json["database"] == "ok" and response.json["redis"].startswith("error")


@requires_redis()
def test_redis_up_is_reported(tmp_path):
    app = _app(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/h.db", REDIS_URL=os.environ["REDIS_URL"])
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.json["redis"] == "ok"


class SilentDatabase:
    """A TCP server the test runs in front of PostgreSQL (or of nothing). Once silenced, it accepts
    connections and never answers, and stops relaying on the connections already open: a database
    host that hangs."""

    def __init__(self, upstream: tuple[str, int] | None = None) -> None:
        self.upstream = upstream
        self.silent = threading.Event()
        if upstream is None:
            self.silent.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.silent.is_set() or self.upstream is None:
                continue
            upstream = socket.create_connection(self.upstream)
            self.sockets.append(upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._relay, args=(source, target), daemon=True).start()

    def _relay(self, source: socket.socket, target: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
                if not data:
                    return
                if not self.silent.is_set():
                    target.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.mark.server
@pytest.mark.skipif(not (DATABASE_URL or "").startswith("postgres"), reason="needs PostgreSQL (CI's second run)")
def test_a_database_that_stops_answering_gets_503_within_2_s(app):
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    database = SilentDatabase((url.host or "127.0.0.1", url.port or 5432))
    env = {**server_env(app),
           "DATABASE_URL": url.set(host="127.0.0.1", port=database.port).render_as_string(hide_password=False)}
    try:
        with running_server(env) as server:
            assert httpx.get(server.url + "/healthz", timeout=30).json()["status"] == "ok"
            database.silent.set()
            # The pooled connection hangs first, then each new connection attempt.
            for _ in range(3):
                started = time.monotonic()
                response = httpx.get(server.url + "/healthz", timeout=30)
                took = time.monotonic() - started
                assert response.status_code == 503, response.text
                assert response.json()["database"].startswith("error"), response.json()
                assert took < 2, f"/healthz took {took:.2f} s"
            # And it recovers by itself once the database answers again.
            database.silent.clear()
            deadline = time.monotonic() + READY_TIMEOUT
            while httpx.get(server.url + "/healthz", timeout=30).status_code != 200:
                assert time.monotonic() < deadline, "/healthz never recovered"
                time.sleep(0.2)
    finally:
        database.close()


#: The PostgreSQL application name of the connections of the apps these tests make and cut off.
CUT_OFF = "streamshop-cut-off-test"


def _backends(database_uri: str) -> set[int]:
    """The server processes behind the connections of the apps made by `app_with_ping_after`."""
    engine = sa.create_engine(database_uri, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        pids = set(connection.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                                      {"name": CUT_OFF}).scalars())
    engine.dispose()
    return pids


def _terminate_all(database_uri: str) -> set[int]:
    """What a database restart does to a client's connections: the server ends them all."""
    pids = _backends(database_uri)
    assert pids, "the app holds no connection to cut off"
    engine = sa.create_engine(database_uri, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        for pid in pids:
            connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    engine.dispose()
    # pg_terminate_backend only signals: wait until the processes have gone.
    wait_for(lambda: not (_backends(database_uri) & pids), message="the terminated backends never went")
    return pids


@pytest.fixture(name="app_with_ping_after")
def app_with_ping_after_fixture(app, tmp_path):  # noqa: ANN001, ANN201
    """Make an app on the test database whose idle pooled connections are pinged after `seconds`."""
    made = []

    def make(seconds: float):  # noqa: ANN202
        made.append(_app(tmp_path, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                         DATABASE_PING_AFTER_IDLE_SECONDS=seconds,
                         SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"application_name": CUT_OFF}}))
        return made[-1]

    yield make
    for each in made:
        with each.app_context():
            db.engine.dispose()


postgres_only = pytest.mark.skipif(not (DATABASE_URL or "").startswith("postgres"),
                                   reason="needs PostgreSQL (CI's second run)")


@postgres_only
def test_a_connection_idle_through_a_database_restart_is_replaced_before_use(app, app_with_ping_after):
    # Idle for longer than the threshold (0 s here), the pooled connection is pinged at checkout.
    restarted = app_with_ping_after(0)
    client = restarted.test_client()
    assert client.get("/").status_code == 200
    old = _terminate_all(app.config["SQLALCHEMY_DATABASE_URI"])
    assert client.get("/").status_code == 200
    assert not _backends(app.config["SQLALCHEMY_DATABASE_URI"]) & old


@postgres_only
def test_a_connection_lost_while_in_use_costs_one_request_then_the_pool_recovers(app, app_with_ping_after):
    # Used again within the threshold, the connection is not pinged: the request that finds it dead
    # fails, and SQLAlchemy replaces the pool so the next one succeeds.
    restarted = app_with_ping_after(3600)
    client = restarted.test_client()
    assert client.get("/").status_code == 200
    _terminate_all(app.config["SQLALCHEMY_DATABASE_URI"])
    with pytest.raises(sa.exc.OperationalError, match="terminating connection"):
        client.get("/")  # a testing app lets the error through instead of answering 500
    assert [client.get("/").status_code for _ in range(2)] == [200, 200]


@pytest.mark.server
@pytest.mark.parametrize("database", ["refuses", "never answers"])
def test_gunicorn_refuses_to_start_without_its_database(app, tmp_path, database):
    silent = SilentDatabase() if database == "never answers" else None
    port = silent.port if silent else free_port()
    log_path = tmp_path / "gunicorn.log"
    env = {**os.environ, **server_env(app), "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/streamshop",
           "DATABASE_CONNECT_TIMEOUT": "2", "PORT": str(free_port()), "WEB_CONCURRENCY": "1"}
    try:
        with open(log_path, "w") as log:
            process = start_process([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                returncode = process.wait(timeout=READY_TIMEOUT)
            finally:
                end_process(process)
    finally:
        if silent:
            silent.close()
    output = log_path.read_text()
    assert returncode == 1, output
    assert f"cannot reach its database at postgresql+psycopg://postgres@127.0.0.1:{port}/streamshop" in output
    assert "Booting worker" not in output
