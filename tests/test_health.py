"""GET /healthz reports the database and Redis: 503 when the database is down, "degraded" without Redis."""

from __future__ import annotations

import os

from app import create_app
from tests.conftest import requires_redis
from tests.support import FAST_HASH


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
