"""Exports: the viewer table's current view as CSV or JSON records, and everything stored about
one viewer (a data-subject request). Columns: docs/studio.md."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from extensions import db
from models import (
    TikTokAccount,
    User,
    ViewerActivity,
    ViewerGift,
    ViewerInteraction,
    ViewerProfile,
    ViewerSession,
    VipTier,
)
from services.studio import ViewerQuery, linked_orders, matching_viewers
from services.vip import account_tiers

#: The documented export columns (docs/studio.md), in order.
EXPORT_COLUMNS = (
    "tiktok_user_id", "handle", "display_name", "vip_tier", "vip_locked", "vip_since", "first_seen_at",
    "last_seen_at", "visits", "watchtime_seconds", "coins", "gifts", "comments", "likes", "shares",
    "follows", "birthday", "tts_voice", "discord_username", "tags", "notes", "favorite", "moderator",
    "blocked", "linked_customer",
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def birthday_text(viewer: ViewerProfile) -> str:
    """ISO date, or --MM-DD when the year is unknown (ISO 8601's form for a day without a year)."""
    if viewer.birthday_month is None or viewer.birthday_day is None:
        return ""
    if viewer.birthday_year:
        return f"{viewer.birthday_year:04d}-{viewer.birthday_month:02d}-{viewer.birthday_day:02d}"
    return f"--{viewer.birthday_month:02d}-{viewer.birthday_day:02d}"


def export_record(viewer: ViewerProfile, tiers: Mapping[int, VipTier], linked: Mapping[int, str]) -> dict[str, Any]:
    tier = tiers.get(viewer.vip_tier_id) if viewer.vip_tier_id else None
    return {
        "tiktok_user_id": viewer.tiktok_user_id, "handle": viewer.handle, "display_name": viewer.nickname,
        "vip_tier": tier.name if tier else "", "vip_locked": viewer.vip_source == "manual",
        "vip_since": _iso(viewer.vip_since), "first_seen_at": _iso(viewer.first_seen_at),
        "last_seen_at": _iso(viewer.last_seen_at), "visits": viewer.total_visits,
        "watchtime_seconds": viewer.total_watch_seconds, "coins": viewer.total_coins, "gifts": viewer.total_gifts,
        "comments": viewer.total_comments, "likes": viewer.total_likes, "shares": viewer.total_shares,
        "follows": viewer.follows_streamer, "birthday": birthday_text(viewer), "tts_voice": viewer.tts_voice or "",
        "discord_username": viewer.discord_username or "", "tags": list(viewer.tags or []), "notes": viewer.notes,
        "favorite": viewer.is_favorite, "moderator": viewer.is_moderator, "blocked": viewer.is_blocked,
        "linked_customer": linked.get(viewer.linked_user_id, "") if viewer.linked_user_id else "",
    }


def export_records(account: TikTokAccount, query: ViewerQuery, now: datetime) -> Iterator[dict[str, Any]]:
    """Every viewer of the current search and filter, in the current sort, streamed in chunks."""
    tiers = {tier.id: tier for tier in account_tiers(account.id)}
    linked = {user_id: username for user_id, username in db.session.execute(
        sa.select(User.id, User.username).join(ViewerProfile, ViewerProfile.linked_user_id == User.id)
        .where(ViewerProfile.account_id == account.id))}
    statement = matching_viewers(account, query, now).execution_options(yield_per=1000)
    for viewer in db.session.scalars(statement):
        yield export_record(viewer, tiers, linked)


def neutralise(text: str) -> str:
    """A spreadsheet must not run a cell as a formula: prefix a quote to one that starts like one."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        value = ", ".join(value)
    return neutralise(str(value))


def csv_chunks(records: Iterable[dict[str, Any]], chunk_rows: int = 500) -> Iterator[str]:
    """RFC 4180 CSV (CRLF, quoted when needed, quotes doubled), header always first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for number, record in enumerate(records, start=1):
        writer.writerow([_csv_cell(record[column]) for column in EXPORT_COLUMNS])
        if number % chunk_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def viewer_everything(account: TikTokAccount, viewer: ViewerProfile) -> dict[str, Any]:
    """Everything stored about one viewer (a data-subject request), as plain JSON values."""
    def rows(model: Any, *order: Any) -> list[dict[str, Any]]:
        items = db.session.scalars(sa.select(model).where(model.viewer_id == viewer.id).order_by(*order))
        return [{column.key: _plain(getattr(item, column.key)) for column in model.__table__.columns}
                for item in items]

    tier = db.session.get(VipTier, viewer.vip_tier_id) if viewer.vip_tier_id else None
    profile = {column.key: _plain(getattr(viewer, column.key)) for column in ViewerProfile.__table__.columns}
    profile["vip_tier_name"] = tier.name if tier else None
    return {
        "account": account.handle,
        "profile": profile,
        "sessions": rows(ViewerSession, ViewerSession.started_at),
        "gifts": rows(ViewerGift, ViewerGift.sent_at),
        "interactions": rows(ViewerInteraction, ViewerInteraction.occurred_at),
        "heatmap": rows(ViewerActivity, ViewerActivity.weekday, ViewerActivity.hour),
        "orders": [{"id": order.id, "status": order.status, "currency": order.currency,
                    "total_cents": order.total_cents, "created_at": _iso(order.created_at)}
                   for order in linked_orders(account, viewer, limit=10_000)],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
