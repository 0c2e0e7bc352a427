"""Who is watching a show, and only honestly: everything about presence lives here.

The show page's websocket is the presence signal. A socket opening on a show's public channel
joins its viewer, client heartbeats keep the viewer fresh, and the socket closing leaves (after a
short grace, so a reload is not leaving and coming back). One person is one viewer however many
tabs or reloads: a viewer is keyed by user id, or by the anonymous visitor cookie, and counts its
open sockets across tabs and workers. A viewer whose last heartbeat is older than the timeout is
gone (a sweeper in each process catches sockets that died without closing, a crashed worker's too).

Forging is refused: an anonymous visitor counts only with a visitor cookie the show page issued
and signed (a made-up `visitor_id` counts as nobody); sockets are capped per client and per
address (in each worker); a heartbeat is written at most once per `MIN_HEARTBEAT_GAP_SECONDS` per
socket, however many frames arrive, and frames are size-limited (`WS_MAX_MESSAGE_BYTES`).
Changes are published coalesced per show (`live.publish_presence`).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import gevent
import sqlalchemy as sa
from flask import Flask, current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError

from extensions import db, utcnow
from models import LiveStream, StreamViewer
from realtime.channels import parse_id

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 60
#: Seconds between client heartbeats (static/js/app.js sends them) and sweeps.
HEARTBEAT_SECONDS = 20
SWEEP_SECONDS = 10
#: A socket's heartbeats are written at most this often; the rest cost nothing.
MIN_HEARTBEAT_GAP_SECONDS = HEARTBEAT_SECONDS / 2
#: How long after a socket closes its viewer is counted as gone, unless they reconnect (a reload).
LEAVE_GRACE_SECONDS = 0.5
#: Presence changes are coalesced per show: at most one count and viewer-list publish per this many
#: seconds, so a wave of 5,000 people joining costs a few publishes, not 5,000 x 5,000 sends.
PRESENCE_COALESCE_SECONDS = 0.4

# --- the anonymous visitor cookie -----------------------------------------------------------------

#: Set by the show page, so one anonymous person is one viewer; signed, so it cannot be made up.
VISITOR_COOKIE = "visitor_id"
VISITOR_SALT = "presence-visitor"


def _visitor_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=VISITOR_SALT)


def new_visitor_cookie() -> str:
    """A fresh anonymous visitor id, signed, as the cookie's value."""
    return _visitor_signer().dumps(secrets.token_urlsafe(16))


def visitor_from_cookie(value: str | None) -> str | None:
    """The visitor id in a cookie this site issued, or None for a missing, forged or altered one."""
    if not value or len(value) > 200:
        return None
    try:
        visitor_id = _visitor_signer().loads(value)
    except BadSignature:
        return None
    return visitor_id if isinstance(visitor_id, str) and 0 < len(visitor_id) <= 32 else None


# --- socket caps ----------------------------------------------------------------------------------
#
# With Redis (REDIS_URL) the caps hold across every worker: each open socket is a member of a
# sorted set per client and per address, scored by when it stops counting. Admission checks and
# joins both sets in one script (atomic across workers); each process refreshes its sockets' scores
# every third of `WS_SOCKET_SLOT_TTL_SECONDS`, so the sockets of a worker killed without closing
# them stop counting within that time. If Redis cannot be reached the caps degrade to this
# process's own counts, which are always kept for that.

_sockets_per_client: Counter[str] = Counter()
_sockets_per_address: Counter[str] = Counter()

#: Atomic admission. KEYS: the sets to check and join; ARGV: now, expiry, member, ttl, then each
#: key's cap in order. Returns 1 (admitted, joined every set) or 0 (a cap is reached).
_ADMIT_SCRIPT = """
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[4 + i]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[2], ARGV[3])
  redis.call('EXPIRE', key, ARGV[4])
end
return 1
"""


@dataclass(eq=False)
class SocketSlot:
    """One admitted socket: what it counts against, here and (when admitted there) in Redis."""

    client: str | None
    address: str
    member: str = field(default_factory=lambda: secrets.token_hex(8))
    #: The Redis sets it is a member of; empty when it was admitted by this process's counts alone.
    redis_keys: tuple[str, ...] = ()


