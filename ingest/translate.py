"""TikTokLive events -> our event records. Nothing here touches the database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from ingest.records import EventRecord, Viewer


def _first_url(image: Any) -> str | None:
    urls = getattr(image, "url_list", None) or []
    return str(urls[0])[:1000] if urls else None


def _scene_name(scene: Any) -> str:
    name = getattr(scene, "name", None)
    if name:
        return str(name)
    try:
        from TikTokLiveProto.v3.webcast.model.data import BadgeSceneType

        return BadgeSceneType(int(scene)).name
    except (ValueError, TypeError, ImportError):
        return str(scene)


def viewer_from(user: Any, identity: Any = None) -> Viewer:
    """Read the user straight from the proto fields: TikTokLive 7.0.1's badge helpers read fields
    the v3 protos no longer have, so they always answer None (see the emulator notes)."""
    badges = []
    scenes = set()
    for badge in getattr(user, "badge_list", None) or []:
        scene = _scene_name(getattr(badge, "scene_type", 0))
        extra = getattr(badge, "privilege_log_extra", None)
        level = getattr(extra, "level", None) if extra is not None else None
        scenes.add(scene)
        badges.append({"scene": scene, "level": int(level) if level and str(level).isdigit() else None})
    follow_info = getattr(user, "follow_info", None)
    # A message is true when any field is set: asked once, it compares every field with its default.
    has_follow_info = bool(follow_info)
    return Viewer(
        id=int(user.id),
        handle=str(getattr(user, "display_id", "") or "")[:64],
        nickname=str(getattr(user, "nickname", "") or "")[:120],
        avatar=_first_url(getattr(user, "avatar_thumb", None)),
        badges=tuple(badges),
        moderator=bool(getattr(identity, "is_moderator_of_anchor", False)) or "ADMIN" in scenes,
        subscriber=bool(getattr(identity, "is_subscriber_of_anchor", False)) or "SUBSCRIBER" in scenes,
        follower=bool(getattr(identity, "is_follower_of_anchor", False))
        or int(getattr(follow_info, "follow_status", 0) or 0) >= 1,
        follower_count=int(getattr(follow_info, "follower_count", 0) or 0) if has_follow_info else None,
        following_count=int(getattr(follow_info, "following_count", 0) or 0) if has_follow_info else None,
    )


def _common(event: Any) -> tuple[str, datetime]:
    common = getattr(event, "common", None)
    message_id = str(getattr(common, "msg_id", 0) or "") or f"local-{uuid.uuid4().hex}"
    created = int(getattr(common, "create_time", 0) or 0)
    moment = datetime.fromtimestamp(created / 1000, UTC) if created else datetime.now(UTC)
    # TikTok's clock and ours differ a little; never record an event in the future.
    return message_id, min(moment, datetime.now(UTC))


def translate(kind: str, event: Any, account_id: int, room_id: str | None) -> EventRecord | None:
    """One TikTokLive event as our record (a streak tick too: see ingest/streaks.py)."""
    if kind in {"live_start", "live_end", "disconnect"}:
        return EventRecord(kind, f"{kind}-{uuid.uuid4().hex}", datetime.now(UTC), room_id, account_id=account_id)
    message_id, moment = _common(event)
    if kind == "viewers":
        top = [viewer_from(rank.user) for rank in (event.ranks or []) if getattr(rank, "user", None)]
        return EventRecord("viewers", message_id, moment, room_id, data={"total": int(event.total or 0), "top": top},
                           account_id=account_id)
    user = viewer_from(event.user, getattr(event, "user_identity", None))
    data: dict[str, Any] = {}
    if kind == "comment":
        data["text"] = str(event.comment or "")[:2000]
    elif kind == "gift":
        # B6: only a streak's end counts; its ticks go to the writer too, which remembers the streak
        # (counted at live end if the end never comes) and makes the viewer from the first tick.
        data = {"gift_id": int(event.gift.id or event.gift_id), "gift_name": str(event.gift.name or "Gift")[:80],
                "diamond_count": int(event.gift.diamond_count or 0),
                "repeat_count": int(event.repeat_count or 1),
                "streaking": bool(event.streaking)}
    elif kind == "like":
        data["count"] = int(event.count or 1)
    return EventRecord(kind, message_id, moment, room_id, user, data, account_id=account_id)
