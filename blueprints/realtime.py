"""The one websocket endpoint: a page subscribes to its channels and receives HTML fragments.

A page may also act over its socket: a message `{"action": name, ...fields}` runs the socket action
registered under that name (`socket_action`) and its answer, an HTML fragment, comes back on the
same socket. Actions are for what a crowd sends many times a second (bids in an auction's last
seconds), where a request each would cost more than the work itself. They run in a copy of the
handshake's request context, so `current_user`, the session and CSRF work as in a route; the login
session is checked again every `LOGIN_RECHECK_SECONDS`, so a logout elsewhere stops a socket's
actions within that time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import gevent
from flask import Blueprint, abort, copy_current_request_context, current_app, g, request
from flask_login import current_user
from simple_websocket import ConnectionClosed

from extensions import db, sock
from realtime import current_hub
from realtime.channels import may_subscribe
from realtime.hub import CLOSED, Broadcast, Subscription
from services import presence, turns

bp = Blueprint("realtime", __name__)

MAX_CHANNELS = 8
LOGIN_RECHECK_SECONDS = 10.0
SocketAction = Callable[[dict], "str | None"]
#: Renders an action's answer slot with an error message, for when the action itself failed.
FailureAnswer = Callable[[dict, str], "str | None"]
_actions: dict[str, tuple[SocketAction, FailureAnswer]] = {}


def socket_action(name: str, failed: FailureAnswer) -> Callable[[SocketAction], SocketAction]:
    """Register `action(fields) -> fragment or None` to answer `{"action": name, ...}` messages, and
    `failed(fields, message)` to answer in its place when it raises (a database outage, a bug):
    the page hears what happened, and whether its change was saved, as a request would tell it."""
    def register(action: SocketAction) -> SocketAction:
        _actions[name] = (action, failed)
        return action

    return register


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
    # While the hub cannot hear publishes (Redis is down) a socket would be open and silent, and
    # while the worker is stopping it would be cut off: refuse it, so the page keeps polling and
    # retries (static/js/app.js).
    if not current_hub().ready():
        abort(503)
    # No permessage-deflate: it would compress every fragment once per socket, and a fan-out to
    # thousands of sockets would spend its time compressing small HTML over and over.
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    g.user_id = current_user.id if current_user.is_authenticated else None
    g.visitor_id = None if g.user_id else presence.visitor_from_cookie(request.cookies.get(presence.VISITOR_COOKIE))
    client = f"u:{g.user_id}" if g.user_id else (f"v:{g.visitor_id}" if g.visitor_id else None)
    slot = presence.admit_socket(client, request.remote_addr or "?")
    if slot is None:
        abort(429)
    g.socket_slot = slot
    # The handshake that follows waits on the network: give the connection back to the pool first,
    # or a wave of viewers joining at once holds every pooled connection and stalls the worker.
    db.session.remove()


@sock.route("/ws", bp=bp)
def socket(ws) -> None:  # noqa: ANN001
    hub = current_hub()
    subscription = hub.subscribe(g.channels)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    person = Person(user_id=g.user_id, visitor_id=g.visitor_id)
    present = presence.tracked_streams(g.channels)
    presence.socket_opened(app, present, person.user_id, person.visitor_id)
    # The reader runs the page's actions: in a copy of this request context, for the session and
    # the login (the copy has an app context, and so a database session, of its own).
    reader = gevent.spawn(copy_current_request_context(_read_until_closed), ws, subscription, app, present, person)
    try:
        _send_until_closed(ws, subscription)
    finally:
        hub.unsubscribe(subscription)
        reader.kill()
        presence.socket_closed(app, present, person.user_id, person.visitor_id)
    if subscription.close_reason == "shutdown":
        # 1012 "service restart", not 1001 "going away": the htmx ws extension treats 1001 as final
        # and the page would stay on polling until a reload; after 1012 it reconnects (to the next
        # worker, or to this server once it is back) and catches up (static/js/app.js).
        ws.close(reason=1012, message="Server restarting")
    elif subscription.close_reason == "hub-down":
        # 1013 "try again later": the page polls meanwhile and reconnects (then catches up).
        ws.close(reason=1013, message="Live updates paused")


@bp.teardown_request
def release_socket_slot(error: BaseException | None = None) -> None:
    """The socket (or its refused handshake) is over: it no longer counts against the caps."""
    slot = g.pop("socket_slot", None)
    if slot is not None:
        presence.release_socket(slot)


@dataclass(frozen=True)
class Person:
    """Who holds the socket: a user, an anonymous visitor (by signed cookie), or nobody countable."""

    user_id: int | None
    visitor_id: str | None


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
    """Read what the client sends (heartbeats, actions) and end the subscription when it goes away."""
    last_heartbeat = gevent.get_hub().loop.now()  # joining counts as one
    try:
        while True:
            fields = _parse(ws.receive())
            if fields.get("heartbeat"):
                last_heartbeat = presence.heartbeat_received(app, present, person.user_id, person.visitor_id,
                                                             last_heartbeat)
            elif fields.get("action") in _actions:
                with turns.turn():
                    answer = run_action(*_actions[fields["action"]], fields)
                if answer:
                    # Through the queue: the sending greenlet alone writes to the socket.
                    subscription.offer(Broadcast(answer))
    except ConnectionClosed:
        pass
    except Exception:  # noqa: BLE001 - a broken socket must still end its subscription
        app.logger.debug("socket reader ended", exc_info=True)
    finally:
        subscription.close()


def _parse(message: str | bytes | None) -> dict:
    """A page's message as a dict of its fields ({} for anything else; a frame over
    WS_MAX_MESSAGE_BYTES has closed the socket before it gets here)."""
    if not isinstance(message, str):
        return {}
    try:
        fields = json.loads(message)
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}


def run_action(action: SocketAction, failed: FailureAnswer, fields: dict) -> str | None:
    """Run one action as its own unit of work: the login checked if due, a database session of its
    own, and nothing it left behind kept for the next."""
    from blueprints.errors import MESSAGES, SAVED_THEN_FAILED

    now = time.monotonic()
    if now - g.get("login_checked_at", 0.0) >= LOGIN_RECHECK_SECONDS:
        # Flask-Login keeps the loaded user in g._login_user: dropping it makes the next use of
        # current_user load it again from the session cookie's login session.
        g.pop("_login_user", None)
        g.login_checked_at = now
    g.committed = False  # set by any commit of this action (blueprints/errors.py), as for a request
    try:
        user = current_user._get_current_object()  # type: ignore[attr-defined]
        if user.is_authenticated and user in db.session:
            # Kept for the socket's later actions: out of the session, or this action's commit or
            # rollback would expire it and the next action could not read it.
            db.session.expunge(user)
        return action(fields)
    except Exception:  # noqa: BLE001 - one failed action must not end the socket
        db.session.rollback()
        current_app.logger.exception("socket action %s failed", fields.get("action"))
        return failed(fields, SAVED_THEN_FAILED if g.committed else MESSAGES[500][1])
    finally:
        db.session.remove()