_live_slots: set[SocketSlot] = set()
_slot_refresher: gevent.Greenlet | None = None


def admit_socket(client: str | None, address: str) -> SocketSlot | None:
    """Admit one more socket for this client (user or visitor) and address, or None if either is at
    its cap (`WS_MAX_SOCKETS_PER_CLIENT`, `WS_MAX_SOCKETS_PER_ADDRESS`; 0 is no cap). The caps count
    across workers through Redis, or in this process when Redis is not configured or unreachable."""
    config = current_app.config
    counted = [(_sockets_per_address, "address", address, config["WS_MAX_SOCKETS_PER_ADDRESS"])]
    if client is not None:
        counted.append((_sockets_per_client, "client", client, config["WS_MAX_SOCKETS_PER_CLIENT"]))
    slot = SocketSlot(client, address)
    shared = _admit_in_redis(slot, [(kind, key, cap) for _, kind, key, cap in counted if cap])
    if shared is False:
        return None
    if shared is None and any(cap and counter[key] >= cap for counter, _, key, cap in counted):
        return None
    for counter, _, key, _ in counted:
        counter[key] += 1
    _live_slots.add(slot)
    return slot


def release_socket(slot: SocketSlot) -> None:
    """The socket is over: it no longer counts against the caps, here or in Redis."""
    _live_slots.discard(slot)
    for counter, key in ((_sockets_per_client, slot.client), (_sockets_per_address, slot.address)):
        if key is not None:
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]
    redis = _caps_redis()
    if slot.redis_keys and redis is not None:
        try:
            with redis.pipeline(transaction=False) as pipe:
                for key in slot.redis_keys:
                    pipe.zrem(key, slot.member)
                pipe.execute()
        except Exception as error:  # noqa: BLE001 - the entry expires by itself
            log.warning("socket slot not released in Redis (%s); it expires", error)


def _caps_redis():  # noqa: ANN202 - a redis.Redis, or None without REDIS_URL
    return getattr(current_app.extensions.get("hub"), "redis", None)


def _admit_in_redis(slot: SocketSlot, capped: list[tuple[str, str, int]]) -> bool | None:
    """Admission counted across workers: True or False, or None when Redis is not configured or
    cannot be reached (the caller then counts in this process)."""
    redis = _caps_redis()
    if redis is None or not capped:
        return None
    ttl = current_app.config["WS_SOCKET_SLOT_TTL_SECONDS"]
    prefix = current_app.config["REDIS_HUB_PREFIX"] + "sockets:"
    keys = tuple(f"{prefix}{kind}:{key}" for kind, key, _ in capped)
    now = time.time()
    try:
        admitted = redis.eval(_ADMIT_SCRIPT, len(keys), *keys, now, now + ttl, slot.member, ttl,
                              *(cap for _, _, cap in capped))
    except Exception as error:  # noqa: BLE001 - degrade to this process's counts, never fail
        log.warning("socket caps counted in this worker only (Redis: %s)", str(error).splitlines()[0][:200])
        return None
    if not admitted:
        return False
    slot.redis_keys = keys
    _ensure_slot_refresher(current_app._get_current_object(), redis, ttl)  # type: ignore[attr-defined]
    return True


def _ensure_slot_refresher(app: Flask, redis, ttl: int) -> None:  # noqa: ANN001
    """One greenlet per process keeps its open sockets counted in Redis (see above)."""
    global _slot_refresher
    if _slot_refresher is None or _slot_refresher.dead:
        _slot_refresher = gevent.spawn(_refresh_slots_forever, app, redis, ttl)


