"""The home page and the health check."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import gevent
from flask import Blueprint, current_app, jsonify

from extensions import db
from realtime import current_hub
from services import live
from services.database import check_database
from services.demo import DEMO_ACCOUNTS
from web import render

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    """Shows live now, upcoming and replays; in development, a banner with the demo logins."""
    demo_accounts = DEMO_ACCOUNTS if current_app.config["STREAMSHOP_ENV"] == "development" else ()
    return render("main/index.html", demo_accounts=demo_accounts, **live.listing())


@bp.get("/healthz")
def healthz():
    """Database and (when configured) Redis status, within HEALTH_TIMEOUT whatever they do.

    503 "error" when the database is down or does not answer in time; 200 "degraded" when only
    Redis is (the app still serves everything: rate limits count in memory, pages poll instead of
    being pushed to).
    """
    deadline = time.monotonic() + current_app.config["HEALTH_TIMEOUT"]
    checks = {"database": _within(deadline, check_database)}
    if checks["database"].startswith("error: no answer"):
        # Pooled connections may be stuck mid-conversation: start afresh rather than reuse them,
        # so the app recovers by itself once the database answers again.
        with contextlib.suppress(Exception):
            db.session.invalidate()
        db.engine.dispose()
    if hasattr(current_hub(), "redis"):
        checks["redis"] = _within(deadline, current_hub().check)
    if checks["database"] != "ok":
        return jsonify(status="error", **checks), 503
    status = "ok" if all(result == "ok" for result in checks.values()) else "degraded"
    return jsonify(status=status, **checks), 200


def _within(deadline: float, check: Callable[[], str]) -> str:
    """`check()`, or an error once `deadline` passes (gevent interrupts the waiting driver)."""
    seconds = max(0.1, deadline - time.monotonic())
    try:
        with gevent.Timeout(seconds):
            return check()
    except gevent.Timeout:
        return f"error: no answer within {seconds:.1f} s"
