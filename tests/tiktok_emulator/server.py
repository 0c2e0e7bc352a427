#!/usr/bin/env python3
"""
Local TikTok LIVE emulator for the *unmodified* TikTokLive (7.0.1) client.

One asyncio server (``websockets`` >= 13 new API, already in the Streamshop
venv) listens on a single port and serves, on that one port:

  App (TIKTOK_APP_URL = http://HOST:PORT)
    GET /@{unique_id}/live                 room page HTML with <script id="SIGI_STATE">
    GET /api-live/user/room/?uniqueId=...  room-id API fallback + is-live by unique_id
    GET /@{user_id}                        __UNIVERSAL_DATA_FOR_REHYDRATION__ (is_user_id=True)
  Webcast API (TIKTOK_WEBCAST_URL = http://HOST:PORT/webcast)
    GET /webcast/room/check_alive/?room_ids=...
    GET /webcast/room/info/?room_id=...    (fetch_room_info=True)
    GET /webcast/room/info_by_user/?unique_id=...
    GET /webcast/gift/list/                (fetch_gift_info=True)
  Sign server (TIKTOK_SIGN_URL = http://HOST:PORT; the SDK appends /webcast/fetch)
    GET /webcast/fetch?client=ttlive-python&room_id=..&user_agent=..&client_enter=true&platform=web
        -> 200, body = serialized ProtoMessageFetchResult (raw protobuf, NOT gzipped),
           header X-Set-TT-Cookie: "ttwid=...; ..." (mandatory, else SignAPIError EMPTY_COOKIES)
        -> or scripted failures (429 with RateLimit-* headers, 500, ...)
  Push server (URL is handed to the client inside ProtoMessageFetchResult.push_server)
    WS  /webcast/im/push/v2/?...           WebcastPushFrame stream (payload_type "msg",
                                           gzip when the URL has compress=gzip)
  Emulator control
    GET /__emulator/state                  JSON: requests seen, ws connections, acks, heartbeats
    GET /__emulator/inject?room=UID&event=<url-encoded JSON step>   push one step live
    GET /__emulator/sign_fail?status=429&count=1                    fail next N sign calls
    GET /__emulator/set_live?room=UID&live=0|1
    GET /__emulator/reset_state

POST requests are NOT supported by this server (websockets' HTTP parser refuses
request bodies) - the connect flow of TikTokLive only uses GETs (+ the WS).

Usage (stand-alone):
    python -m tests.tiktok_emulator --port 8765 --unique-id streamshop_host --script script.json
    python -m tests.tiktok_emulator --config rooms.json   # {"rooms": [{"unique_id", "room_id", "live",
                                                    #   "script", "initial_messages", "history"}]}
    A room may have "generate": {"rate": 10, "events": 600, "viewers": 50, "seed": 1} instead of
    a script: a steady LIVE at its own rate (tests/tiktok_emulator/generate.py). Any number of
    rooms play at once, one per account.
    (prints "EMULATOR_READY http://127.0.0.1:8765" once listening)

The LIVE goes on while a client is away: a reconnecting client continues the script where the
last connection stopped, and (with "history": N on a room) gets the last N played steps that have
an explicit "msg_id" again in the sign response, with the same ids, as TikTok replays recent
history. A step may carry "msg_id" to fix its message id.

Usage (in-process):
    emu = TikTokLiveEmulator(port=0); emu.add_room("streamshop_host", script=DEMO_SCRIPT)
    await emu.start(); ...; await emu.stop()
    # IMPORTANT when the TikTokLiveClient runs in the SAME process: see
    # prime_tiktoklive_event_metadata() below (betterproto2 metadata gotcha).

Script step format (list of dicts, played in order after the client's im_enter_room
frame arrives; "delay" = seconds to wait before the step, default 0.3):
    {"type": "comment", "user": USER, "text": "hello"}
    {"type": "gift", "user": USER, "gift": "Rose"|GIFT_DICT, "repeat_count": 1}         # single non-streak
    {"type": "gift_streak", "user": USER, "gift": "Rose", "count": 5, "interval": 0.1}  # N frames + end frame
    {"type": "like", "user": USER, "count": 15, "total": 1234}
    {"type": "follow", "user": USER}
    {"type": "share", "user": USER}
    {"type": "join", "user": USER, "member_count": 42}
    {"type": "viewers", "total": 42, "total_user": 100, "top": [USER, ...]}
    {"type": "live_end"} | {"type": "pause"} | {"type": "unpause"}
    {"type": "close", "code": 1000, "reason": "bye"}    # server-side websocket close
    {"type": "drop"}                                     # abrupt TCP drop (no close frame)
    {"type": "wait", "delay": 2}
    {"type": "raw", "method": "WebcastXxxMessage", "payload_b64": "..."}
USER = {"id": 1, "unique_id": "handle", "nickname": "Nick", "avatar": "http://...",
        "badges": [{"scene": "FANS"|"ADMIN"|"SUBSCRIBER"|..., "level": 5, "url": "..."}],
        "follow_status": 0, "identity": {"is_moderator_of_anchor": true, "is_subscriber_of_anchor": false, ...}}
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import functools
import gzip
import http
import itertools
import json
import logging
import random
import struct
import termios
import time
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import websockets

# ---------------------------------------------------------------------------
# Protobuf classes (TikTokLiveProto 0.2.x, "v3" schema, betterproto2)
# ---------------------------------------------------------------------------
from TikTokLiveProto.v3.webcast.im import (  # noqa: E402
    ControlAction,
    HeartBeatMessage,
    MemberMessageAction,
    PushHeader,
    WebcastImEnterRoomMessage,
    WebcastPushFrame,
)
from TikTokLiveProto.v3.webcast.model import Gift  # noqa: E402
from TikTokLiveProto.v3.webcast.model.base import ImageModel  # noqa: E402
from TikTokLiveProto.v3.webcast.model.base.user import (  # noqa: E402
    BadgeStruct,
    FollowInfo,
    ImageBadge,
    PrivilegeLogExtra,
    StringBadge,
    User,
)
from TikTokLiveProto.v3.webcast.model.data import BadgeSceneType, UserIdentity  # noqa: E402
from TikTokLiveProto.v3.webcast.model.message import (  # noqa: E402
    Contributor,
    WebcastChatMessage,
    WebcastControlMessage,
    WebcastGiftMessage,
    WebcastLikeMessage,
    WebcastMemberMessage,
    WebcastRoomUserSeqMessage,
    WebcastSocialMessage,
)
from TikTokLiveProto.v3.webcast.model.message.common import Text  # noqa: E402
from TikTokLiveProto.v3.webcast.shared.message import (  # noqa: E402
    BaseProtoMessage,
    CommonMessageData,
    ProtoMessageFetchResult,
)
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ingest.gifts import gift_catalogue  # noqa: E402
from ingest.protobuf import reuse_message_validators  # noqa: E402
from ingest.push_frames import varint  # noqa: E402
from tests.tiktok_emulator.generate import generated_script  # noqa: E402

log = logging.getLogger("tiktok_emulator")


# ---------------------------------------------------------------------------
# betterproto2 metadata gotcha (only matters if the TikTokLiveClient runs in the
# same Python process as this emulator).
#
# betterproto2 caches per-class metadata in ``cls._betterproto_meta``; the
# lookup is a plain attribute lookup, so if the *parent* proto class (e.g.
# WebcastChatMessage) computes its metadata first, the TikTokLive event
# subclass (CommentEvent) inherits the parent's cache and parses ``user`` as a
# plain ``User`` instead of ``ExtendedUser`` (-> ``event.user.unique_id``
# AttributeError, GiftEvent.gift not ExtendedGift, ...).  Building messages here
# touches those parents, so we pre-compute the subclasses' own metadata first.
# This only fills a cache with the value the library would compute itself;
# no library code is changed.
# ---------------------------------------------------------------------------
def prime_tiktoklive_event_metadata() -> None:
    try:
        import betterproto2
        from betterproto2 import ProtoClassMetadata  # type: ignore[attr-defined]
        from TikTokLive.events import custom_events, proto_events
    except Exception:  # TikTokLive not importable -> nothing to prime
        return

    classes = set(proto_events.EVENT_MAPPINGS.values())
    for name in dir(custom_events):
        obj = getattr(custom_events, name)
        if isinstance(obj, type) and issubclass(obj, betterproto2.Message):
            classes.add(obj)
    for cls in classes:
        if "_betterproto_meta" not in cls.__dict__:
            cls._betterproto_meta = ProtoClassMetadata(cls)


prime_tiktoklive_event_metadata()

# Gift catalogue: see ingest/gifts.py (TikTokLive ships no gift data; diamond_count == coins).
GIFT_CATALOGUE = gift_catalogue()

_BADGE_SCENES = {
    "ADMIN": BadgeSceneType.ADMIN,
    "MODERATOR": BadgeSceneType.ADMIN,
    "SUBSCRIBER": BadgeSceneType.SUBSCRIBER,
    "FANS": BadgeSceneType.FANS,
    "USER_GRADE": BadgeSceneType.USER_GRADE,
    "RANK_LIST": BadgeSceneType.BADGE_SCENE_TYPE_RANK_LIST,
    "TOP_GIFTER": BadgeSceneType.BADGE_SCENE_TYPE_RANK_LIST,
    "FRIENDS": BadgeSceneType.FRIENDS,
}

_msg_ids = itertools.count(7_400_000_000_000_000_000)


def _now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------
# Encoding the hot messages without building them
# ---------------------------------------------------------------------------
_VARINT_KINDS = frozenset({"int32", "int64", "uint32", "uint64", "bool", "enum"})
_LENGTH_KINDS = frozenset({"string", "bytes", "message"})


@functools.cache
def _wire_field(message_class: type, name: str) -> tuple[bytes, str, bool, bool]:
    """A field's tag (number and wire type, encoded), protobuf type, whether it repeats and whether
    it is optional, from the class's betterproto2 metadata."""
    meta = message_class._betterproto.meta_by_field_name[name]
    if meta.proto_type not in _VARINT_KINDS | _LENGTH_KINDS:
        raise TypeError(f"{message_class.__name__}.{name}: {meta.proto_type} is not encoded here")
    tag = varint(meta.number << 3 | (0 if meta.proto_type in _VARINT_KINDS else 2))
    return tag, meta.proto_type, meta.repeated, bool(meta.optional)