def _refresh_slots_forever(app: Flask, redis, ttl: int) -> None:  # noqa: ANN001
    while True:
        gevent.sleep(ttl / 3)
        slots = [slot for slot in _live_slots if slot.redis_keys]
        if not slots:
            continue
        expires = time.time() + ttl
        try:
            with redis.pipeline(transaction=False) as pipe:
                for slot in slots:
                    for key in slot.redis_keys:
                        # XX: only sockets still counted; a released one must not come back.
                        pipe.zadd(key, {slot.member: expires}, xx=True)
                        pipe.expire(key, ttl)
                pipe.execute()
        except Exception as error:  # noqa: BLE001 - try again next round; the caps degrade meanwhile
            app.logger.warning("socket slots not refreshed in Redis (%s)", error)


# --- a socket's presence ---------------------------------------------------------------------------


def tracked_streams(channels: list[str]) -> list[int]:
    """The shows among `channels` whose sockets count as someone watching (their public channel)."""
    found = []
    for channel in channels:
        kind, _, key = channel.partition(":")
        stream_id = parse_id(key) if kind == "stream" else None
        if stream_id is not None:
            found.append(stream_id)
    return found


def socket_opened(app: Flask, stream_ids: list[int], user_id: int | None, visitor_id: str | None) -> None:
    """A socket opened on these shows: its person joins each (nobody, without a user or a visitor)."""
    if user_id is None and visitor_id is None:
        return
    for stream_id in stream_ids:
        _in_app(app, _join_and_publish, stream_id, user_id, visitor_id)
    _ensure_sweeper(app)


def heartbeat_received(app: Flask, stream_ids: list[int], user_id: int | None, visitor_id: str | None,
                       last_written: float) -> float:
    """A heartbeat frame arrived; writes it unless one was written less than the gap ago. Returns
    when the last heartbeat was written (the socket keeps it)."""
    now = gevent.get_hub().loop.now()
    if (user_id is None and visitor_id is None) or now - last_written < MIN_HEARTBEAT_GAP_SECONDS:
        return last_written
    for stream_id in stream_ids:
        _in_app(app, heartbeat, stream_id, user_id, visitor_id)
    return now


def socket_closed(app: Flask, stream_ids: list[int], user_id: int | None, visitor_id: str | None) -> None:
    if user_id is None and visitor_id is None:
        return
    for stream_id in stream_ids:
        gevent.spawn_later(LEAVE_GRACE_SECONDS, _in_app, app, _leave_and_publish, stream_id, user_id, visitor_id)


def _join_and_publish(stream_id: int, user_id: int | None, visitor_id: str | None) -> None:
    if join(stream_id, user_id, visitor_id):
        _presence_changed(stream_id)


def _leave_and_publish(stream_id: int, user_id: int | None, visitor_id: str | None) -> None:
    if leave(stream_id, user_id, visitor_id):
        _presence_changed(stream_id)


def _in_app(app: Flask, hook, *args) -> None:  # noqa: ANN001
    """Run a presence step in its own app context and give its connection back straight away."""
    with app.app_context():
        try:
            hook(*args)
        except Exception:  # noqa: BLE001 - presence trouble must never break the socket
            app.logger.exception("presence step %s failed", getattr(hook, "__name__", hook))
        finally:
            db.session.remove()


_presence_pending: set[int] = set()


def _presence_changed(stream_id: int) -> None:
    if stream_id in _presence_pending:
        return
    _presence_pending.add(stream_id)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    gevent.spawn_later(PRESENCE_COALESCE_SECONDS, _publish_presence_now, app, stream_id)


def _publish_presence_now(app: Flask, stream_id: int) -> None:
    from services.live import publish_presence

    _presence_pending.discard(stream_id)
    with app.app_context():
        try:
            stream = db.session.get(LiveStream, stream_id)
            if stream is not None:
                publish_presence(stream)
        finally:
            db.session.remove()


_sweeper: gevent.Greenlet | None = None


def _ensure_sweeper(app: Flask) -> None:
    """One sweeper per process, started by the first socket."""
    global _sweeper
    if _sweeper is None or _sweeper.dead:
        _sweeper = gevent.spawn(_sweep_forever, app)


def _sweep_forever(app: Flask) -> None:
    while True:
        gevent.sleep(SWEEP_SECONDS)
        _in_app(app, _sweep_and_publish)


