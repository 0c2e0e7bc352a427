"""Live shows: the seller's workflow (create, go live, pin, end, save or delete), the audience's
actions (react, comment), stats, and the timeline. Every action is one transaction; after it
commits, what changed is rendered once and published on the show's channels:

- `stream:<id>`: the public page (counts, chat, status, featured products). Public data only.
- `stream-seller:<id>`: the owner's stream interface (stats with revenue, viewer list with
  names, orders with buyers, comments with moderation controls).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db, utcnow
from models import (
    MAX_ID,
    REACTIONS,
    STREAM_SOURCES,
    LiveStream,
    Order,
    Product,
    SavedStream,
    Shop,
    StreamEvent,
    StreamInteraction,
    StreamMute,
    StreamOrder,
    StreamProduct,
    StreamViewer,
    TikTokAccount,
    User,
)
from realtime import publish
from realtime.channels import seller_channel, stream_channel
from realtime.fragments import render_oob
from services import video
from services.errors import FieldError, Forbidden, NotFound

COMMENT_MAX = 500


@dataclass(frozen=True)
class ShowDraft:
    title: str
    description: str
    scheduled_for: datetime | None
    playback_url: str | None
    product_ids: list[int]
    tiktok_account_id: int | None = None


@dataclass(frozen=True)
class StreamStats:
    current_viewers: int
    unique_viewers: int
    peak_viewers: int
    likes: int
    dislikes: int
    comments: int
    orders: int
    revenue_cents: int
    currency: str
    duration_seconds: int


# --- lookups -----------------------------------------------------------------------------------


def get_stream(stream_id: int) -> LiveStream:
    stream = db.session.get(LiveStream, stream_id)
    if stream is None:
        raise NotFound("There is no such show.")
    return stream


def public_stream(stream_id: int) -> LiveStream | None:
    """The show, if it exists and its seller has not deleted it."""
    stream = db.session.get(LiveStream, stream_id)
    return stream if stream is not None and stream.discarded_at is None else None


def get_public_stream(stream_id: int) -> LiveStream:
    """The show as the public sees it: a show its seller deleted is gone (NotFound), like no show."""
    stream = public_stream(stream_id)
    if stream is None:
        raise NotFound("There is no such show.")
    return stream


def credited_show(product_id: int, stream_id: int | None, source: str | None) -> tuple[int | None, str | None]:
    """The show (and how: "live" or "replay") a sale of the product may be credited to, or (None, None).

    Only a show of the product's shop that features it, and that is live, or saved (a replay), or
    ended a moment ago and not yet saved or deleted (a buyer still in checkout when the show
    ended). Anything else, an unknown id included, leaves the sale unattributed.
    """
    if stream_id is None or not 0 < stream_id <= MAX_ID:
        return None, None
    stream = public_stream(stream_id)
    featured = stream is not None and db.session.scalar(
        sa.select(StreamProduct.id).join(Product, Product.id == StreamProduct.product_id)
        .where(StreamProduct.stream_id == stream_id, StreamProduct.product_id == product_id,
               Product.shop_id == stream.shop_id)
    )
    if not featured:
        return None, None
    if stream.is_live or stream.awaiting_decision:
        return stream.id, "live"
    if stream.saved is not None:
        return stream.id, source if source in STREAM_SOURCES else "replay"
    return None, None


def owned_stream(user: User, stream_id: int) -> LiveStream:
    """The show if `user` owns it: 404 when it does not exist, 403 when it is someone else's."""
    stream = get_stream(stream_id)
    if not user.is_authenticated or user.shop is None or stream.shop_id != user.shop.id:
        raise Forbidden("This show belongs to another shop.")
    return stream


def live_shows_for_tiktok_accounts(account_ids: list[int]) -> dict[int, int]:
    """The show live right now with each of these TikTok accounts linked to it (the latest started,
    if several), with one statement: account id -> show id, for those that have one."""
    shows: dict[int, int] = {}
    for account_id, stream_id in db.session.execute(
        sa.select(LiveStream.tiktok_account_id, LiveStream.id)
        .where(LiveStream.tiktok_account_id.in_(account_ids), LiveStream.status == "live")
        .order_by(LiveStream.started_at)
    ):
        shows[account_id] = stream_id  # the latest started comes last
    return shows


