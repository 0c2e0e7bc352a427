"""The selling clock: what happens when time passes, with nobody clicking.

About every `SELLING_TICK_SECONDS` (0.25 s) each server process closes auctions whose time is up,
ends flash sales that are over, and releases expired holds (the waitlist first). Every step is a
conditional update that only one process wins, so running in every worker is safe and a dead
worker is covered by the others.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Flask

from extensions import db, utcnow
from services import auctions, flash_sales, holds

log = logging.getLogger(__name__)


def run_due(now: datetime | None = None) -> None:
    """Close, end and release whatever is due at `now` (each its own transaction)."""
    now = now or utcnow()
    for step in (auctions.close_due, flash_sales.close_due, _expire_holds):
        try:
            step(now)
        except Exception:  # noqa: BLE001 - one failing step must not stop the others, or the clock
            db.session.rollback()
            log.exception("selling clock step %s failed", step.__name__)


def _expire_holds(now: datetime) -> None:
    holds.publish_changes(holds.expire_holds(now))


def start_in_server(app: Flask) -> bool:
    """Run the clock in a greenlet, but only in a gevent server process (tests and CLI commands
    build apps too, and drive `run_due` themselves)."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        return False
    import gevent

    tick = float(app.config.get("SELLING_TICK_SECONDS", 0.25))

    def tick_forever() -> None:
        while True:
            gevent.sleep(tick)
            with app.app_context():
                try:
                    run_due()
                finally:
                    db.session.remove()

    gevent.spawn(tick_forever)
    return True