def _sweep_and_publish() -> None:
    for stream_id in sweep():
        _presence_changed(stream_id)


# --- the viewer rows --------------------------------------------------------------------------------


def viewer_key(user_id: int | None, visitor_id: str | None) -> str:
    return f"u:{user_id}" if user_id is not None else f"v:{visitor_id}"


def join(stream_id: int, user_id: int | None, visitor_id: str | None, now: datetime | None = None) -> bool:
    """Count one more open socket for this person; returns True if they were not watching before."""
    now = now or utcnow()
    stream = db.session.get(LiveStream, stream_id)
    if stream is None or stream.status != "live":
        return False
    key = viewer_key(user_id, visitor_id)
    for _ in range(2):
        was_active = db.session.scalar(
            sa.select(StreamViewer.is_active).where(StreamViewer.stream_id == stream_id, StreamViewer.viewer_key == key)
        )
        touched = db.session.execute(
            sa.update(StreamViewer)
            .where(StreamViewer.stream_id == stream_id, StreamViewer.viewer_key == key)
            .values(open_sockets=StreamViewer.open_sockets + 1, is_active=True, last_seen_at=now, left_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not touched:
            db.session.add(StreamViewer(stream_id=stream_id, user_id=user_id, visitor_id=visitor_id, viewer_key=key,
                                        joined_at=now, last_seen_at=now, open_sockets=1))
            db.session.execute(
                sa.update(LiveStream).where(LiveStream.id == stream_id)
                .values(unique_viewers=LiveStream.unique_viewers + 1)
                .execution_options(synchronize_session=False)
            )
        try:
            _raise_peak(stream_id)
            db.session.commit()
            return not was_active
        except IntegrityError:
            # The same person's other tab inserted the row first: count on top of it.
            db.session.rollback()
    return False


def _raise_peak(stream_id: int) -> None:
    current = (
        sa.select(sa.func.count()).select_from(StreamViewer)
        .where(StreamViewer.stream_id == stream_id, StreamViewer.is_active)
        .scalar_subquery()
    )
    db.session.execute(
        sa.update(LiveStream).where(LiveStream.id == stream_id, LiveStream.peak_viewers < current)
        .values(peak_viewers=current).execution_options(synchronize_session=False)
    )


def heartbeat(stream_id: int, user_id: int | None, visitor_id: str | None, now: datetime | None = None) -> None:
    db.session.execute(
        sa.update(StreamViewer)
        .where(StreamViewer.stream_id == stream_id, StreamViewer.viewer_key == viewer_key(user_id, visitor_id),
               StreamViewer.is_active)
        .values(last_seen_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def leave(stream_id: int, user_id: int | None, visitor_id: str | None, now: datetime | None = None) -> bool:
    """One socket fewer; returns True if that was the person's last one (they left)."""
    now = now or utcnow()
    key = viewer_key(user_id, visitor_id)
    where = (StreamViewer.stream_id == stream_id, StreamViewer.viewer_key == key)
    db.session.execute(
        sa.update(StreamViewer).where(*where, StreamViewer.open_sockets > 0)
        .values(open_sockets=StreamViewer.open_sockets - 1).execution_options(synchronize_session=False)
    )
    left = db.session.execute(
        sa.update(StreamViewer).where(*where, StreamViewer.open_sockets == 0, StreamViewer.is_active)
        .values(is_active=False, left_at=now).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(left)


def sweep(now: datetime | None = None, timeout: int = TIMEOUT_SECONDS) -> list[int]:
    """Mark viewers silent for longer than `timeout` as gone; returns the shows whose count changed."""
    now = now or utcnow()
    stale = sa.and_(StreamViewer.is_active, StreamViewer.last_seen_at < now - timedelta(seconds=timeout))
    stream_ids = sorted(set(db.session.scalars(sa.select(StreamViewer.stream_id).where(stale))))
    if stream_ids:
        db.session.execute(
            sa.update(StreamViewer).where(stale).values(is_active=False, left_at=now, open_sockets=0)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return stream_ids
