"""Our own plain event records: what the TikTokLive handlers produce, what the replay format
stores (one JSON object per line, see docs/ingest-events.md) and what the writer applies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Kinds that belong to one viewer (and so carry a `user`).
VIEWER_KINDS = frozenset({"comment", "gift", "like", "share", "follow", "join", "presence"})
#: Kinds about the LIVE itself.
ROOM_KINDS = frozenset({"live_start", "viewers", "live_end", "disconnect"})
KINDS = VIEWER_KINDS | ROOM_KINDS


class MalformedEvent(ValueError):
    """An event record that cannot be applied; the writer logs it and skips it."""


@dataclass(frozen=True)
class Viewer:
    """Who did something, as TikTok describes them on the event."""

    id: int
    handle: str = ""
    nickname: str = ""
    avatar: str | None = None
    badges: tuple[dict[str, Any], ...] = ()
    moderator: bool = False
    subscriber: bool = False
    follower: bool = False
    follower_count: int | None = None
    following_count: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "handle": self.handle, "nickname": self.nickname}
        if self.avatar:
            data["avatar"] = self.avatar
        if self.badges:
            data["badges"] = list(self.badges)
        for flag in ("moderator", "subscriber", "follower"):
            if getattr(self, flag):
                data[flag] = True
        for count in ("follower_count", "following_count"):
            if getattr(self, count) is not None:
                data[count] = getattr(self, count)
        return data


@dataclass(frozen=True)
class EventRecord:
    kind: str
    message_id: str
    time: datetime
    room_id: str | None = None
    user: Viewer | None = None
    #: Kind-specific fields: comment {text}; gift {gift_id, gift_name, diamond_count, repeat_count,
    #: streaking}; like {count}; viewers {total, top: [user...]}; status {status, error}.
    data: dict[str, Any] = field(default_factory=dict)
    account_id: int | None = None

    def to_json(self) -> str:
        line: dict[str, Any] = {"kind": self.kind, "id": self.message_id,
                                "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z")}
        if self.room_id:
            line["room"] = self.room_id
        if self.user is not None:
            line["user"] = self.user.to_json()
        line.update(self.data)
        if self.kind == "viewers":
            line["top"] = [user.to_json() for user in self.data.get("top", [])]
        return json.dumps(line, separators=(",", ":"), ensure_ascii=False)


def check(record: EventRecord) -> None:
    """The one check of what the rules can apply, whichever way the record came (a replay file, the
    TikTokLive handlers, a test): raises `MalformedEvent` with the reason. Readers only convert."""
    if record.kind not in KINDS:
        raise MalformedEvent(f"unknown kind {record.kind!r}")
    if record.user is not None and (not _whole(record.user.id) or record.user.id <= 0):
        raise MalformedEvent(f"user id must be a positive number, not {record.user.id!r}")
    if record.kind in VIEWER_KINDS and record.user is None:
        raise MalformedEvent(f"a {record.kind} needs a user")
    if record.time.tzinfo is None:
        raise MalformedEvent("time must be timezone-aware")
    if record.kind == "gift":
        for name in ("gift_id", "diamond_count", "repeat_count"):
            value = record.data.get(name)
            if not _whole(value) or value < (1 if name == "repeat_count" else 0):
                raise MalformedEvent(f"gift {name} must be a whole number, not {value!r}")
    if record.kind == "viewers" and (not _whole(record.data.get("total", 0)) or record.data.get("total", 0) < 0):
        raise MalformedEvent(f"viewer total must be a whole number, not {record.data.get('total')!r}")
    if record.kind == "like":
        count = record.data.get("count")
        if not _whole(count) or count < 1:
            raise MalformedEvent(f"like count must be a positive number, not {count!r}")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any, name: str) -> int:
    """A whole number read from JSON (a number or a string of digits); `check` judges its range."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedEvent(f"{name} must be a whole number, not {value!r}")
    try:
        return int(value)
    except ValueError:
        raise MalformedEvent(f"{name} must be a whole number, not {value!r}") from None


def _text(value: Any, limit: int) -> str:
    return "" if value is None else str(value)[:limit]


def parse_viewer(data: Any) -> Viewer:
    if not isinstance(data, dict):
        raise MalformedEvent(f"user must be an object, not {data!r}")
    badges = data.get("badges") or []
    if not isinstance(badges, list) or not all(isinstance(badge, dict) for badge in badges):
        raise MalformedEvent("user.badges must be a list of objects")
    counts = {name: (_int(data[name], f"user.{name}") if data.get(name) is not None else None)
              for name in ("follower_count", "following_count")}
    return Viewer(
        id=_int(data.get("id"), "user.id"),
        handle=_text(data.get("handle"), 64).lstrip("@"),
        nickname=_text(data.get("nickname"), 120),
        avatar=_text(data.get("avatar"), 1000) or None,
        badges=tuple({"scene": str(badge.get("scene", "")), "level": badge.get("level")} for badge in badges),
        moderator=bool(data.get("moderator")),
        subscriber=bool(data.get("subscriber")),
        follower=bool(data.get("follower")),
        **counts,
    )


def parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise MalformedEvent(f"time must be an ISO 8601 string, not {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedEvent(f"time {value!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise MalformedEvent(f"time {value!r} has no time zone")
    return moment.astimezone(UTC)


def parse_record(line: dict[str, Any] | str, account_id: int | None = None) -> EventRecord:
    """One record from its JSON form; raises `MalformedEvent` when a field cannot be read as its
    type. What the values may be is `check`'s to say, once, when the writer applies the record."""
    if isinstance(line, str):
        try:
            line = json.loads(line)
        except json.JSONDecodeError as error:
            raise MalformedEvent(f"not JSON: {error}") from None
    if not isinstance(line, dict):
        raise MalformedEvent("a record is a JSON object")
    kind = line.get("kind")
    if kind not in KINDS:
        raise MalformedEvent(f"unknown kind {kind!r}")
    message_id = line.get("id")
    if not isinstance(message_id, str | int) or isinstance(message_id, bool) or not str(message_id):
        raise MalformedEvent("id (the message id) is required")
    user = parse_viewer(line.get("user")) if kind in VIEWER_KINDS else None
    data: dict[str, Any] = {}
    if kind == "comment":
        data["text"] = _text(line.get("text"), 2000)
    elif kind == "gift":
        data = {
            "gift_id": _int(line.get("gift_id"), "gift_id"),
            "gift_name": _text(line.get("gift_name"), 80) or "Gift",
            "diamond_count": _int(line.get("diamond_count"), "diamond_count"),
            "repeat_count": _int(line.get("repeat_count", 1), "repeat_count"),
            "streaking": bool(line.get("streaking", False)),
        }
    elif kind == "like":
        data["count"] = _int(line.get("count", 1), "count")
    elif kind == "viewers":
        top = line.get("top") or []
        if not isinstance(top, list):
            raise MalformedEvent("top must be a list of users")
        data = {"total": _int(line.get("total", 0), "total"), "top": [parse_viewer(user) for user in top]}
    room = line.get("room")
    return EventRecord(kind=kind, message_id=str(message_id)[:48], time=parse_time(line.get("time")),
                       room_id=str(room)[:32] if room else None, user=user, data=data, account_id=account_id)
