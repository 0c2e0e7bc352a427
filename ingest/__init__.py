"""The TikTok LIVE ingester: see docs/architecture.md ("Ingest") and docs/ingest-events.md."""

from __future__ import annotations

from flask import Flask


def start_in_server(app: Flask) -> bool:
    """Start the ingest supervisor, but only in a gevent server process (a gunicorn worker).

    Tests and CLI commands build apps too; they never start clients, even with INGEST_ENABLED.
    """
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        return False
    from ingest.supervisor import start_ingest

    start_ingest(app)
    return True