def live_now() -> list[LiveStream]:
    query = sa.select(LiveStream).where(LiveStream.status == "live").order_by(LiveStream.started_at.desc())
    return list(db.session.scalars(query))


def watching_now(streams: list[LiveStream]) -> dict[int, int]:
    """How many people are watching each of `streams` right now (the figure the show page shows)."""
    ids = [stream.id for stream in streams]
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(StreamViewer.stream_id, sa.func.count())
        .where(StreamViewer.stream_id.in_(ids), StreamViewer.is_active)
        .group_by(StreamViewer.stream_id)
    ).all()
    return {stream_id: 0 for stream_id in ids} | dict(rows)


def listing() -> dict[str, object]:
    """What the live index and the home page list: shows live now (with who is watching), the
    upcoming ones and the replays."""
    now_live = live_now()
    return {"live_now": now_live, "watching": watching_now(now_live), "upcoming": upcoming(), "replays": replays()}


def upcoming() -> list[LiveStream]:
    query = (
        sa.select(LiveStream)
        .where(LiveStream.status == "scheduled")
        .order_by(LiveStream.scheduled_for.is_(None), LiveStream.scheduled_for, LiveStream.id)
    )
    return list(db.session.scalars(query))


def replays(limit: int = 24) -> list[SavedStream]:
    return list(db.session.scalars(sa.select(SavedStream).order_by(SavedStream.saved_at.desc()).limit(limit)))


def shop_shows(shop: Shop) -> list[LiveStream]:
    query = sa.select(LiveStream).where(LiveStream.shop_id == shop.id).order_by(LiveStream.created_at.desc())
    return list(db.session.scalars(query))


def comments(stream: LiveStream, limit: int | None = 100) -> list[StreamInteraction]:
    """Visible comments in the order they were posted (the latest `limit` of them)."""
    query = (
        sa.select(StreamInteraction)
        .where(
            StreamInteraction.stream_id == stream.id,
            StreamInteraction.interaction_type == "comment",
            StreamInteraction.deleted_at.is_(None),
        )
        .order_by(StreamInteraction.created_at.desc(), StreamInteraction.id.desc())
    )
    if limit:
        query = query.limit(limit)
    return list(reversed(db.session.scalars(query).all()))


