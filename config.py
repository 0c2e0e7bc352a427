"""Configuration, read from environment variables.

`STREAMSHOP_ENV` picks the profile: `production` (the default, so a forgotten variable never
weakens a deployment), `development` (what `make run` uses) or `testing`. Tests pass a dict of
overrides to `create_app`, which is applied last.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
DEFAULT_INSTANCE = ROOT / "instance"


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def normalise_database_url(url: str) -> str:
    """Point plain `postgres://` / `postgresql://` URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def redis_fail_fast_options() -> dict[str, Any]:
    """Redis client options for calls made inside a request: a short timeout and no retries, so an
    outage costs a request a second at most before it degrades (see docs/security.md)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {"socket_connect_timeout": 1, "socket_timeout": 2, "retry": Retry(NoBackoff(), 0)}
MEDIA_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")


def media_origins(value: str) -> list[str]:
    """MEDIA_ORIGINS: space- or comma-separated origins (`https://cdn.example.com`) of external HLS."""
    origins = [origin.strip().rstrip("/") for origin in value.replace(",", " ").split() if origin.strip()]
    for origin in origins:
        if not MEDIA_ORIGIN.match(origin):
            raise RuntimeError(f"MEDIA_ORIGINS: {origin!r} is not an origin like https://cdn.example.com")
    return origins


def _development_secret_key(instance_path: Path) -> str:
    """A random key kept in the instance folder, so every dev worker and restart shares it."""
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
    return key_file.read_text().strip()


def load_config(instance_path: Path, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the config mapping for one app from the environment and the test overrides."""
    overrides = dict(overrides or {})
    env = overrides.get("STREAMSHOP_ENV") or os.environ.get("STREAMSHOP_ENV", "production")
    if env not in {"production", "development", "testing"}:
        raise RuntimeError(f"STREAMSHOP_ENV must be production, development or testing, not {env!r}")
    production = env == "production"

    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'streamshop.db'}"
    redis_url = os.environ.get("REDIS_URL") or None

    config: dict[str, Any] = {
        "STREAMSHOP_ENV": env,
        "TESTING": env == "testing",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or None,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        # A pooled PostgreSQL connection idle longer than this is pinged before use (see
        # services.database.configure_engine), so the pool rides out a database restart.
        "DATABASE_PING_AFTER_IDLE_SECONDS": float(os.environ.get("DATABASE_PING_AFTER_IDLE_SECONDS", "1")),
        # Timeouts, so a database that misbehaves slows requests down instead of hanging them:
        # connecting (PostgreSQL), one statement (PostgreSQL), waiting for another process's write
        # lock (SQLite), and the health check's whole answer.
        "DATABASE_CONNECT_TIMEOUT": int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5")),
        "DATABASE_STATEMENT_TIMEOUT": float(os.environ.get("DATABASE_STATEMENT_TIMEOUT", "30")),
        "DATABASE_BUSY_TIMEOUT": float(os.environ.get("DATABASE_BUSY_TIMEOUT", "15")),
        "HEALTH_TIMEOUT": float(os.environ.get("HEALTH_TIMEOUT", "1")),
        "REDIS_URL": redis_url,
        # Pub/sub channels are server-wide (not per database number): prefix them per deployment.
        "REDIS_HUB_PREFIX": os.environ.get("REDIS_HUB_PREFIX", "streamshop:hub:"),
        # Rate limits for failed logins: per account and per client address.
        "LOGIN_LIMIT_PER_ACCOUNT": os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "9 per 15 minutes"),
        "LOGIN_LIMIT_PER_ADDRESS": os.environ.get("LOGIN_LIMIT_PER_ADDRESS", "30 per 15 minutes"),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # When Redis is down, limits are counted in this process's memory until it is back, and a
        # storage error never fails a request.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_STORAGE_OPTIONS": redis_fail_fast_options() if redis_url else {},
        # No X-RateLimit-* headers on every answer of a limited route: they cost two more Redis
        # round trips per request (the window's count and expiry), measured on the bid route
        # (bench/auction.py, docs/benchmarks.md), and no client of ours reads them. A refusal
        # still says when to come back (Retry-After, blueprints/errors.py).
        "RATELIMIT_HEADERS_ENABLED": False,
        "PASSWORD_HASH_METHOD": os.environ.get("PASSWORD_HASH_METHOD", "scrypt"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag("COOKIE_SECURE", production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _flag("COOKIE_SECURE", production),
        # A login session (and its remember-me cookie) lasts this long unless revoked sooner.
        "LOGIN_SESSION_DAYS": int(os.environ.get("LOGIN_SESSION_DAYS", "365")),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        # Strict-Transport-Security max-age in seconds (0: no header). On in production: browsers
        # then refuse plain HTTP for the site. Turn it off only for a deployment without HTTPS.
        "HSTS_SECONDS": int(os.environ.get("HSTS_SECONDS", str(365 * 86400 if production else 0))),
        # Number of reverse proxies in front of the app whose X-Forwarded-* headers we trust.
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0")),
        # simple-websocket pings every socket; a client that misses a pong is dropped.
        # Clients send only heartbeats: a larger frame closes the socket (1009).
        "SOCK_SERVER_OPTIONS": {"ping_interval": int(os.environ.get("WS_PING_INTERVAL", "25")),
                                "max_message_size": int(os.environ.get("WS_MAX_MESSAGE_BYTES", "1024"))},
        # Except the browser's camera: "Go live with this camera" sends MediaRecorder chunks of
        # 100-300 KB (2.5 Mbit/s every 0.5 s) on its own socket (blueprints/video.py).
        "WS_INGEST_MAX_MESSAGE_BYTES": int(os.environ.get("WS_INGEST_MAX_MESSAGE_BYTES", str(4 * 1024 * 1024))),
        "WS_MAX_QUEUE": int(os.environ.get("WS_MAX_QUEUE", "500")),
        # Sockets one person (user or visitor) and one client address may hold (0: no cap): across
        # workers with REDIS_URL, else (or while Redis is down) per worker.
        "WS_MAX_SOCKETS_PER_CLIENT": int(os.environ.get("WS_MAX_SOCKETS_PER_CLIENT", "10")),
        "WS_MAX_SOCKETS_PER_ADDRESS": int(os.environ.get("WS_MAX_SOCKETS_PER_ADDRESS", "50")),
        # How long a socket stays counted in Redis without its worker refreshing it: bounds how long
        # the sockets of a killed worker still count against the caps.
        "WS_SOCKET_SLOT_TTL_SECONDS": int(os.environ.get("WS_SOCKET_SLOT_TTL_SECONDS", "90")),
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "PRODUCT_IMAGE_MAX_BYTES": int(os.environ.get("PRODUCT_IMAGE_MAX_BYTES", str(3 * 1024 * 1024))),
        # The payment step behind checkout; "instant" marks orders paid at once (no card processor).
        "PAYMENT_PROVIDER": os.environ.get("PAYMENT_PROVIDER", "instant"),
        # TikTok LIVE ingest (see docs/architecture.md, "Ingest"). Runs only in gunicorn workers.
        "INGEST_ENABLED": _flag("INGEST_ENABLED", False),
        "TIKTOK_APP_URL": os.environ.get("TIKTOK_APP_URL") or None,
        "TIKTOK_SIGN_URL": os.environ.get("TIKTOK_SIGN_URL") or None,
        "TIKTOK_WEBCAST_URL": os.environ.get("TIKTOK_WEBCAST_URL") or None,
        "TIKTOK_SIGN_API_KEY": os.environ.get("TIKTOK_SIGN_API_KEY") or None,
        "DEMO_REPLAY": os.environ.get("DEMO_REPLAY") or None,
        "DEMO_REPLAY_SPEED": float(os.environ.get("DEMO_REPLAY_SPEED", "1")),
        "INGEST_LEASE_SECONDS": float(os.environ.get("INGEST_LEASE_SECONDS", "15")),
        "INGEST_MAX_ACCOUNTS": int(os.environ.get("INGEST_MAX_ACCOUNTS", "0")),
        "INGEST_SWEEP_SECONDS": float(os.environ.get("INGEST_SWEEP_SECONDS", "60")),
        # How long stopping a writer waits for its queue before it stops after its current batch.
        "INGEST_STOP_SECONDS": float(os.environ.get("INGEST_STOP_SECONDS", "30")),
        "INGEST_OFFLINE_RECHECK_SECONDS": float(os.environ.get("INGEST_OFFLINE_RECHECK_SECONDS", "60")),
        "INGEST_BACKOFF_BASE_SECONDS": float(os.environ.get("INGEST_BACKOFF_BASE_SECONDS", "2")),
        "INGEST_BACKOFF_MAX_SECONDS": float(os.environ.get("INGEST_BACKOFF_MAX_SECONDS", "300")),
        "INGEST_RETENTION_DAYS": int(os.environ.get("INGEST_RETENTION_DAYS", "90")),
        # Live video (services/video.py): the self-hosted nginx-rtmp ingest, and external players.
        "VIDEO_ENABLED": _flag("VIDEO_ENABLED", True),
        "MEDIA_PATH": os.environ.get("MEDIA_PATH") or str(instance_path / "media"),
        "RTMP_HOST": os.environ.get("RTMP_HOST", "127.0.0.1"),
        "RTMP_PORT": int(os.environ.get("RTMP_PORT", "1935")),
        "RTMP_PUBLIC_URL": os.environ.get("RTMP_PUBLIC_URL") or None,
        "VIDEO_HOOK_URL": os.environ.get("VIDEO_HOOK_URL") or None,
        "VIDEO_GRACE_SECONDS": float(os.environ.get("VIDEO_GRACE_SECONDS", "120")),
        "MEDIA_ORIGINS": media_origins(os.environ.get("MEDIA_ORIGINS", "")),
    }
    config.update(overrides)

    if not config["SECRET_KEY"]:
        if config["STREAMSHOP_ENV"] == "production":
            raise RuntimeError(
                "SECRET_KEY is not set. Production refuses to start without it; "
                "set SECRET_KEY, or STREAMSHOP_ENV=development for a local run."
            )
        config["SECRET_KEY"] = _development_secret_key(instance_path)
    config.setdefault("REMEMBER_COOKIE_DURATION", timedelta(days=config["LOGIN_SESSION_DAYS"]))
    config["SQLALCHEMY_ENGINE_OPTIONS"] = _with_timeouts(config)
    return config


def _with_timeouts(config: Mapping[str, Any]) -> dict[str, Any]:
    """The engine options with the configured timeouts added (explicit `connect_args` win)."""
    options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
    connect_args = dict(options.get("connect_args", {}))
    url = config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        # A writer waits this long for another process's write lock instead of failing at once.
        connect_args.setdefault("timeout", config["DATABASE_BUSY_TIMEOUT"])
    elif url.startswith("postgresql"):
        # libpq counts the connect timeout in whole seconds, 2 at least.
        connect_args.setdefault("connect_timeout", max(2, int(config["DATABASE_CONNECT_TIMEOUT"])))
        statement_ms = int(config["DATABASE_STATEMENT_TIMEOUT"] * 1000)
        connect_args.setdefault("options", f"-c statement_timeout={statement_ms}")
    options["connect_args"] = connect_args
    return options
