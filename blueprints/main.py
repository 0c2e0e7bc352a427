"""The home page and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

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
    """Database and (when configured) Redis status.

    503 "error" when the database is down; 200 "degraded" when only Redis is (the app still
    serves everything: rate limits count in memory, pages poll instead of being pushed to).
    """
    checks = {"database": check_database()}
    if hasattr(current_hub(), "redis"):
        checks["redis"] = current_hub().check()
    if checks["database"] != "ok":
        return jsonify(status="error", **checks), 503
    status = "ok" if all(result == "ok" for result in checks.values()) else "degraded"
    return jsonify(status=status, **checks), 200
