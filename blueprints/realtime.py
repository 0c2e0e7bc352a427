"""The one websocket endpoint: a page subscribes to its channels and receives HTML fragments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import gevent
from flask import Blueprint, abort, current_app, g, request
from flask_login import current_user
from simple_websocket import ConnectionClosed

from extensions import db, sock
from realtime import current_hub
from realtime.channels import may_subscribe
from realtime.hub import CLOSED, Subscription
from realtime.presence import LEAVE_GRACE_SECONDS, SWEEP_SECONDS, tracked, trackers

bp = Blueprint("realtime", __name__)

MAX_CHANNELS = 8
#: The anonymous visitor cookie (set by the show page), so one anonymous person is one viewer.
VISITOR_COOKIE = "visitor_id"


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
    # No permessage-deflate: it would compress every fragment once per socket, and a fan-out to
    # thousands of sockets would spend its time compressing small HTML over and over.
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    g.user_id = current_user.id if current_user.is_authenticated else None
    # The handshake that follows waits on the network: give the connection back to the pool first,
    # or a wave of viewers joining at once holds every pooled connection and stalls the worker.
    db.session.remove()


@sock.route("/ws", bp=bp)
def socket(ws) -> None:  # noqa: ANN001
    hub = current_hub()
    subscription = hub.subscribe(g.channels)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    person = Person(
        user_id=g.user_id,
        visitor_id=request.cookies.get(VISITOR_COOKIE) or f"socket-{uuid.uuid4().hex}",
    )
    present = tracked(g.channels)
    for tracker, key in present:
        _in_app(app, tracker.join, key, person.user_id, person.visitor_id)
    _ensure_sweeper(app)
    reader = gevent.spawn(_read_until_closed, ws, subscription, app, present, person)
    try:
        _send_until_closed(ws, subscription)
    finally:
        hub.unsubscribe(subscription)
        reader.kill()
        for tracker, key in present:
            gevent.spawn_later(LEAVE_GRACE_SECONDS, _in_app, app, tracker.leave, key, person.user_id,
                               person.visitor_id)
    if subscription.close_reason == "shutdown":
        ws.close(reason=1001, message="Server restarting")


@dataclass(frozen=True)
class Person:
    """Who holds the socket: a user, or an anonymous visitor (by cookie)."""

    user_id: int | None
    visitor_id: str


def _in_app(app, hook, *args) -> None:  # noqa: ANN001
    """Run a presence hook in its own app context and give its connection back straight away."""
    with app.app_context():
        try:
            hook(*args)
        except Exception:  # noqa: BLE001 - presence trouble must never break the socket
            app.logger.exception("presence hook %s failed", getattr(hook, "__name__", hook))
        finally:
            db.session.remove()


_sweeper: gevent.Greenlet | None = None


def _ensure_sweeper(app) -> None:  # noqa: ANN001
    """One sweeper per process, started by the first socket."""
    global _sweeper
    if (_sweeper is None or _sweeper.dead) and trackers():
        _sweeper = gevent.spawn(_sweep_forever, app)


def _sweep_forever(app) -> None:  # noqa: ANN001
    while True:
        gevent.sleep(SWEEP_SECONDS)
        for tracker in trackers():
            _in_app(app, tracker.sweep)


def _send_until_closed(ws, subscription: Subscription) -> None:  # noqa: ANN001
    # No timeout on the wait: a client that goes away ends the subscription through the reader
    # (close frame, reset, or a missed ping), which wakes this loop with CLOSED.
    while True:
        message = subscription.get()
        if message is CLOSED or not ws.connected:
            return
        # Under load, whatever queued up meanwhile goes out in the same frame: htmx swaps every
        # out-of-band element of a message, and one frame costs far less than many.
        backlog = subscription.drain(limit=50)
        closed = CLOSED in backlog
        try:
            if backlog:
                ws.send("".join([message, *(item for item in backlog if item is not CLOSED)]))
            else:
                # The frame is encoded once per publish and shared by every socket (Broadcast).
                ws.sock.sendall(message.frame)
        except (ConnectionClosed, OSError):
            return
        if closed:
            return


def _read_until_closed(ws, subscription: Subscription, app, present, person: Person) -> None:  # noqa: ANN001
    """Read what the client sends (heartbeats) and end the subscription when it goes away."""
    try:
        while True:
            message = ws.receive()
            if message and "heartbeat" in message:
                for tracker, key in present:
                    _in_app(app, tracker.heartbeat, key, person.user_id, person.visitor_id)
    except ConnectionClosed:
        pass
    except Exception:  # noqa: BLE001 - a broken socket must still end its subscription
        app.logger.debug("socket reader ended", exc_info=True)
    finally:
        subscription.close()
