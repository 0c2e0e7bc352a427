"""Real-time delivery of rendered HTML to websockets: the hub, channel rules and fragment rendering."""

from __future__ import annotations

from flask import Flask, current_app

from realtime.hub import Hub, LocalHub, RedisHub


def init_hub(app: Flask) -> None:
    """Choose the hub for this app: Redis pub/sub when `REDIS_URL` is set, else in-process."""
    max_queue = app.config["WS_MAX_QUEUE"]
    if app.config.get("REDIS_URL"):
        hub: Hub = RedisHub(
            app.config["REDIS_URL"],
            max_queue=max_queue,
            prefix=app.config["REDIS_HUB_PREFIX"],
        )
    else:
        hub = LocalHub(max_queue=max_queue)
    app.extensions["hub"] = hub


def current_hub() -> Hub:
    return current_app.extensions["hub"]


def publish(channel: str, html: str) -> None:
    """Send one rendered fragment to every socket subscribed to `channel`, on every worker."""
    current_hub().publish(channel, html)


def is_heard(channel: str) -> bool:
    """Whether anyone may hear a publish on `channel` now (with Redis: always, it may be another worker)."""
    return current_hub().is_heard(channel)