def encode_fields(message_class: type, **values: Any) -> bytes:
    """The wire bytes of `message_class(**values)`, written directly: the fields `bytes(...)` of the
    built message gives, in the order of `values` (a parser reads the same message), without
    building and validating a betterproto2 message for every event. A message field takes its value already
    encoded (bytes) or as a message; None leaves a field out, and so does a default value, as
    betterproto2 leaves it out. Only the scalar types the emulator's hot messages use are written.

    A fleet of 200 generated rooms spent most of the emulator's CPU building and encoding messages
    (bench/ingest_fleet.py), CPU that TikTok's servers do not take from the worker under test."""
    out = bytearray()
    for name, value in values.items():
        if value is None:
            continue
        tag, kind, repeated, optional = _wire_field(message_class, name)
        for item in value if repeated else (value,):
            if kind in _VARINT_KINDS:
                number = int(item)
                if not number and not optional:
                    continue
                out += tag
                out += varint(number)
                continue
            if kind == "string":
                if not item and not optional:
                    continue
                data = item.encode()
            elif kind == "message":
                data = item if isinstance(item, bytes | bytearray) else bytes(item)
            else:
                if not item and not optional:
                    continue
                data = item
            out += tag
            out += varint(len(data))
            out += data
    return bytes(out)


# ---------------------------------------------------------------------------
# Message builders: each returns (method_name, protobuf_bytes)
# ---------------------------------------------------------------------------
def build_user(spec: dict[str, Any] | None) -> User:
    spec = spec or {}
    uid = int(spec.get("id", random.randint(10**17, 10**18)))
    handle = spec.get("unique_id") or spec.get("display_id") or f"user{uid % 100000}"
    nickname = spec.get("nickname", handle)
    avatar = spec.get("avatar") or f"https://p16-sign.tiktokcdn.test/avatar/{handle}~100x100.webp"
    badges: list[BadgeStruct] = []
    for b in spec.get("badges", []) or []:
        scene = _BADGE_SCENES.get(str(b.get("scene", "")).upper(), BadgeSceneType.BADGE_SCENE_TYPE_UNKNOWN)
        level = b.get("level")
        badge = BadgeStruct(
            scene_type=scene,
            display=True,
            privilege_log_extra=PrivilegeLogExtra(level=str(level)) if level is not None else None,
        )
        if b.get("url"):
            badge.image = ImageBadge(image=ImageModel(url_list=[b["url"]]))
        else:
            badge.str = StringBadge(str=str(b.get("text", b.get("scene", ""))))
        badges.append(badge)
    return User(
        id=uid,
        id_str=str(uid),
        display_id=handle,               # <- the @handle ("unique_id"); ExtendedUser.unique_id reads this
        nickname=nickname,
        sec_uid=spec.get("sec_uid", f"MS4wLjABAAAA{handle}"),
        avatar_thumb=ImageModel(url_list=[avatar], uri=f"avatar/{handle}"),
        avatar_medium=ImageModel(url_list=[avatar]),
        avatar_large=ImageModel(url_list=[avatar]),
        badge_list=badges,
        follow_info=FollowInfo(follow_status=int(spec.get("follow_status", 0)),
                               follower_count=int(spec.get("follower_count", 0))),
    )


