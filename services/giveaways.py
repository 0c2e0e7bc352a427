"""Giveaways: one unit of a featured product, given to an entrant drawn on the server.

Entry rules: logged in and present in the show (a viewer right now); optionally "commented in
this show" and "follows the shop" (the entrant's linked TikTok profile follows the show's TikTok
account). The draw is checkable by anyone: a random seed is chosen at the start and only its
SHA-256 is shown; at the draw the winner is entry number `draw_index(seed, entrant_ids)`, and the
seed and the entrant ids are published, so anyone can recompute both the hash and the winner.
The prize becomes a zero-priced order for the winner.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db, utcnow
from models import (
    MAX_ID,
    Giveaway,
    GiveawayEntry,
    LiveStream,
    Order,
    OrderItem,
    StreamInteraction,
    StreamOrder,
    StreamViewer,
    User,
    ViewerProfile,
)
from services import flash_sales, holds
from services.errors import FieldError, Forbidden, NotFound
from services.payments import payment_provider


def seed_hash(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def draw_index(seed: str, entrant_ids: list[int]) -> int:
    """The winner's position in `sorted(entrant_ids)`: SHA-256 of "seed:id,id,..." modulo the count."""
    ordered = sorted(entrant_ids)
    if not ordered:
        raise ValueError("nobody entered")
    digest = hashlib.sha256(f"{seed}:{','.join(map(str, ordered))}".encode()).hexdigest()
    return int(digest, 16) % len(ordered)


def get_giveaway(giveaway_id: int) -> Giveaway:
    giveaway = db.session.get(Giveaway, giveaway_id) if 0 < giveaway_id <= MAX_ID else None
    if giveaway is None:
        raise NotFound("There is no such giveaway.")
    return giveaway


def current_giveaway(stream_id: int) -> Giveaway | None:
    """The show's latest giveaway (open, or the last one drawn, to show its winner)."""
    return db.session.scalar(
        sa.select(Giveaway).where(Giveaway.stream_id == stream_id, Giveaway.status != "cancelled")
        .order_by(Giveaway.id.desc()).limit(1)
    )


def start_giveaway(stream: LiveStream, product_id: int, require_comment: bool = False,
                   require_follow: bool = False, now: datetime | None = None) -> Giveaway:
    from services import live

    now = now or utcnow()
    if stream.status != "live":
        raise FieldError("giveaway", "Start a giveaway while the show is live.")
    product = {item.product_id: item.product for item in stream.featured}.get(product_id)
    if product is None:
        raise FieldError("product_id", "Choose one of this show's featured products.")
    if require_follow and stream.tiktok_account_id is None:
        raise FieldError("require_follow", "“Follows the shop” needs the show linked to your TikTok account.")
    if db.session.scalar(sa.select(Giveaway.id).where(Giveaway.stream_id == stream.id, Giveaway.status == "open")):
        raise FieldError("giveaway", "Draw the current giveaway first.")
    if not holds.take_stock(product.id, 1):
        raise FieldError("product_id", flash_sales.sold_out(stream.id, product))
    seed = secrets.token_hex(32)
    giveaway = Giveaway(stream_id=stream.id, product_id=product.id, require_comment=require_comment,
                        require_follow=require_follow, seed=seed, seed_hash=seed_hash(seed), started_at=now)
    db.session.add(giveaway)
    db.session.flush()
    live.record_event(stream, "giveaway_started", now, giveaway_id=giveaway.id, product_id=product.id,
                      seed_hash=giveaway.seed_hash)
    db.session.commit()
    publish_giveaway(giveaway.id)
    live.publish_products(stream)
    return giveaway


def unmet_rules(giveaway: Giveaway, user: User) -> list[str]:
    """What `user` still lacks to enter (empty: eligible)."""
    if not user.is_authenticated:
        return ["Log in to enter."]
    stream = db.session.get(LiveStream, giveaway.stream_id)
    if stream.shop.owner_id == user.id:
        return ["You cannot enter your own giveaway."]
    missing = []
    present = db.session.scalar(sa.select(StreamViewer.id).where(
        StreamViewer.stream_id == stream.id, StreamViewer.user_id == user.id, StreamViewer.is_active))
    if not present:
        missing.append("Be watching the show.")
    if giveaway.require_comment and not db.session.scalar(sa.select(StreamInteraction.id).where(
            StreamInteraction.stream_id == stream.id, StreamInteraction.user_id == user.id,
            StreamInteraction.interaction_type == "comment", StreamInteraction.deleted_at.is_(None)).limit(1)):
        missing.append("Comment in the show.")
    if giveaway.require_follow and not db.session.scalar(sa.select(ViewerProfile.id).where(
            ViewerProfile.account_id == stream.tiktok_account_id, ViewerProfile.linked_user_id == user.id,
            ViewerProfile.follows_streamer).limit(1)):
        missing.append("Follow the shop on TikTok (with your TikTok linked).")
    return missing


