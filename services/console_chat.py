"""The seller's console chat: the site's chat and, when the show is linked to the seller's TikTok
account, that account's LIVE chat and gifts in one feed, each line saying where it came from.

The TikTok lines are read from what the ingester stores (comments and completed gifts since the
show went live), so the console shows the same after a reload or a poll; while the socket is up
the ingester pushes each batch's new lines as they are committed (ingest/publish.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from extensions import db
from models import LiveStream, StreamInteraction, ViewerGift, ViewerInteraction, ViewerProfile
from services.studio_activity import gift_text

#: The console shows at most this many of the latest lines of each source.
FEED_LIMIT = 50


@dataclass(frozen=True)
class TikTokLine:
    """A comment or a gift in the linked TikTok LIVE."""

    key: str  # unique in the page: the line's id is feed-tiktok-<key>
    at: datetime
    kind: str  # comment or gift
    handle: str
    nickname: str
    text: str


@dataclass(frozen=True)
class FeedLine:
    """One line of the console's chat: a site comment or a TikTok line."""

    at: datetime
    source: str  # site or tiktok
    comment: StreamInteraction | None = None
    tiktok: TikTokLine | None = None


def console_feed(stream: LiveStream, site_comments: list[StreamInteraction]) -> list[FeedLine]:
    """The latest FEED_LIMIT lines of the site's comments (the latest FEED_LIMIT of them given)
    merged in time order with the linked TikTok LIVE's comments and gifts."""
    lines = [FeedLine(comment.created_at, "site", comment=comment) for comment in site_comments]
    lines += [FeedLine(line.at, "tiktok", tiktok=line) for line in _stored_tiktok_lines(stream)]
    lines.sort(key=lambda line: line.at)
    # Each source gave its latest FEED_LIMIT, so the merged latest FEED_LIMIT are exact; beyond
    # them a sparse source (gifts) would reach back further than a busy one (comments).
    return lines[-FEED_LIMIT:]


def _stored_tiktok_lines(stream: LiveStream) -> list[TikTokLine]:
    if stream.tiktok_account_id is None or stream.started_at is None:
        return []
    since, until = stream.started_at, stream.ended_at
    comments = (
        sa.select(ViewerInteraction.id, ViewerInteraction.occurred_at, ViewerInteraction.content,
                  ViewerProfile.handle, ViewerProfile.nickname)
        .join(ViewerProfile, ViewerProfile.id == ViewerInteraction.viewer_id)
        .where(ViewerInteraction.account_id == stream.tiktok_account_id, ViewerInteraction.kind == "comment",
               ViewerInteraction.occurred_at >= since, ViewerProfile.is_blocked.is_(False))
        .order_by(ViewerInteraction.occurred_at.desc(), ViewerInteraction.id.desc()).limit(FEED_LIMIT)
    )
    gifts = (
        sa.select(ViewerGift.id, ViewerGift.sent_at, ViewerGift.gift_name, ViewerGift.quantity, ViewerGift.coins,
                  ViewerProfile.handle, ViewerProfile.nickname)
        .join(ViewerProfile, ViewerProfile.id == ViewerGift.viewer_id)
        .where(ViewerGift.account_id == stream.tiktok_account_id, ViewerGift.sent_at >= since,
               ViewerProfile.is_blocked.is_(False))
        .order_by(ViewerGift.sent_at.desc(), ViewerGift.id.desc()).limit(FEED_LIMIT)
    )
    if until is not None:
        comments = comments.where(ViewerInteraction.occurred_at <= until)
        gifts = gifts.where(ViewerGift.sent_at <= until)
    lines = [TikTokLine(f"c{row_id}", at, "comment", handle, nickname or handle, content or "")
             for row_id, at, content, handle, nickname in db.session.execute(comments)]
    lines += [TikTokLine(f"g{row_id}", at, "gift", handle, nickname or handle, gift_text(name, quantity, coins))
              for row_id, at, name, quantity, coins, handle, nickname in db.session.execute(gifts)]
    return lines