@functools.lru_cache(maxsize=20_000)
def _encoded_user(spec_json: str) -> bytes:
    return bytes(build_user(json.loads(spec_json)))


@functools.lru_cache(maxsize=1_000)
def _encoded_gift(gift_json: str) -> bytes:
    return bytes(build_gift_model(json.loads(gift_json)))


def _encoded_user_field(spec: dict[str, Any] | None) -> bytes:
    """`build_user(spec)`'s bytes: a viewer with an id is the same User every time (a generated room's
    viewers send hundreds of events), encoded once; a viewer without one is a new one each time."""
    if not spec or "id" not in spec:
        return bytes(build_user(spec))
    return _encoded_user(json.dumps(spec, sort_keys=True, default=str))


def build_identity(spec: dict[str, Any] | None) -> bytes | None:
    """USER["identity"] = {"is_moderator_of_anchor": true, "is_subscriber_of_anchor": ..., "is_follower_of_anchor":
    ..., "is_gift_giver_of_anchor": ..., "is_mutual_following_with_anchor": ..., "is_anchor": ...}, encoded"""
    ident = (spec or {}).get("identity")
    return bytes(UserIdentity(**{k: bool(v) for k, v in ident.items()})) if ident else None


#: A step's explicit "msg_id" (to replay a message exactly, as TikTok does after a reconnect).
_forced_msg_ids: list[int] = []


def build_common(method: str, room_id: int, display_key: str = "", pattern: str = "") -> bytes:
    """A message's CommonMessageData, encoded; TikTokLive reads common.display_text.key to tell a
    follow from a share."""
    return encode_fields(CommonMessageData, method=method,
                         msg_id=_forced_msg_ids.pop() if _forced_msg_ids else next(_msg_ids),
                         room_id=room_id, create_time=_now_ms(), is_show_msg=True,
                         display_text=_display_text(display_key, pattern) if display_key or pattern else None)


@functools.cache
def _display_text(key: str, pattern: str) -> bytes:
    return bytes(Text(key=key, default_pattern=pattern))


def resolve_gift(gift: Any) -> dict[str, Any]:
    if isinstance(gift, dict):
        g = dict(gift)
        if "name" in g and g["name"] in GIFT_CATALOGUE:
            g = {**GIFT_CATALOGUE[g["name"]], **g}
        g.setdefault("id", 1)
        g.setdefault("diamond_count", 1)
        g.setdefault("type", 1)
        g.setdefault("name", f"gift{g['id']}")
        return g
    name = str(gift or "Rose")
    return {"name": name, **GIFT_CATALOGUE.get(name, {"id": 1, "diamond_count": 1, "type": 1})}


def build_gift_model(g: dict[str, Any]) -> Gift:
    img = g.get("image") or f"https://p19-webcast.tiktokcdn.test/gift/{g['id']}.png"
    return Gift(
        id=int(g["id"]),
        name=g["name"],
        diamond_count=int(g["diamond_count"]),
        type=int(g["type"]),
        combo=int(g["type"]) == 1,
        describe=f"sent {g['name']}",
        image=ImageModel(url_list=[img]),
        icon=ImageModel(url_list=[img]),
    )


def msg_comment(room_id: int, user: dict, text: str) -> tuple[str, bytes]:
    return "WebcastChatMessage", encode_fields(
        WebcastChatMessage, common=build_common("WebcastChatMessage", room_id), content=text, content_language="en",
        user_identity=build_identity(user), user=_encoded_user_field(user))


def msg_gift(room_id: int, user: dict, gift: dict[str, Any], repeat_count: int, repeat_end: int,
             group_id: int, combo_count: int | None = None) -> tuple[str, bytes]:
    g = resolve_gift(gift)
    return "WebcastGiftMessage", encode_fields(
        WebcastGiftMessage,
        common=build_common("WebcastGiftMessage", room_id),
        gift_id=int(g["id"]),
        group_count=1,
        repeat_count=repeat_count,
        combo_count=combo_count if combo_count is not None else repeat_count,
        repeat_end=repeat_end,
        group_id=group_id,
        fan_ticket_count=int(g["diamond_count"]) * repeat_count,
        log_id=f"{group_id:x}",
        send_type=1,
        user_identity=build_identity(user),
        user=_encoded_user_field(user),
        gift=_encoded_gift(json.dumps(g, sort_keys=True, default=str)),
    )


def msg_like(room_id: int, user: dict, count: int, total: int) -> tuple[str, bytes]:
    return "WebcastLikeMessage", encode_fields(
        WebcastLikeMessage,
        common=build_common("WebcastLikeMessage", room_id, "pm_mt_msg_viewer", "{0:user} liked the LIVE"),
        count=count, total=total, user=_encoded_user_field(user))