def has_entered(giveaway: Giveaway, user: User) -> bool:
    return bool(user.is_authenticated and db.session.scalar(sa.select(GiveawayEntry.id).where(
        GiveawayEntry.giveaway_id == giveaway.id, GiveawayEntry.user_id == user.id)))


def enter(giveaway: Giveaway, user: User, now: datetime | None = None) -> GiveawayEntry:
    """Enter the giveaway (once; entering again changes nothing)."""
    if giveaway.status != "open":
        raise FieldError("giveaway", "This giveaway is closed.")
    missing = unmet_rules(giveaway, user)
    if missing:
        raise FieldError("giveaway", "To enter: " + " ".join(missing))
    existing = db.session.scalar(sa.select(GiveawayEntry).where(
        GiveawayEntry.giveaway_id == giveaway.id, GiveawayEntry.user_id == user.id))
    if existing is not None:
        return existing
    entry = GiveawayEntry(giveaway_id=giveaway.id, user_id=user.id, created_at=now or utcnow())
    db.session.add(entry)
    try:
        db.session.commit()
    except IntegrityError:  # the same person's other tab entered at the same moment
        db.session.rollback()
        return db.session.scalar(sa.select(GiveawayEntry).where(
            GiveawayEntry.giveaway_id == giveaway.id, GiveawayEntry.user_id == user.id))
    publish_giveaway(giveaway.id, count_only=True)
    return entry


def entrant_ids(giveaway: Giveaway) -> list[int]:
    return sorted(db.session.scalars(sa.select(GiveawayEntry.user_id).where(GiveawayEntry.giveaway_id == giveaway.id)))


def draw(giveaway: Giveaway, now: datetime | None = None) -> Giveaway:
    """Draw the winner (or, with no entrants, end it and put the prize back); publish the seed."""
    from services import live

    now = now or utcnow()
    drawn = db.session.execute(
        sa.update(Giveaway).where(Giveaway.id == giveaway.id, Giveaway.status == "open")
        .values(status="drawn", drawn_at=now).execution_options(synchronize_session=False)
    )
    if drawn.rowcount != 1:
        db.session.rollback()
        raise FieldError("giveaway", "This giveaway was already drawn.")
    db.session.refresh(giveaway)
    stream = db.session.get(LiveStream, giveaway.stream_id)
    entrants = entrant_ids(giveaway)
    order = None
    changes = holds.Changes(stream_ids={stream.id})
    if entrants:
        giveaway.winner_id = entrants[draw_index(giveaway.seed, entrants)]
        order = _prize_order(giveaway, stream)
        giveaway.order_id = order.id
    else:
        giveaway.status = "cancelled"
        changes = holds.release_units(giveaway.product_id, 1, stream.id, now)
    live.record_event(stream, "giveaway_drawn", now, giveaway_id=giveaway.id, winner_id=giveaway.winner_id,
                      seed=giveaway.seed, entrants=len(entrants))
    db.session.commit()
    publish_giveaway(giveaway.id)
    holds.publish_changes(changes)
    if order is not None:
        live.announce_orders([order])
    return giveaway


def _prize_order(giveaway: Giveaway, stream: LiveStream) -> Order:
    product = giveaway.product
    provider = payment_provider()
    order = Order(buyer_id=giveaway.winner_id, shop_id=product.shop_id, currency=product.currency, total_cents=0,
                  idempotency_key=f"giveaway:{giveaway.id}", payment_provider=provider.name)
    order.items.append(OrderItem(product_id=product.id, title=product.title, unit_price_cents=0, quantity=1,
                                 stream_id=stream.id))
    db.session.add(order)
    db.session.flush()
    db.session.add(StreamOrder(stream_id=stream.id, order_id=order.id, product_id=product.id, shop_id=product.shop_id,
                               amount_cents=0, source="live"))
    provider.charge(order)  # nothing to charge: the step marks it paid like any other order
    return order


def owned_giveaway(user: User, giveaway_id: int) -> Giveaway:
    giveaway = get_giveaway(giveaway_id)
    stream = db.session.get(LiveStream, giveaway.stream_id)
    if not user.is_authenticated or user.shop is None or stream.shop_id != user.shop.id:
        raise Forbidden("This giveaway belongs to another shop.")
    return giveaway


def publish_giveaway(giveaway_id: int, count_only: bool = False) -> None:
    """Push the giveaway panel (start, draw) or just its entry count (an entry) to everyone."""
    from realtime import publish
    from realtime.channels import seller_channel, stream_channel
    from realtime.fragments import render_oob

    giveaway = db.session.get(Giveaway, giveaway_id) if 0 < giveaway_id <= MAX_ID else None
    if giveaway is None:
        return
    stream = db.session.get(LiveStream, giveaway.stream_id)
    count = len(entrant_ids(giveaway))
    public = "live/_giveaway_count.html" if count_only else "live/_giveaway.html"
    publish(stream_channel(stream.id), render_oob(public, stream=stream, giveaway=giveaway, entries=count))
    publish(seller_channel(stream.id), render_oob("shows/_giveaway.html", stream=stream, giveaway=giveaway,
                                                  entries=count))
