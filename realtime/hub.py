"""The hub: publish rendered HTML on a channel; every socket subscribed to it receives it.

One interface, two transports, chosen by `REDIS_URL` (see `realtime.init_hub`):

- `LocalHub` fans out inside this process. Right for `make run`: one gevent worker runs every
  socket and the ingester.
- `RedisHub` publishes through Redis pub/sub. Each process runs one listener greenlet that
  pattern-subscribes to the hub's prefix and hands every message to its local sockets, so a
  fragment published by any worker (or by the ingester) reaches sockets held by every worker.

Publishers render a fragment once and publish the string; the hub never sees ORM objects.
Every socket has a bounded queue; a socket that falls that far behind is dropped rather than
allowed to hold memory (the browser reconnects and polls meanwhile).

When Redis is down the app degrades instead of failing. A publish never raises: publishes are
called after the change they announce is committed, so the message is dropped and the pages catch
up instead. Every socket of a process whose hub lost Redis is closed with "hub-down" (the page
polls), new sockets are refused until the listener is back, and a page that reconnects refetches
its live regions once (static/js/app.js), which brings back whatever was dropped meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterable

import gevent
import gevent.event
import gevent.queue
from wsproto.frame_protocol import FrameProtocol

log = logging.getLogger(__name__)


class _Signal:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


#: Put on a subscription's queue to end its socket loop.
CLOSED = _Signal("closed")


class Broadcast(str):
    """One published fragment, shared by every subscriber it is delivered to.

    It is the HTML itself (a `str`), plus the websocket frame that carries it, encoded once on
    first use: server frames are unmasked and we negotiate no compression, so the bytes are the
    same for every socket, and 5,000 sockets cost one encoding instead of 5,000.
    """

    _frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = bytes(FrameProtocol(client=False, extensions=[]).send_data(str(self), fin=True))
        return self._frame


class Subscription:
    """One socket's view of the hub: the channels it listens to and its queue of HTML."""

    def __init__(self, channels: Iterable[str], max_queue: int) -> None:
        self.channels = frozenset(channels)
        self._queue: gevent.queue.Queue = gevent.queue.Queue(maxsize=max_queue)
        self.closed = False
        #: Why the hub ended it: "shutdown" (server stopping), "overflow" (client too slow),
        #: "hub-down" (the transport lost Redis: the page polls until it is back) or None.
        self.close_reason: str | None = None

    def offer(self, html: str) -> bool:
        """Queue a message without blocking; False if the queue is full or the subscription ended."""
        if self.closed:
            return False
        try:
            self._queue.put_nowait(html)
            return True
        except gevent.queue.Full:
            return False

    def get(self, timeout: float | None = None) -> str | _Signal | None:
        """The next message, `CLOSED` once the subscription ended, or None after `timeout` seconds."""
        try:
            return self._queue.get(timeout=timeout) if timeout is not None else self._queue.get()
        except gevent.queue.Empty:
            return None

    def drain(self, limit: int) -> list[str | _Signal]:
        """Whatever is already queued (up to `limit` items), without waiting."""
        items: list[str | _Signal] = []
        # Asked after every message a socket sends, and mostly there is nothing: no exception then.
        while len(items) < limit and not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    def close(self, reason: str | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        # A full queue must still wake the reader, so make room for the sentinel.
        while True:
            try:
                self._queue.put_nowait(CLOSED)
                return
            except gevent.queue.Full:
                self._queue.get_nowait()


class Hub:
    """The interface the app uses; see the module docstring for the two implementations."""

    def __init__(self, max_queue: int = 500) -> None:
        self.max_queue = max_queue
        self._by_channel: dict[str, set[Subscription]] = defaultdict(set)
        self._listeners: dict[str, list[Callable[[str], None]]] = defaultdict(list)
        #: Set once the process is stopping: no new socket is taken from then on.
        self.stopping = False

    def subscribe(self, channels: Iterable[str]) -> Subscription:
        subscription = Subscription(channels, self.max_queue)
        if self.stopping:
            # Admitted before the worker was told to stop, subscribed after: it ends at once too.
            subscription.close("shutdown")
            return subscription
        for channel in subscription.channels:
            self._by_channel[channel].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close()
        for channel in subscription.channels:
            subscribers = self._by_channel.get(channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._by_channel[channel]

    def publish(self, channel: str, html: str) -> None:
        raise NotImplementedError

    def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        """Call `callback(message)` in this process for every message on `channel` that reaches it:
        for what one process learns and the others should know too (no socket involved). With the
        Redis hub, messages reach a process once its listener runs (its first socket starts it)."""
        self._listeners[channel].append(callback)

    def deliver(self, channel: str, html: str) -> int:
        """Hand a message to this process's subscribers of `channel`; returns how many took it."""
        for callback in self._listeners.get(channel, ()):
            try:
                callback(html)
            except Exception:  # noqa: BLE001 - one bad message must not stop the fan-out
                log.exception("hub listener on %s failed", channel)
        html = Broadcast(html)
        delivered = 0
        for subscription in list(self._by_channel.get(channel, ())):
            if subscription.offer(html):
                delivered += 1
            elif not subscription.closed:
                log.warning("dropping a socket on %s: %d messages behind", channel, self.max_queue)
                subscription.close("overflow")
                self.unsubscribe(subscription)
        return delivered

    def subscriber_count(self, channel: str) -> int:
        return len(self._by_channel.get(channel, ()))

    def is_heard(self, channel: str) -> bool:
        """Whether a publish on `channel` may reach a socket or a listener anywhere (so a publisher
        with nothing else to do can skip rendering it): always, unless the hub knows better."""
        return True

    def shut_down(self) -> None:
        """End every socket loop in this process and refuse new ones (graceful shutdown).

        A page whose socket ends reconnects at once, and the browser may send that handshake on a
        connection it kept alive to this worker: a socket opened then would hold the stopping
        worker until gunicorn's graceful timeout, and then be cut off.
        """
        self.stopping = True
        self.close_all("shutdown")

    def close_all(self, reason: str) -> None:
        """End every socket loop in this process, saying why."""
        for subscribers in list(self._by_channel.values()):
            for subscription in list(subscribers):
                subscription.close(reason)

    def check(self) -> str:
        """Health of the transport: 'ok' or an error message."""
        return "ok"

    def ready(self) -> bool:
        """Whether a socket subscribed now would receive what is published (else refuse it)."""
        return not self.stopping


class LocalHub(Hub):
    """In-process fan-out: publishing delivers straight to this process's sockets."""

    def publish(self, channel: str, html: str) -> None:
        self.deliver(channel, html)

    def is_heard(self, channel: str) -> bool:
        """Every socket and listener is in this process: only they can hear it."""
        return bool(self._by_channel.get(channel)) or bool(self._listeners.get(channel))


class RedisHub(Hub):
    """Fan-out through Redis pub/sub, so every worker's sockets receive every publish."""

    #: Longest wait between two attempts to get the listener back: bounds how long pages poll
    #: after Redis has returned.
    RETRY_MAX_SECONDS = 5.0
    #: How long a new socket waits for the listener to subscribe when it is starting (once it is
    #: known to be failing, sockets are refused at once).
    READY_WAIT_SECONDS = 5.0

    def __init__(self, url: str, max_queue: int = 500, prefix: str = "streamshop:hub:") -> None:
        super().__init__(max_queue)
        import redis

        from config import redis_fail_fast_options

        self.prefix = prefix
        # A publish runs inside a request whose change is already committed: an outage must cost
        # it a second at most, not redis-py's retry schedule.
        fail_fast = redis_fail_fast_options()
        self.redis = redis.Redis.from_url(url, **fail_fast)
        # The listener's connection sits idle for long stretches: no read timeout, but health pings
        # so a silently dead connection is noticed and replaced.
        self._listener_redis = redis.Redis.from_url(
            url, **{**fail_fast, "socket_timeout": None}, health_check_interval=30
        )
        self._listener: gevent.Greenlet | None = None
        self._listening = gevent.event.Event()
        #: True from the listener's first failure until it is subscribed again.
        self._failing = False

    def publish(self, channel: str, html: str) -> None:
        """Publish, or drop the message when Redis is unreachable (never raise; see the module doc)."""
        try:
            self.redis.publish(self.prefix + channel, html)
        except Exception as error:  # noqa: BLE001 - the change is committed: degrade, never fail
            log.warning("hub publish on %s dropped (Redis: %s); pages catch up when it is back",
                        channel, str(error).splitlines()[0][:200] if str(error) else type(error).__name__)
            # This process's sockets may have missed it: send them polling, and to catch up once
            # the listener is back.
            self.close_all("hub-down")

    def subscribe(self, channels: Iterable[str]) -> Subscription:
        subscription = super().subscribe(channels)
        # A socket that cannot hear publishes must not look live: end it, and the page polls.
        if not self._ensure_listener(wait=self.READY_WAIT_SECONDS):
            subscription.close("hub-down")
        return subscription

    def ready(self) -> bool:
        return super().ready() and self._ensure_listener(wait=self.READY_WAIT_SECONDS)

    def _ensure_listener(self, wait: float) -> bool:
        """Start the listener if needed; True once it is subscribed (waits up to `wait` seconds)."""
        # Started by the first socket, so CLI commands and publish-only processes never listen.
        if self._listener is None or self._listener.dead:
            self._listening.clear()
            self._listener = gevent.spawn(self._listen_forever)
        if self._failing:
            return self._listening.is_set()
        # A publish right after the first subscribe must not beat the Redis subscription.
        return self._listening.wait(timeout=wait)

    def _listen_forever(self) -> None:
        backoff = 0.5
        while True:
            pubsub = self._listener_redis.pubsub()
            try:
                pubsub.psubscribe(self.prefix + "*")
                confirmation = pubsub.get_message(timeout=5)
                if not confirmation or confirmation.get("type") != "psubscribe":
                    raise ConnectionError("Redis did not confirm the hub subscription")
                if self._failing:
                    log.warning("hub listener is back on Redis; pages reconnect and catch up")
                self._failing = False
                self._listening.set()
                backoff = 0.5
                while True:
                    message = pubsub.get_message(ignore_subscribe_messages=True, timeout=30)
                    if message and message["type"] == "pmessage":
                        channel = message["channel"].decode()[len(self.prefix):]
                        self.deliver(channel, message["data"].decode())
            except Exception as error:  # noqa: BLE001 - the listener must outlive any Redis trouble
                if self._listening.is_set():
                    log.warning("hub listener lost Redis (%s); open pages poll until it is back", error)
                else:
                    log.debug("hub listener still cannot reach Redis: %s", error)
                self._listening.clear()
                self._failing = True
                # Sockets held now would stay open and silent: close them, so their pages poll.
                self.close_all("hub-down")
                gevent.sleep(backoff + random.uniform(0, backoff / 2))
                backoff = min(backoff * 2, self.RETRY_MAX_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()

    def check(self) -> str:
        try:
            self.redis.ping()
            return "ok"
        except Exception as error:  # noqa: BLE001 - any failure means "down"
            return f"error: {str(error).splitlines()[0][:200]}"