def msg_social(room_id: int, user: dict, kind: str, follow_count: int = 0, share_count: int = 0) -> tuple[str, bytes]:
    if kind == "follow":
        key, pattern, action = "pm_main_follow_message_viewer_2", "{0:user} followed the LIVE creator", 1
    else:
        key, pattern, action = "pm_mt_guidance_share", "{0:user} shared the LIVE", 3
    return "WebcastSocialMessage", encode_fields(
        WebcastSocialMessage,
        common=build_common("WebcastSocialMessage", room_id, key, pattern),
        action=action,
        follow_count=follow_count,
        share_type=1 if kind == "share" else 0,
        share_count=share_count,
        share_target="",
        user=_encoded_user_field(user),
    )


def msg_join(room_id: int, user: dict, member_count: int) -> tuple[str, bytes]:
    u = build_user(user)
    return "WebcastMemberMessage", encode_fields(
        WebcastMemberMessage,
        common=build_common("WebcastMemberMessage", room_id, "live_room_enter_toast", "{0:user} joined"),
        user=u,
        member_count=member_count,
        action=MemberMessageAction.JOINED,
        user_id=u.id,
    )


def msg_viewers(room_id: int, total: int, total_user: int, top: list[dict]) -> tuple[str, bytes]:
    ranks = [Contributor(user=build_user(u), score=int(u.get("score", 0)), rank=i + 1)
             for i, u in enumerate(top or [])]
    return "WebcastRoomUserSeqMessage", encode_fields(
        WebcastRoomUserSeqMessage,
        common=build_common("WebcastRoomUserSeqMessage", room_id),
        ranks=ranks,
        total=total,
        total_user=total_user,
        popularity=total,
        pop_str=str(total),
    )


def msg_control(room_id: int, action: ControlAction) -> tuple[str, bytes]:
    return "WebcastControlMessage", encode_fields(
        WebcastControlMessage, common=build_common("WebcastControlMessage", room_id), action=action)


# ---------------------------------------------------------------------------
# Emulator state
# ---------------------------------------------------------------------------
DEFAULT_SCRIPT: list[dict[str, Any]] = [
    {"type": "join", "user": {"id": 1001, "unique_id": "alice_shop", "nickname": "Alice"}, "member_count": 12},
    {"type": "viewers", "total": 12, "total_user": 30,
     "top": [{"id": 1002, "unique_id": "bob_buyer", "nickname": "Bob", "score": 300}]},
    {"type": "comment", "user": {"id": 1001, "unique_id": "alice_shop", "nickname": "Alice",
                                 "badges": [{"scene": "FANS", "level": 7,
                                             "url": "https://p16.test/fans_badge_icon_lv7_v1.png"}]},
     "text": "How much is the red bag?"},
    {"type": "gift_streak", "user": {"id": 1002, "unique_id": "bob_buyer", "nickname": "Bob"},
     "gift": "Rose", "count": 5, "interval": 0.1},
    {"type": "gift", "user": {"id": 1003, "unique_id": "carol", "nickname": "Carol"}, "gift": "Corgi"},
    {"type": "like", "user": {"id": 1001, "unique_id": "alice_shop", "nickname": "Alice"}, "count": 15, "total": 215},
    {"type": "follow", "user": {"id": 1004, "unique_id": "dave_d", "nickname": "Dave"}},
    {"type": "share", "user": {"id": 1003, "unique_id": "carol", "nickname": "Carol"}},
    {"type": "viewers", "total": 14, "total_user": 33, "top": []},
    {"type": "live_end"},
]


@dataclass
class Room:
    unique_id: str
    room_id: int
    live: bool = True
    script: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_SCRIPT))
    initial_messages: list[dict[str, Any]] = field(default_factory=list)  # steps put in the sign response
    nickname: str = ""
    title: str = "Streamshop emulated LIVE"
    position: int = 0  # the next script step to play
    # Like TikTok, send the last N played messages (with their original ids) to a client that
    # (re)connects, in the sign response; steps need an explicit "msg_id" for this.
    history: int = 0
    played: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class WsSession:
    room: Room
    conn: ServerConnection
    gzip: bool
    query: dict[str, str]
    headers: dict[str, str]
    seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    log_ids: itertools.count = field(default_factory=lambda: itertools.count(int(time.time() * 1000) * 1000))
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    total_likes: int = 0
    sent_frames: int = 0


