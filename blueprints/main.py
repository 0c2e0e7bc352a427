"""The home page and the health check."""

from __future__ import annotations

from flask import Blueprint, jsonify

from realtime import current_hub
from services.database import check_database
from web import render

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    return render("main/index.html")


@bp.get("/healthz")
def healthz():
    """Database and (when configured) Redis status; 503 when either is down."""
    checks = {"database": check_database()}
    if hasattr(current_hub(), "redis"):
        checks["redis"] = current_hub().check()
    healthy = all(status == "ok" for status in checks.values())
    return jsonify(status="ok" if healthy else "error", **checks), 200 if healthy else 503
