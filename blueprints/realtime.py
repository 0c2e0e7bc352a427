"""The one websocket endpoint: a page subscribes to its channels and receives HTML fragments."""

from __future__ import annotations

from urllib.parse import urlsplit

import gevent
from flask import Blueprint, abort, current_app, g, request
from flask_login import current_user
from simple_websocket import ConnectionClosed

from extensions import db, sock
from realtime import current_hub
from realtime.channels import may_subscribe
from realtime.hub import CLOSED, Subscription

bp = Blueprint("realtime", __name__)

MAX_CHANNELS = 8
#: How often an idle socket loop wakes to notice a client that went away without a close frame.
IDLE_WAKE_SECONDS = 15


@bp.before_request
def authorise_subscription() -> None:
    """Refuse the handshake itself (403) for a foreign origin or any channel the user may not see."""
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc != request.host:
        abort(403)
    channels = request.args.getlist("channel")
    if not channels or len(channels) > MAX_CHANNELS:
        abort(400)
    for channel in channels:
        if not may_subscribe(current_user, channel):
            abort(403)
    g.channels = channels


@sock.route("/ws", bp=bp)
def socket(ws) -> None:  # noqa: ANN001
    hub = current_hub()
    subscription = hub.subscribe(g.channels)
    # A socket lives for hours; it must not hold a pooled database connection all that time.
    db.session.remove()
    reader = gevent.spawn(_read_until_closed, ws, subscription)
    try:
        _send_until_closed(ws, subscription)
    finally:
        hub.unsubscribe(subscription)
        reader.kill()
    if subscription.close_reason == "shutdown":
        ws.close(reason=1001, message="Server restarting")


def _send_until_closed(ws, subscription: Subscription) -> None:  # noqa: ANN001
    while True:
        message = subscription.get(timeout=IDLE_WAKE_SECONDS)
        if message is CLOSED or not ws.connected:
            return
        if message is None:
            continue
        try:
            ws.send(message)
        except ConnectionClosed:
            return


def _read_until_closed(ws, subscription: Subscription) -> None:  # noqa: ANN001
    """Drain what the client sends (nothing is expected yet) and end the subscription on close."""
    try:
        while True:
            ws.receive()
    except ConnectionClosed:
        pass
    except Exception:  # noqa: BLE001 - a broken socket must still end its subscription
        current_app.logger.debug("socket reader ended", exc_info=True)
    finally:
        subscription.close()