class TikTokLiveEmulator:
    PUSH_PATH = "/webcast/im/push/v2/"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, auto_create_rooms: bool = False,
                 handshake_options: str = "ping-interval=10", enter_room_timeout: float = 2.0,
                 default_delay: float = 0.3):
        self.host = host
        self.port = port
        self.auto_create_rooms = auto_create_rooms
        self.handshake_options = handshake_options
        self.enter_room_timeout = enter_room_timeout
        self.default_delay = default_delay
        self.rooms: dict[str, Room] = {}
        self.sign_failures: list[dict[str, Any]] = []   # queue of {"status": 429, ...}
        self.sessions: list[WsSession] = []
        self.state: dict[str, Any] = {}
        self.reset_state()
        self._server = None

    # -- config ------------------------------------------------------------
    def add_room(self, unique_id: str, room_id: int | None = None, *, live: bool = True,
                 script: list[dict[str, Any]] | None = None,
                 initial_messages: list[dict[str, Any]] | None = None, history: int = 0) -> Room:
        unique_id = unique_id.lstrip("@")
        room = Room(unique_id=unique_id,
                    room_id=int(room_id or 7_300_000_000_000_000_000 + zlib.crc32(unique_id.encode())),
                    live=live,
                    script=list(DEFAULT_SCRIPT if script is None else script),
                    initial_messages=list(initial_messages or []), history=history)
        self.rooms[unique_id] = room
        return room

    def fail_next_sign(self, status: int = 429, count: int = 1, **extra: Any) -> None:
        for _ in range(count):
            self.sign_failures.append({"status": status, **extra})

    def reset_state(self) -> None:
        self.state = {"http_requests": [], "sign_requests": [], "ws_connections": [],
                      "client_frames": {"hb": 0, "ack": 0, "im_enter_room": 0, "other": 0},
                      "acks": [], "heartbeats": [], "enter_room": [], "ws_closed": []}

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Values for Streamshop's TIKTOK_* env vars."""
        return {"TIKTOK_APP_URL": self.base_url,
                "TIKTOK_SIGN_URL": self.base_url,
                "TIKTOK_WEBCAST_URL": self.base_url + "/webcast"}

    def room_by_id(self, room_id: Any) -> Room | None:
        for r in self.rooms.values():
            if str(r.room_id) == str(room_id):
                return r
        return None

    def room_by_uid(self, unique_id: str) -> Room | None:
        unique_id = unquote(unique_id).lstrip("@")
        room = self.rooms.get(unique_id)
        if room is None and self.auto_create_rooms and unique_id:
            room = self.add_room(unique_id)
        return room

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> TikTokLiveEmulator:
        self._server = await serve(
            self._ws_handler, self.host, self.port,
            process_request=self._process_request,
            process_response=self._process_response,
            select_subprotocol=lambda conn, offered: "echo-protocol" if "echo-protocol" in offered else None,
            ping_interval=None,          # TikTok's push server does not ping web clients
            compression=None,
            max_size=2**22,
            logger=logging.getLogger("tiktok_emulator.ws"),
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("emulator listening on %s", self.base_url)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        await self.stop()

    # -- HTTP --------------------------------------------------------------
    @staticmethod
    def _resp(status: int, body: bytes | str, content_type: str = "application/json",
              extra_headers: dict[str, str] | None = None) -> Response:
        if isinstance(body, str):
            body = body.encode()
        st = http.HTTPStatus(status)
        headers = Headers([("Connection", "close"), ("Content-Type", content_type),
                           ("Content-Length", str(len(body)))])
        for k, v in (extra_headers or {}).items():
            headers[k] = v
        return Response(st.value, st.phrase, headers, body)

    def _json(self, obj: Any, status: int = 200, **kw) -> Response:
        return self._resp(status, json.dumps(obj), "application/json", **kw)

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        path = parts.path
        q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        is_upgrade = "websocket" in request.headers.get("Upgrade", "").lower()
        self.state["http_requests"].append({"path": path, "query": q, "upgrade": is_upgrade,
                                            "headers": dict(request.headers.raw_items())})
        try:
            if path == self.PUSH_PATH:
                if not is_upgrade:
                    return self._resp(426, "websocket upgrade required", "text/plain")
                room = self.room_by_id(q.get("room_id"))
                if room is None:
                    return self._resp(400, "unknown room", "text/plain", {"Handshake-Msg": "unknown room_id"})
                if not room.live:
                    return self._resp(400, "room not live", "text/plain", {"Handshake-Msg": "room not live"})
                return None  # accept -> _ws_handler
            if path.startswith("/__emulator/"):
                return self._control(path, q)
            if path == "/webcast/fetch":
                return self._sign(q, request)
            if path.startswith("/@") and path.endswith("/live"):
                return self._room_page(path[2:-5])
            if path.startswith("/@"):
                return self._profile_page(path[2:].strip("/"))
            if path == "/api-live/user/room/":
                return self._api_user_room(q.get("uniqueId", ""))
            if path == "/webcast/room/check_alive/":
                ids = [i for i in q.get("room_ids", "").split(",") if i]
                return self._json({"data": [{"alive": bool((r := self.room_by_id(i)) and r.live),
                                             "room_id": int(i), "room_id_str": i} for i in ids],
                                   "extra": {"now": _now_ms()}, "status_code": 0})
            if path in ("/webcast/room/info/", "/webcast/room/info_by_user/"):
                room = self.room_by_id(q.get("room_id")) if "room_id" in q else self.room_by_uid(q.get("unique_id", ""))
                if room is None:
                    return self._json({"data": {"message": "room not found"}, "status_code": 30003})
                return self._json({"data": self._room_info(room), "status_code": 0})
            if path == "/webcast/gift/list/":
                return self._json({"data": {"gifts": [
                    {"id": g["id"], "name": n, "diamond_count": g["diamond_count"], "type": g["type"],
                     "combo": g["type"] == 1,
                     "image": {"url_list": [f"https://p19-webcast.tiktokcdn.test/gift/{g['id']}.png"]}}
                    for n, g in GIFT_CATALOGUE.items()]}, "status_code": 0})
            if path == "/":
                return self._resp(200, "TikTok LIVE emulator", "text/plain")
            return self._resp(404, "not found", "text/plain")
        except Exception as ex:  # pragma: no cover - debugging aid
            log.exception("request handler failed")
            return self._resp(500, f"emulator error: {ex!r}", "text/plain")

    def _process_response(self, conn: ServerConnection, request: Request, response: Response) -> None:
        if response.status_code == 101 and self.handshake_options:
            # TikTokLive parses this (SimpleCookie syntax) and uses "ping-interval" for its hb loop
            response.headers["Handshake-Options"] = self.handshake_options
        return None

    def _room_page(self, unique_id: str) -> Response:
        room = self.room_by_uid(unique_id)
        if room is None:
            sigi = {"LiveRoom": None, "UserModule": {}}  # -> UserNotFoundError, client falls back to API
        else:
            sigi = {"LiveRoom": {"liveRoomUserInfo": {
                "user": {"roomId": str(room.room_id), "uniqueId": room.unique_id,
                         "nickname": room.nickname or room.unique_id, "id": str(room.room_id % 10**12),
                         "status": 2 if room.live else 4},
                "liveRoom": {"status": 2 if room.live else 4, "title": room.title}}}}
        html = ("<!DOCTYPE html><html><head><title>LIVE</title></head><body>"
                f'<script id="SIGI_STATE" type="application/json">{json.dumps(sigi)}</script>'
                "</body></html>")
        return self._resp(200, html, "text/html; charset=utf-8")

    def _profile_page(self, user: str) -> Response:
        room = None
        if user.isdigit():
            room = next((r for r in self.rooms.values() if str(r.room_id % 10**12) == user), None)
        room = room or self.room_by_uid(user)
        data = {"__DEFAULT_SCOPE__": {"webapp.user-detail": {"userInfo": {"user": {
            "uniqueId": room.unique_id if room else None,
            "avatarLarger": f"https://p16-sign.tiktokcdn.test/avatar/{room.unique_id if room else user}.jpeg"}}}}}
        html = ('<html><body><script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">'
                f"{json.dumps(data)}</script></body></html>")
        return self._resp(200, html, "text/html; charset=utf-8")

    def _api_user_room(self, unique_id: str) -> Response:
        room = self.room_by_uid(unique_id)
        if room is None:
            return self._json({"message": "user_not_found", "statusCode": 19881007, "data": {}})
        return self._json({"message": "", "statusCode": 0, "data": {
            "user": {"roomId": str(room.room_id), "uniqueId": room.unique_id, "status": 2 if room.live else 4},
            "liveRoom": {"status": 2 if room.live else 4, "title": room.title}}})

    def _room_info(self, room: Room) -> dict[str, Any]:
        return {"id": room.room_id, "id_str": str(room.room_id), "status": 2 if room.live else 4,
                "title": room.title,
                "owner": {"display_id": room.unique_id, "nickname": room.nickname or room.unique_id},
                "user_count": 0, "stats": {"total_user": 0}}

    def _control(self, path: str, q: dict[str, str]) -> Response:
        if path == "/__emulator/state":
            return self._json({**self.state, "rooms": {k: {"room_id": r.room_id, "live": r.live}
                                                       for k, r in self.rooms.items()},
                               "pending_sign_failures": self.sign_failures,
                               "open_sessions": len(self.sessions)})
        if path == "/__emulator/reset_state":
            self.reset_state()
            return self._json({"ok": True})
        if path == "/__emulator/sign_fail":
            self.fail_next_sign(int(q.get("status", 429)), int(q.get("count", 1)),
                                retry_after=int(q.get("retry_after", 30)))
            return self._json({"ok": True, "pending": len(self.sign_failures)})
        if path == "/__emulator/set_live":
            room = self.room_by_uid(q.get("room", ""))
            if room is None:
                return self._json({"ok": False, "error": "unknown room"}, 404)
            room.live = q.get("live", "1") not in ("0", "false", "")
            return self._json({"ok": True, "live": room.live})
        if path == "/__emulator/inject":
            step = json.loads(q.get("event", "{}"))
            targets = [s for s in self.sessions if not q.get("room") or s.room.unique_id == q["room"].lstrip("@")]
            for s in targets:
                asyncio.get_running_loop().create_task(self._play_step(s, step))
            return self._json({"ok": True, "sessions": len(targets)})
        return self._resp(404, "unknown control endpoint", "text/plain")

    # -- Sign server -----------------------------------------------------
    def _sign(self, q: dict[str, str], request: Request) -> Response:
        self.state["sign_requests"].append({"query": q, "headers": dict(request.headers.raw_items())})
        if self.sign_failures:
            f = self.sign_failures.pop(0)
            status = int(f["status"])
            if status == 429:
                # RateLimit-Remaining is REQUIRED by TikTokLive (int(header) -> retry-after seconds)
                return self._json({"code": 429, "message": f.get("message", "Emulated rate limit"),
                                   "limit_label": f.get("limit_label", "emulator")}, 429,
                                  extra_headers={"RateLimit-Limit": "10",
                                                 "RateLimit-Remaining": str(f.get("retry_after", 30)),
                                                 "RateLimit-Reset": str(int(time.time())
                                                                        + int(f.get("retry_after", 30)))})
            return self._json({"code": status, "message": f.get("message", "Emulated sign failure")}, status)
        room = self.room_by_id(q.get("room_id")) if q.get("room_id") else self.room_by_uid(q.get("unique_id", ""))
        if room is None:
            return self._json({"code": 404, "message": "room not found"}, 404)
        cursor = f"t-{_now_ms()}_r-1_d-1_u-1_h-1"
        internal_ext = (f"internal_src:dim|wss_push_room_id:{room.room_id}|wss_push_did:0|"
                        f"first_req_ms:{_now_ms()}|fetch_time:{_now_ms()}|seq:1|wss_info:0-{int(time.time())}-0-0|"
                        f"wrds_v:{random.randint(10**18, 10**19)}")
        recent = [step for step in room.played if "msg_id" in step][-room.history:] if room.history else []
        messages = [self._step_to_messages(room, step, None)[0] for step in [*room.initial_messages, *recent]
                    if step.get("type") not in ("gift_streak", "close", "wait")]
        result = ProtoMessageFetchResult(
            messages=[BaseProtoMessage(method=m, payload=p, msg_id=next(_msg_ids))
                      for batch in messages for m, p in batch],
            cursor=cursor,
            fetch_interval=1000,
            now=_now_ms(),
            internal_ext=internal_ext,
            fetch_type=1,
            route_params={"cursor": cursor, "internal_ext": internal_ext, "wrss": "emulator-wrss-token"},
            heartbeat_duration=10000,
            need_ack=False,
            push_server=f"ws://{self.host}:{self.port}{self.PUSH_PATH}",
            is_first=True,       # -> ConnectEvent + client sends im_enter_room and starts hb loop
        )
        ttwid = base64.urlsafe_b64encode(random.randbytes(24)).decode().rstrip("=")
        return self._resp(200, bytes(result), "application/protobuf", {
            # Parsed with http.cookies.SimpleCookie and copied into the client's jar
            # (domain .tiktok.com), then sent in the WS "Cookie" header.
            "X-Set-TT-Cookie": f"ttwid=1|{ttwid}; tt_chain_token=emu{random.randint(0, 10**9)}",
            "X-Request-Id": f"emu-{random.randint(0, 10**9)}",
            "X-Agent-Id": "emulator",
            "X-Log-Code": "0",
        })

    # -- WebSocket ---------------------------------------------------------
    async def _ws_handler(self, conn: ServerConnection) -> None:
        parts = urlsplit(conn.request.path)
        q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        room = self.room_by_id(q.get("room_id"))
        assert room is not None
        sess = WsSession(room=room, conn=conn, gzip=q.get("compress") == "gzip", query=q,
                         headers=dict(conn.request.headers.raw_items()))
        self.sessions.append(sess)
        self.state["ws_connections"].append({"room_id": room.room_id, "query": q, "headers": sess.headers,
                                             "subprotocol": conn.subprotocol})
        reader = asyncio.create_task(self._ws_reader(sess))
        player = asyncio.create_task(self._play_script(sess))
        try:
            await conn.wait_closed()   # client hung up, or a "close"/"drop" step closed it
        finally:
            player.cancel()
            reader.cancel()
            self.sessions.remove(sess)
            self.state["ws_closed"].append({"room_id": room.room_id, "close_code": conn.close_code,
                                            "close_reason": conn.close_reason, "frames_sent": sess.sent_frames})

    async def _play_script(self, sess: WsSession) -> None:
        try:
            try:
                await asyncio.wait_for(sess.entered.wait(), self.enter_room_timeout)
            except TimeoutError:
                log.warning("no im_enter_room frame received; playing script anyway")
            # The LIVE goes on while a client is away: a reconnecting client continues where the
            # previous connection stopped instead of hearing the script again.
            # Steps are due on a schedule, not after one another: an emulator slow to build frames
            # (hundreds of rooms on a busy machine) catches up, as TikTok would, instead of
            # stretching the LIVE. A step that waits inside itself (a gift streak) moves the schedule.
            loop = asyncio.get_running_loop()
            due = loop.time()
            while sess.room.position < len(sess.room.script):
                step = sess.room.script[sess.room.position]
                due += float(step.get("delay", self.default_delay))
                await asyncio.sleep(max(0.0, due - loop.time()))
                # From here the message has happened in the LIVE, received or not: a client that
                # reconnects gets it in the history (when the room keeps history).
                sess.room.position += 1
                sess.room.played.append(step)
                await self._play_step(sess, step, wait=False)
                if step.get("type") in ("close", "drop"):
                    return  # the rest of the LIVE goes to the next connection
                if step.get("type") not in ("batch", "wait"):
                    due = max(due, loop.time())
        except websockets.ConnectionClosed:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("script playback failed")

    async def _ws_reader(self, sess: WsSession) -> None:
        try:
            async for raw in sess.conn:
                if isinstance(raw, str):
                    raw = raw.encode()
                frame = WebcastPushFrame().parse(raw)
                kind = frame.payload_type
                if kind == "hb":
                    hb = HeartBeatMessage().parse(frame.payload)
                    self.state["client_frames"]["hb"] += 1
                    self.state["heartbeats"].append({"room_id": hb.room_id, "seq": hb.send_packet_seq_id,
                                                     "t": time.time()})
                    await sess.conn.send(bytes(WebcastPushFrame(payload_type="hb", payload_encoding="pb",
                                                                log_id=next(sess.log_ids))))
                elif kind == "ack":
                    self.state["client_frames"]["ack"] += 1
                    self.state["acks"].append({"log_id": frame.log_id,
                                               "payload": frame.payload.decode(errors="replace")})
                elif kind == "im_enter_room":
                    er = WebcastImEnterRoomMessage().parse(frame.payload)
                    self.state["client_frames"]["im_enter_room"] += 1
                    self.state["enter_room"].append({"room_id": er.room_id, "identity": er.identity,
                                                     "live_id": er.live_id})
                    await sess.conn.send(bytes(WebcastPushFrame(payload_type="im_enter_room_resp",
                                                                payload_encoding="pb", log_id=next(sess.log_ids))))
                    sess.entered.set()
                else:
                    self.state["client_frames"]["other"] += 1
        except websockets.ConnectionClosed:
            pass

    async def send_messages(self, sess: WsSession, messages: list[tuple[str, bytes]]) -> None:
        """Wrap messages in ProtoMessageFetchResult -> (gzip) -> WebcastPushFrame and send."""
        seq = next(sess.seq)
        internal_ext = f"internal_src:dim|wss_push_room_id:{sess.room.room_id}|seq:{seq}|wss_msg_type:r"
        cursor = f"r-{seq}_d-1_u-1_fh-{_now_ms()}_t-{_now_ms()}"
        payload = encode_fields(
            ProtoMessageFetchResult,
            messages=[encode_fields(BaseProtoMessage, method=m, payload=p, msg_id=next(_msg_ids), msg_type=0)
                      for m, p in messages],
            cursor=cursor,
            fetch_interval=0,
            now=_now_ms(),
            internal_ext=internal_ext,
            need_ack=True,          # client answers with payload_type "ack" frame (log_id echoed)
            is_first=False,
        )
        headers = [encode_fields(PushHeader, key="im-cursor", value=cursor),
                   encode_fields(PushHeader, key="im-internal_ext", value=internal_ext)]
        if sess.gzip:
            # The fastest level: any level reads back the same, and the CPU is the worker's to have.
            payload = gzip.compress(payload, compresslevel=1)
            headers.append(encode_fields(PushHeader, key="compress_type", value="gzip"))
        await sess.conn.send(encode_fields(WebcastPushFrame, seq_id=seq, log_id=next(sess.log_ids), service=1, method=1,
                                           headers=headers, payload_encoding="pb", payload_type="msg",
                                           payload=payload))
        sess.sent_frames += 1

    def _step_to_messages(self, room: Room, step: dict[str, Any], sess: WsSession | None
                          ) -> list[list[tuple[str, bytes]]]:
        """Returns a list of frames, each a list of (method, payload)."""
        t = step.get("type")
        rid = room.room_id
        if step.get("msg_id") is not None:
            _forced_msg_ids[:] = [int(step["msg_id"])]
        user = step.get("user") or {}
        if t == "comment":
            return [[msg_comment(rid, user, step.get("text", ""))]]
        if t == "gift":
            g = resolve_gift(step.get("gift"))
            n = int(step.get("repeat_count", 1))
            return [[msg_gift(rid, user, g, n, 1, int(step.get("group_id", _now_ms())))]]
        if t == "like":
            total = int(step.get("total", (sess.total_likes if sess else 0) + int(step.get("count", 1))))
            if sess:
                sess.total_likes = total
            return [[msg_like(rid, user, int(step.get("count", 1)), total)]]
        if t in ("follow", "share"):
            return [[msg_social(rid, user, t, int(step.get("follow_count", 0)), int(step.get("share_count", 0)))]]
        if t == "join":
            return [[msg_join(rid, user, int(step.get("member_count", 0)))]]
        if t == "viewers":
            return [[msg_viewers(rid, int(step.get("total", 0)), int(step.get("total_user", 0)), step.get("top", []))]]
        if t in ("live_end", "pause", "unpause", "suspend"):
            action = {"live_end": ControlAction.STREAM_ENDED, "pause": ControlAction.STREAM_PAUSED,
                      "unpause": ControlAction.STREAM_UNPAUSED, "suspend": ControlAction.STREAM_SUSPENDED}[t]
            return [[msg_control(rid, action)]]
        if t == "raw":
            return [[(step["method"], base64.b64decode(step.get("payload_b64", "")))]]
        if t == "batch":
            return [[m for sub in step.get("steps", []) for frame in self._step_to_messages(room, sub, sess)
                     for m in frame]]
        raise ValueError(f"unknown step type {t!r}")

    @staticmethod
    async def _until_delivered(sess: WsSession, limit: float = 120.0) -> None:
        """Wait until the client's TCP stack has acknowledged every byte sent so far.

        A script's "drop" comes after the steps before it have happened: aborting at once would
        also throw away whatever still sat in our buffers (an abort discards the send queue), so
        on a busy machine the events just before a drop were lost or not depending on timing.
        """
        transport = sess.conn.transport
        raw = transport.get_extra_info("socket")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while loop.time() < deadline:
            pending = transport.get_write_buffer_size()
            if not pending and raw is not None:
                with contextlib.suppress(OSError):  # not Linux, or the socket is already gone
                    pending = struct.unpack("i", fcntl.ioctl(raw.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
            if not pending:
                return
            await asyncio.sleep(0.01)

    async def _play_step(self, sess: WsSession, step: dict[str, Any], wait: bool = True) -> None:
        if wait:
            await asyncio.sleep(float(step.get("delay", self.default_delay)))
        t = step.get("type")
        if t == "wait":
            return
        if t == "close":
            await sess.conn.close(int(step.get("code", 1000)), step.get("reason", ""))
            return
        if t == "drop":  # abrupt TCP drop, no close frame
            await self._until_delivered(sess)
            sess.conn.transport.abort()
            return
        if t == "gift_streak":
            g = resolve_gift(step.get("gift"))
            n = int(step.get("count", 3))
            group_id = int(step.get("group_id", _now_ms()))
            user = step.get("user") or {}
            for i in range(1, n + 1):
                # mid-streak frames: repeat_end = 0, repeat_count grows 1..n
                await self.send_messages(sess, [msg_gift(sess.room.room_id, user, g, i, 0, group_id)])
                await asyncio.sleep(float(step.get("interval", 0.1)))
            # streak end: repeat_end = 1 with the final repeat_count
            await self.send_messages(sess, [msg_gift(sess.room.room_id, user, g, n, 1, group_id)])
            return
        if t in ("live_end", "suspend"):
            sess.room.live = False  # a client checking again now finds the user offline
        for frame in self._step_to_messages(sess.room, step, sess):
            await self.send_messages(sess, frame)


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------
async def _amain(args: argparse.Namespace) -> None:
    emu = TikTokLiveEmulator(args.host, args.port, auto_create_rooms=args.auto_create_rooms,
                             default_delay=args.delay, handshake_options=args.handshake_options)
    script = DEFAULT_SCRIPT
    if args.script:
        with open(args.script) as fh:
            script = json.load(fh)
    initial = []
    if args.initial_viewers:
        initial = [{"type": "viewers", "total": args.initial_viewers, "total_user": args.initial_viewers}]
    if args.config:
        with open(args.config) as fh:
            cfg = json.load(fh)
        for r in cfg.get("rooms", []):
            script = generated_script(**r["generate"]) if r.get("generate") else r.get("script")
            emu.add_room(r["unique_id"], r.get("room_id"), live=r.get("live", True),
                         script=script, initial_messages=r.get("initial_messages"),
                         history=int(r.get("history", 0)))
    else:
        emu.add_room(args.unique_id, args.room_id, live=not args.offline, script=script,
                     initial_messages=initial)
    if args.sign_429:
        emu.fail_next_sign(429, args.sign_429, retry_after=args.retry_after)
    await emu.start()
    print(f"EMULATOR_READY {emu.base_url}", flush=True)
    for k, v in emu.env.items():
        print(f"  {k}={v}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()


def _encode_faster() -> None:
    """Make betterproto2's encoding cheaper in this process, so that hundreds of generated rooms
    leave the machine's CPU to the worker under test (bench/ingest_fleet.py shares two cores with it).

    Encoding validates every message, as decoding does: the worker's once-per-class validators. And
    it compares every field with its default, building the default anew inside a `warnings`
    context each time (two thirds of the emulator's CPU): here each class's defaults are built once,
    which is safe because encoding only compares with them."""
    import betterproto2

    reuse_message_validators()
    defaults: dict[tuple[type, str], Any] = {}
    build_default = betterproto2.Message._get_field_default

    def field_default(self: Any, field_name: str) -> Any:
        key = (type(self), field_name)
        if key not in defaults:
            defaults[key] = build_default(self, field_name)
        return defaults[key]

    betterproto2.Message._get_field_default = field_default


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--unique-id", default="streamshop_host")
    p.add_argument("--room-id", type=int, default=7300000000000000001)
    p.add_argument("--script", help="JSON file with a list of steps (default: built-in demo script)")
    p.add_argument("--config", help='JSON file {"rooms": [{"unique_id", "room_id", "live", "script", '
                                    '"initial_messages"}]} (overrides --unique-id/--script)')
    p.add_argument("--offline", action="store_true")
    p.add_argument("--auto-create-rooms", action="store_true", help="any @user is live with the default script")
    p.add_argument("--sign-429", type=int, default=0, help="answer the first N sign requests with 429")
    p.add_argument("--retry-after", type=int, default=30)
    p.add_argument("--initial-viewers", type=int, default=0, help="put a RoomUserSeq in the sign response")
    p.add_argument("--delay", type=float, default=0.3, help="default delay between script steps")
    p.add_argument("--handshake-options", default="ping-interval=10",
                   help='Handshake-Options header on the WS 101 response ("" = none -> client hb every 5 s)')
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    _encode_faster()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_amain(args))


if __name__ == "__main__":
    main()
