"""One TikTokLive client per account, run as a coroutine on the ingester's asyncio loop.

Handlers only translate events into records and queue them. The runner keeps the connection up:
offline accounts are checked again about once a minute, dropped connections come back with
exponential backoff and jitter (capped), and a rate limit from the sign service is waited out.
Every change of state is queued as a status update for the writer to record.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import ssl
from collections.abc import Callable
from typing import Any

from ingest.translate import translate
from ingest.writer import StatusUpdate

log = logging.getLogger(__name__)


def configure_endpoints(config: dict[str, Any]) -> None:
    """Point the library's (process-global) TikTok URLs at the configured ones."""
    from TikTokLive.client.web.web_settings import WebDefaults

    if config.get("TIKTOK_APP_URL"):
        WebDefaults.tiktok_app_url = config["TIKTOK_APP_URL"].rstrip("/")
    if config.get("TIKTOK_WEBCAST_URL"):
        WebDefaults.tiktok_webcast_url = config["TIKTOK_WEBCAST_URL"].rstrip("/")
    if config.get("TIKTOK_SIGN_URL"):
        WebDefaults.tiktok_sign_url = config["TIKTOK_SIGN_URL"].rstrip("/")


def web_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """A fresh dict on every call: the library mutates what it is given."""
    signer: dict[str, Any] = {}
    if config.get("TIKTOK_SIGN_URL"):
        signer["sign_api_base"] = config["TIKTOK_SIGN_URL"].rstrip("/")
    if config.get("TIKTOK_SIGN_API_KEY"):
        signer["sign_api_key"] = config["TIKTOK_SIGN_API_KEY"]
    kwargs: dict[str, Any] = {"httpx_kwargs": {"verify": tls_context()}}
    if signer:
        kwargs["signer_kwargs"] = signer
    return kwargs


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context, built once per process and shared by every client's
    HTTP client: httpx builds one per client otherwise, loading the CA bundle each time (about
    17 ms of the loop's time per LIVE, a second when 60 LIVEs start at once)."""
    import httpx

    return httpx.create_ssl_context()


@functools.cache
def client_class() -> type:
    """TikTokLive's client as the worker runs it: each message parsed into its event without the two
    objects the library makes for every message and nothing here reads.

    TikTokLive 7.0.1 builds a blank event with pydantic (every default validated) only to call the
    class method `parse` on it, and wraps the fetch result in a `WebsocketResponseEvent`, emitted
    beside every event to no listener (the blank event alone was 4.1 % of a worker following 200
    LIVEs: docs/benchmarks.md, 4 December 2026, 10:05). The events, the custom ones derived from
    them (follow, share, live end) and their order are the library's. A message this does not
    parse (none, untracked, or a payload that fails) goes to the library's own method, which logs or
    wraps it by its own rules."""
    from TikTokLive import TikTokLiveClient
    from TikTokLive.events.proto_events import EVENT_MAPPINGS

    class WorkerClient(TikTokLiveClient):
        async def _parse_webcast_response_message(self, webcast_response: Any,
                                                  webcast_response_message: Any) -> list[Any]:
            event_class = None if webcast_response_message is None else \
                EVENT_MAPPINGS.get(webcast_response_message.method)
            try:
                event = event_class.parse(webcast_response_message.payload) if event_class else None
            except Exception:  # noqa: BLE001 - the library's method below parses it again and logs it by its rules
                event = None
            if event is not None:
                custom = await self.handle_custom_event(webcast_response_message, event)
                return [custom, event] if custom else [event]
            return await super()._parse_webcast_response_message(webcast_response, webcast_response_message)

    return WorkerClient


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter on the upper half, never above `cap`."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


class AccountRunner:
    def __init__(self, account_id: int, handle: str, put: Callable[[Any], None], config: dict[str, Any]) -> None:
        self.account_id = account_id
        self.handle = handle
        self.put = put
        self.config = config
        self.client: Any = None
        self.room_id: str | None = None
        self.stopping = False
        self.live_ended = False
        self.status: str | None = None

    def _status(self, status: str, error: str | None = None) -> None:
        self.status = status
        self.put(StatusUpdate(self.account_id, status, error))

    def _queue(self, kind: str, event: Any) -> None:
        try:
            record = translate(kind, event, self.account_id, self.room_id)
        except Exception:  # noqa: BLE001 - a malformed event is logged and skipped
            log.exception("skipping a %s event on @%s that could not be read", kind, self.handle)
            return
        if record is not None:
            self.put(record)

    def _client(self) -> Any:
        from TikTokLive.events import (
            CommentEvent,
            ConnectEvent,
            DisconnectEvent,
            FollowEvent,
            GiftEvent,
            JoinEvent,
            LikeEvent,
            LiveEndEvent,
            RoomUserSeqEvent,
            ShareEvent,
        )

        client = client_class()(unique_id=f"@{self.handle}", web_kwargs=web_kwargs(self.config))

        # Handlers are plain functions that never raise (`_queue` logs what it cannot read): the
        # library runs a coroutine handler as a task of its own, for every event (about 3% of a
        # worker following 200 LIVEs went to making and running those tasks), and a plain handler
        # that raised would end the stream.
        def on_connect(event: ConnectEvent) -> None:
            self.room_id = str(event.room_id)
            self.live_ended = False
            self._queue("live_start", event)
            self._status("live")

        def on_live_end(event: LiveEndEvent) -> None:
            self.live_ended = True
            self._queue("live_end", event)

        def forward(kind: str) -> Callable[[Any], None]:
            def handler(event: Any) -> None:
                self._queue(kind, event)

            return handler

        client.add_listener(ConnectEvent, on_connect)
        client.add_listener(LiveEndEvent, on_live_end)
        for event_class, kind in ((CommentEvent, "comment"), (GiftEvent, "gift"), (LikeEvent, "like"),
                                  (FollowEvent, "follow"), (ShareEvent, "share"), (JoinEvent, "join"),
                                  (RoomUserSeqEvent, "viewers"), (DisconnectEvent, "disconnect")):
            client.add_listener(event_class, forward(kind))
        return client

    async def run(self) -> None:
        from TikTokLive.client.errors import SignatureRateLimitError, UserNotFoundError, UserOfflineError

        base = float(self.config.get("INGEST_BACKOFF_BASE_SECONDS", 2))
        cap = float(self.config.get("INGEST_BACKOFF_MAX_SECONDS", 300))
        recheck = float(self.config.get("INGEST_OFFLINE_RECHECK_SECONDS", 60))
        attempt = 0
        while not self.stopping:
            self._status("connecting")
            self.client = self._client()
            try:
                await self.client.connect(fetch_live_check=True)
            except asyncio.CancelledError:
                raise
            except UserOfflineError:
                attempt = 0
                self._status("offline")
                await asyncio.sleep(recheck)
                continue
            except UserNotFoundError:
                attempt = 0
                self._status("error", f"TikTok has no user @{self.handle}.")
                await asyncio.sleep(recheck)
                continue
            except SignatureRateLimitError as error:
                attempt += 1
                wait = max(float(error.retry_after or 0), backoff_delay(attempt, base, cap))
                self._status("error", f"Rate limited by the sign service; retrying in {wait:.0f} s.")
                await asyncio.sleep(wait)
                continue
            except Exception as error:  # noqa: BLE001 - any trouble: say so, back off, retry
                attempt += 1
                wait = backoff_delay(attempt, base, cap)
                message = f"{type(error).__name__}: {error}"[:300]
                log.warning("@%s: %s; reconnecting in %.1f s", self.handle, message, wait)
                self._status("error", f"{message} (retrying in {wait:.0f} s)")
                await asyncio.sleep(wait)
                continue
            if self.stopping:
                break
            if self.live_ended:
                attempt = 0
                self._status("offline")
                await asyncio.sleep(recheck)
            else:
                # The server closed the connection while the LIVE goes on: reconnect.
                attempt += 1
                await asyncio.sleep(backoff_delay(attempt, base, cap))

    async def stop(self) -> None:
        self.stopping = True
        if self.client is not None and self.client.connected:
            try:
                await self.client.disconnect()
            except Exception:  # noqa: BLE001
                log.debug("disconnect failed", exc_info=True)