def active_viewers(stream: LiveStream, limit: int = 200) -> list[StreamViewer]:
    """Who is watching, newest first (the seller's list shows the latest `limit`)."""
    query = (
        sa.select(StreamViewer)
        .where(StreamViewer.stream_id == stream.id, StreamViewer.is_active)
        .order_by(StreamViewer.last_seen_at.desc(), StreamViewer.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def stream_orders(stream: LiveStream, limit: int = 50) -> list[Order]:
    query = (
        sa.select(Order)
        .where(Order.id.in_(sa.select(StreamOrder.order_id).where(StreamOrder.stream_id == stream.id)))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def reaction_of(stream: LiveStream, user: User) -> str | None:
    if not user.is_authenticated:
        return None
    return db.session.scalar(
        sa.select(StreamInteraction.interaction_type).where(
            StreamInteraction.stream_id == stream.id,
            StreamInteraction.user_id == user.id,
            StreamInteraction.interaction_type.in_(REACTIONS),
        )
    )


def stats(stream: LiveStream, now: datetime | None = None) -> StreamStats:
    counts = dict(
        db.session.execute(
            sa.select(StreamInteraction.interaction_type, sa.func.count())
            .where(StreamInteraction.stream_id == stream.id, StreamInteraction.deleted_at.is_(None))
            .group_by(StreamInteraction.interaction_type)
        ).all()
    )
    paid = sa.select(Order.id).where(Order.status == "paid")
    orders_count, revenue = db.session.execute(
        sa.select(
            sa.func.count(sa.distinct(StreamOrder.order_id)),
            sa.func.coalesce(sa.func.sum(StreamOrder.amount_cents), 0),
        ).where(StreamOrder.stream_id == stream.id, StreamOrder.order_id.in_(paid))
    ).one()
    currency = db.session.scalar(
        sa.select(Order.currency).join(StreamOrder, StreamOrder.order_id == Order.id)
        .where(StreamOrder.stream_id == stream.id).limit(1)
    ) or "USD"
    current = db.session.scalar(
        sa.select(sa.func.count()).select_from(StreamViewer)
        .where(StreamViewer.stream_id == stream.id, StreamViewer.is_active)
    )
    return StreamStats(
        current_viewers=current or 0,
        unique_viewers=stream.unique_viewers,
        peak_viewers=stream.peak_viewers,
        likes=counts.get("like", 0),
        dislikes=counts.get("dislike", 0),
        comments=counts.get("comment", 0),
        orders=orders_count,
        revenue_cents=revenue,
        currency=currency,
        duration_seconds=stream.duration_seconds(now),
    )


# --- timeline ----------------------------------------------------------------------------------


def record_event(stream: LiveStream, kind: str, now: datetime | None = None, **data: object) -> None:
    """Append to the show's timeline (inside the caller's transaction)."""
    now = now or utcnow()
    offset = int((now - stream.started_at).total_seconds()) if stream.started_at else 0
    db.session.add(StreamEvent(stream_id=stream.id, kind=kind, offset_seconds=offset, data=json.dumps(data),
                               created_at=now))


# --- the seller's workflow ---------------------------------------------------------------------


def create_show(shop: Shop, draft: ShowDraft) -> LiveStream:
    """A new show, scheduled (or ready to go live now), featuring products of the seller's own shop."""
    products = db.session.scalars(sa.select(Product).where(Product.id.in_(draft.product_ids))).all()
    if len(products) != len(set(draft.product_ids)) or any(p.shop_id != shop.id for p in products):
        raise FieldError("product_ids", "Feature products from your own shop only.")
    if draft.tiktok_account_id is not None:
        account = db.session.get(TikTokAccount, draft.tiktok_account_id)
        if account is None or account.owner_id != shop.owner_id:
            raise FieldError("tiktok_account_id", "Choose one of your own linked TikTok accounts.")
    stream = LiveStream(
        shop=shop, title=draft.title.strip(), description=draft.description.strip(),
        scheduled_for=draft.scheduled_for, playback_url=draft.playback_url or None,
        tiktok_account_id=draft.tiktok_account_id,
    )
    order = {product_id: position for position, product_id in enumerate(draft.product_ids)}
    for product in sorted(products, key=lambda p: order[p.id]):
        stream.featured.append(StreamProduct(product=product, position=order[product.id]))
    db.session.add(stream)
    db.session.flush()
    record_event(stream, "created", title=stream.title)
    db.session.commit()
    return stream


def go_live(stream: LiveStream, now: datetime | None = None) -> LiveStream:
    if stream.status != "scheduled":
        raise FieldError("status", "Only a scheduled show can go live.")
    now = now or utcnow()
    stream.status, stream.started_at = "live", now
    record_event(stream, "went_live", now)
    db.session.commit()
    publish_status(stream)
    return stream


def end_show(stream: LiveStream, now: datetime | None = None) -> LiveStream:
    """End a live (or never started) show; the seller then saves or deletes it."""
    if stream.status == "ended":
        raise FieldError("status", "This show has already ended.")
    now = now or utcnow()
    stream.status, stream.ended_at = "ended", now
    stream.started_at = stream.started_at or now
    db.session.execute(
        sa.update(StreamViewer)
        .where(StreamViewer.stream_id == stream.id, StreamViewer.is_active)
        .values(is_active=False, left_at=now, open_sockets=0)
    )
    record_event(stream, "ended", now)
    db.session.commit()
    publish_status(stream)
    return stream


def save_show(stream: LiveStream, now: datetime | None = None) -> SavedStream:
    """Keep the ended show as a shoppable replay, with its final stats."""
    if not stream.awaiting_decision:
        raise FieldError("status", "Only an ended show that was not saved or deleted can be saved.")
    video.finish_recording(stream)
    final = stats(stream)
    saved = SavedStream(
        stream=stream, shop_id=stream.shop_id, title=stream.title, video_url=stream.playback_url,
        duration_seconds=final.duration_seconds, streamed_at=stream.started_at or stream.created_at,
        saved_at=now or utcnow(), unique_viewers=final.unique_viewers, peak_viewers=final.peak_viewers,
        likes=final.likes, dislikes=final.dislikes, comments=final.comments, orders=final.orders,
        revenue_cents=final.revenue_cents,
    )
    db.session.add(saved)
    record_event(stream, "saved", now)
    db.session.commit()
    publish_status(stream)
    return saved


def delete_show(stream: LiveStream, now: datetime | None = None) -> None:
    """End without a replay: presence rows go, orders stay (they are the buyers' and the shop's)."""
    if not stream.awaiting_decision:
        raise FieldError("status", "Only an ended show that was not saved or deleted can be deleted.")
    stream.discarded_at = now or utcnow()
    video.delete_media(stream)
    db.session.execute(sa.delete(StreamViewer).where(StreamViewer.stream_id == stream.id))
    record_event(stream, "deleted", now)
    db.session.commit()
    # The seller's other open consoles lose their Save and Delete buttons too.
    publish_status(stream)


def pin_product(stream: LiveStream, product_id: int | None, now: datetime | None = None) -> LiveStream:
    """Pin one featured product (or none); the public page shows it first, highlighted."""
    featured_ids = {item.product_id for item in stream.featured}
    if product_id is not None and product_id not in featured_ids:
        raise FieldError("product_id", "Pin one of this show's featured products.")
    for item in stream.featured:
        item.is_pinned = item.product_id == product_id
    record_event(stream, "pinned", now, product_id=product_id)
    db.session.commit()
    publish_products(stream)
    return stream


# --- the audience ------------------------------------------------------------------------------


def react(stream: LiveStream, user: User, kind: str, now: datetime | None = None) -> str | None:
    """Like or dislike: one reaction per person; the same again removes it, the other switches it.
    Returns the person's reaction afterwards."""
    if kind not in REACTIONS:
        raise NotFound("There is no such reaction.")
    if stream.status == "ended":
        raise FieldError("reaction", "This show has ended.")
    for attempt in range(2):
        existing = db.session.scalar(
            sa.select(StreamInteraction).where(
                StreamInteraction.stream_id == stream.id, StreamInteraction.user_id == user.id,
                StreamInteraction.interaction_type.in_(REACTIONS),
            )
        )
        if existing is None:
            db.session.add(StreamInteraction(stream_id=stream.id, user_id=user.id, interaction_type=kind,
                                             created_at=now or utcnow()))
            result = kind
        elif existing.interaction_type == kind:
            db.session.delete(existing)
            result = None
        else:
            existing.interaction_type = kind
            result = kind
        record_event(stream, "reaction", now, reaction=result, previous=existing and existing.interaction_type)
        try:
            db.session.commit()
            break
        except IntegrityError:
            # The same person's other tab reacted at the same moment; apply ours on top of theirs.
            db.session.rollback()
            if attempt:
                raise
    publish_counts(stream)
    return result


def is_muted(stream: LiveStream, user: User) -> bool:
    return bool(db.session.scalar(
        sa.select(StreamMute.id).where(StreamMute.stream_id == stream.id, StreamMute.user_id == user.id)
    ))


def post_comment(stream: LiveStream, user: User, text: str, now: datetime | None = None) -> StreamInteraction:
    text = (text or "").strip()
    if not text:
        raise FieldError("comment", "Write something first.")
    if len(text) > COMMENT_MAX:
        raise FieldError("comment", f"A comment has at most {COMMENT_MAX} characters (this one has {len(text)}).")
    if stream.status != "live":
        raise FieldError("comment", "The chat is open while the show is live.")
    if is_muted(stream, user):
        raise FieldError("comment", "The seller has muted you in this show.")
    comment = StreamInteraction(stream_id=stream.id, user=user, interaction_type="comment", comment_text=text,
                                created_at=now or utcnow())
    db.session.add(comment)
    db.session.flush()
    record_event(stream, "comment", now, comment_id=comment.id, user_id=user.id)
    db.session.commit()
    publish(stream_channel(stream.id), render_oob("live/_chat_line.html", stream=stream, comment=comment))
    publish(seller_channel(stream.id), render_oob("shows/_comment_line.html", stream=stream, comment=comment)
            + _seller_stats_html(stream))
    return comment


def delete_comment(stream: LiveStream, comment_id: int) -> None:
    comment = db.session.scalar(
        sa.select(StreamInteraction).where(StreamInteraction.id == comment_id,
                                           StreamInteraction.stream_id == stream.id,
                                           StreamInteraction.interaction_type == "comment")
    )
    if comment is None:
        raise NotFound("There is no such comment.")
    comment.deleted_at = utcnow()
    record_event(stream, "comment_deleted", comment_id=comment_id)
    db.session.commit()
    removal = f'<div id="comment-{comment_id}" hx-swap-oob="delete"></div>'
    publish(stream_channel(stream.id), removal)
    publish(seller_channel(stream.id),
            f'<div id="feed-comment-{comment_id}" hx-swap-oob="delete"></div>' + _seller_stats_html(stream))


def mute_user(stream: LiveStream, user_id: int) -> None:
    if user_id == stream.shop.owner_id:
        raise FieldError("user", "You cannot mute yourself.")
    if db.session.get(User, user_id) is None:
        raise NotFound("There is no such user.")
    if not db.session.scalar(sa.select(StreamMute.id).where(StreamMute.stream_id == stream.id,
                                                            StreamMute.user_id == user_id)):
        db.session.add(StreamMute(stream_id=stream.id, user_id=user_id))
        record_event(stream, "muted", user_id=user_id)
        db.session.commit()


def announce_orders(orders: list[Order]) -> None:
    """After checkout: orders bought from a show reach its timeline, the seller's feeds and stats,
    and the public page's stock levels."""
    stream_ids = sorted({item.stream_id for order in orders for item in order.items if item.stream_id})
    for stream_id in stream_ids:
        stream = db.session.get(LiveStream, stream_id)
        if stream is None:
            continue
        for order in orders:
            if any(item.stream_id == stream_id for item in order.items):
                # At the order's own time: the replay marks it where it happened in the video.
                record_event(stream, "order", order.created_at, order_id=order.id, total_cents=order.total_cents)
        db.session.commit()
        publish_products(stream)
        publish(seller_channel(stream.id), render_oob("shows/_orders_feed.html", stream=stream,
                                                         orders=stream_orders(stream)) + _seller_stats_html(stream))


# --- publishing --------------------------------------------------------------------------------


def _seller_stats_html(stream: LiveStream) -> str:
    return render_oob("shows/_stats.html", stream=stream, stats=stats(stream))


def publish_counts(stream: LiveStream) -> None:
    current = stats(stream)
    publish(stream_channel(stream.id), render_oob("live/_counts.html", stream=stream, stats=current))
    publish(seller_channel(stream.id), render_oob("shows/_stats.html", stream=stream, stats=current))


def publish_products(stream: LiveStream) -> None:
    """Push the show's products (what is pinned, what is left) to its viewers and its seller, with
    the seller's product pickers, so that none of them offers units that have gone."""
    publish(stream_channel(stream.id), render_oob("live/_products.html", stream=stream)
            + render_oob("live/_pinned.html", stream=stream))
    publish(seller_channel(stream.id), render_oob("shows/_featured.html", stream=stream))
    # A control showing a running sale, auction or giveaway has no picker: selling.js drops the
    # picker's push on such a page (data-push-if-present).
    for control in ("flash", "auction", "giveaway"):
        publish(seller_channel(stream.id), render_oob("shows/_product_picker.html", stream=stream, control=control,
                                                          picker_oob=True))


def publish_status(stream: LiveStream) -> None:
    current = stats(stream)
    publish(stream_channel(stream.id), render_oob("live/_status.html", stream=stream)
            + render_oob("live/_counts.html", stream=stream, stats=current)
            + render_oob("live/_comment_form_oob.html", stream=stream))
    publish(seller_channel(stream.id), render_oob("shows/_controls.html", stream=stream, stats=current)
            + render_oob("shows/_stats.html", stream=stream, stats=current))


def publish_presence(stream: LiveStream) -> None:
    current = stats(stream)
    publish(stream_channel(stream.id), render_oob("live/_counts.html", stream=stream, stats=current))
    publish(seller_channel(stream.id), render_oob("shows/_stats.html", stream=stream, stats=current)
            + render_oob("shows/_viewer_list.html", stream=stream, viewers=active_viewers(stream), stats=current))
