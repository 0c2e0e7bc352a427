"""The application factory; everything else is wired from here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import DEFAULT_INSTANCE, load_config


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a Streamshop app; `config` overrides what the environment says (tests use it)."""
    instance_path = Path(
        (config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH") or DEFAULT_INSTANCE
    )
    app = Flask(__name__, instance_path=str(instance_path), instance_relative_config=True)
    instance_path.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(load_config(instance_path, config))
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from extensions import csrf, db, limiter, login_manager, migrate, sock

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    sock.init_app(app)
    login_manager.init_app(app)

    import models  # noqa: F401  (registers every table on the metadata)
    import web
    from blueprints import account, auth, cart, checkout, errors, live, main, orders, realtime, seller, shop, shows
    from realtime import init_hub
    from services.database import configure_engine

    with app.app_context():
        configure_engine(db.engine, app.config["DATABASE_PING_AFTER_IDLE_SECONDS"])
    web.init_app(app)
    for blueprint in (main.bp, auth.bp, account.bp, shop.bp, cart.bp, checkout.bp, orders.bp, seller.bp,
                      live.bp, shows.bp, realtime.bp, errors.bp):
        app.register_blueprint(blueprint)
    from blueprints import studio, studio_tiers, studio_viewers, tiktok_links

    for blueprint in (studio.bp, studio_viewers.bp, studio_tiers.bp, tiktok_links.bp):
        app.register_blueprint(blueprint)
    from blueprints import selling

    app.register_blueprint(selling.bp)
    from blueprints import video

    video.init_app(app)
    from ingest.cli import ingest_cli

    app.cli.add_command(ingest_cli)
    init_hub(app)
    if app.config["INGEST_ENABLED"]:
        from ingest import start_in_server

        start_in_server(app)

    from services.selling_clock import start_in_server as start_selling_clock

    start_selling_clock(app)
    from cli import register_commands

    register_commands(app)
    return app
