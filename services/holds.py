"""Holds and the waitlist.

A product put in a cart from a live show is held: its units leave stock at once, for this buyer
alone, until `held_until`. Checkout consumes the hold (the units were already taken); an expired
hold, a removed line or a lowered quantity releases units, and released units go to the product's
waitlist first (one unit each, with a hold of their own), the rest back on sale. Every change is
inside the caller's transaction; `publish_changes` pushes what changed once it has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from extensions import db, utcnow
from models import Cart, CartItem, LiveStream, Product, SellingSettings, User, WaitlistEntry
from services.errors import FieldError, NotFound

DEFAULT_HOLD_MINUTES = 10
DEFAULT_CLAIM_WORD = "sold"


@dataclass
class Changes:
    """Who and what to tell once the transaction commits."""

    user_ids: set[int] = field(default_factory=set)
    stream_ids: set[int] = field(default_factory=set)
    #: (user id, product title) for shoppers whose waitlist turn came.
    served: list[tuple[int, str]] = field(default_factory=list)

    def merge(self, other: Changes) -> Changes:
        self.user_ids |= other.user_ids
        self.stream_ids |= other.stream_ids
        self.served += other.served
        return self


# --- settings ------------------------------------------------------------------------------------


def settings(stream_id: int) -> SellingSettings:
    """The show's selling settings (defaults until the seller changes them)."""
    found = db.session.get(SellingSettings, stream_id)
    return found or SellingSettings(stream_id=stream_id, hold_minutes=DEFAULT_HOLD_MINUTES,
                                    claim_word=DEFAULT_CLAIM_WORD)


def update_settings(stream: LiveStream, hold_minutes: int, claim_word: str) -> SellingSettings:
    if not 1 <= hold_minutes <= 120:
        raise FieldError("hold_minutes", "Hold a cart for 1 to 120 minutes.")
    word = (claim_word or "").strip().casefold()
    if not word.isalnum() or len(word) > 20:
        raise FieldError("claim_word", "The claim word is one word of letters and digits, up to 20.")
    found = db.session.get(SellingSettings, stream.id)
    if found is None:
        found = SellingSettings(stream_id=stream.id)
        db.session.add(found)
    found.hold_minutes, found.claim_word = hold_minutes, word
    db.session.commit()
    return found


def hold_minutes_for(stream_id: int | None, source: str | None) -> int | None:
    """Minutes to hold a line added from this show, or None when it is not held (no show, a
    replay, or a show that is not live)."""
    if stream_id is None or source not in (None, "live"):
        return None
    status = db.session.scalar(sa.select(LiveStream.status).where(LiveStream.id == stream_id))
    return settings(stream_id).hold_minutes if status == "live" else None


# --- stock ---------------------------------------------------------------------------------------


def take_stock(product_id: int, quantity: int) -> bool:
    """Take `quantity` units off sale (never below zero); False when there are not that many."""
    taken = db.session.execute(
        sa.update(Product)
        .where(Product.id == product_id, Product.is_active, Product.stock >= quantity)
        .values(stock=Product.stock - quantity)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


def available(product_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.case((Product.is_active, Product.stock), else_=0)).where(Product.id == product_id)
    ) or 0


def hold_line(item: CartItem, quantity: int, minutes: int, now: datetime | None = None) -> None:
    """Hold `quantity` more units for the line (taken from stock now); the hold keeps its first
    expiry, so adding again cannot stretch it."""
    product_id = item.product.id if item.product is not None else item.product_id
    if not take_stock(product_id, quantity):
        left = available(product_id)
        title = item.product.title if item.product else "this product"
        raise FieldError("quantity", f"“{title}” is sold out." if left <= 0 else f"Only {left} of “{title}” left.")
    item.held_until = item.held_until or (now or utcnow()) + timedelta(minutes=minutes)


def release_units(product_id: int, quantity: int, stream_id: int | None, now: datetime | None = None) -> Changes:
    """Put `quantity` units back: the waitlist first (one unit each, held), the rest on sale."""
    now = now or utcnow()
    changes = Changes()
    if stream_id is not None:
        changes.stream_ids.add(stream_id)
    left = quantity
    while left > 0:
        entry = db.session.scalar(
            sa.select(WaitlistEntry).where(WaitlistEntry.product_id == product_id, WaitlistEntry.served_at.is_(None))
            .order_by(WaitlistEntry.id).limit(1)
        )
        if entry is None:
            break
        served = db.session.execute(
            sa.update(WaitlistEntry).where(WaitlistEntry.id == entry.id, WaitlistEntry.served_at.is_(None))
            .values(served_at=now).execution_options(synchronize_session=False)
        )
        if served.rowcount != 1:
            continue
        product = db.session.get(Product, product_id)
        _hold_one_for(entry, product, now)
        changes.user_ids.add(entry.user_id)
        changes.served.append((entry.user_id, product.title))
        if entry.stream_id is not None:
            changes.stream_ids.add(entry.stream_id)
        left -= 1
    if left:
        db.session.execute(
            sa.update(Product).where(Product.id == product_id).values(stock=Product.stock + left)
            .execution_options(synchronize_session=False)
        )
    return changes


def _hold_one_for(entry: WaitlistEntry, product: Product, now: datetime) -> None:
    cart = db.session.scalar(sa.select(Cart).where(Cart.user_id == entry.user_id))
    if cart is None:
        cart = Cart(user_id=entry.user_id)
        db.session.add(cart)
        db.session.flush()
    minutes = settings(entry.stream_id).hold_minutes if entry.stream_id else DEFAULT_HOLD_MINUTES
    item = db.session.scalar(sa.select(CartItem).where(CartItem.cart_id == cart.id, CartItem.product_id == product.id))
    if item is None:
        db.session.add(CartItem(cart_id=cart.id, product_id=product.id, quantity=1, stream_id=entry.stream_id,
                                stream_source="live" if entry.stream_id else None,
                                held_until=now + timedelta(minutes=minutes)))
    elif item.held_until is not None:
        item.quantity += 1
    else:
        # An old line whose hold ran out: the unit the shopper waited for is what it now holds.
        item.quantity, item.held_until = 1, now + timedelta(minutes=minutes)


def consume_hold(cart_item_id: int) -> bool:
    """At checkout: True when the line was held (its units are already off sale), and ends the hold."""
    consumed = db.session.execute(
        sa.update(CartItem).where(CartItem.id == cart_item_id, CartItem.held_until.is_not(None))
        .values(held_until=None).execution_options(synchronize_session=False)
    )
    return consumed.rowcount == 1


def release_line(item: CartItem, quantity: int | None = None, now: datetime | None = None) -> Changes:
    """Release a held line's units (all, or `quantity` of them) inside the caller's transaction."""
    if item.held_until is None:
        return Changes()
    return release_units(item.product_id, item.quantity if quantity is None else quantity, item.stream_id, now)


def expire_holds(now: datetime | None = None) -> Changes:
    """Release every hold that has run out, and commit. Safe to run in several processes at once:
    each hold is ended by a conditional update that only one of them wins (and checkout, which
    consumes a hold the same way, either wins before or finds it gone)."""
    now = now or utcnow()
    changes = Changes()
    expired = db.session.execute(
        sa.select(CartItem.id, CartItem.product_id, CartItem.quantity, CartItem.stream_id, Cart.user_id)
        .join(Cart).where(CartItem.held_until.is_not(None), CartItem.held_until <= now)
        .order_by(CartItem.held_until).limit(500)
    ).all()
    for row in expired:
        ended = db.session.execute(
            sa.update(CartItem).where(CartItem.id == row.id, CartItem.held_until.is_not(None),
                                      CartItem.held_until <= now)
            .values(held_until=None).execution_options(synchronize_session=False)
        )
        if ended.rowcount != 1:
            continue
        changes.user_ids.add(row.user_id)
        changes.merge(release_units(row.product_id, row.quantity, row.stream_id, now))
    db.session.commit()
    return changes


# --- the waitlist ----------------------------------------------------------------------------------


def join_waitlist(user: User, product: Product, stream_id: int | None = None) -> WaitlistEntry:
    """Wait for a sold-out product; joining twice keeps the first place in the queue."""
    if product.is_buyable:
        raise FieldError("waitlist", f"“{product.title}” is in stock: add it to your cart instead.")
    if not product.is_active:
        raise NotFound("There is no such product.")
    existing = waiting_entry(user, product.id)
    if existing is not None:
        return existing
    entry = WaitlistEntry(user_id=user.id, product_id=product.id, stream_id=stream_id)
    db.session.add(entry)
    db.session.commit()
    return entry


def waiting_entry(user: User, product_id: int) -> WaitlistEntry | None:
    if not user.is_authenticated:
        return None
    return db.session.scalar(sa.select(WaitlistEntry).where(
        WaitlistEntry.user_id == user.id, WaitlistEntry.product_id == product_id, WaitlistEntry.served_at.is_(None)))


def leave_waitlist(user: User, product_id: int) -> None:
    entry = waiting_entry(user, product_id)
    if entry is not None:
        db.session.delete(entry)
        db.session.commit()


def waitlist_position(user: User, product_id: int) -> int | None:
    entry = waiting_entry(user, product_id)
    if entry is None:
        return None
    return db.session.scalar(sa.select(sa.func.count()).select_from(WaitlistEntry).where(
        WaitlistEntry.product_id == product_id, WaitlistEntry.served_at.is_(None), WaitlistEntry.id <= entry.id))


def held_lines(user: User) -> list[CartItem]:
    """The user's held cart lines, soonest to expire first (their timers)."""
    return list(db.session.scalars(
        sa.select(CartItem).join(Cart).where(Cart.user_id == user.id, CartItem.held_until.is_not(None))
        .order_by(CartItem.held_until)
    ))


# --- publishing ------------------------------------------------------------------------------------


def publish_changes(changes: Changes) -> None:
    """After the commit: each shopper's cart badge and hold timers, each show's stock."""
    from realtime import publish
    from realtime.channels import user_channel
    from realtime.fragments import render_oob
    from services import cart as carts
    from services import live

    for user_id in sorted(changes.user_ids):
        user = db.session.get(User, user_id)
        if user is None:
            continue
        carts.publish_cart_badge(user)
        publish(user_channel(user_id), render_oob("live/_holds.html", holds=held_lines(user), now=utcnow()))
    for stream_id in sorted(changes.stream_ids):
        stream = db.session.get(LiveStream, stream_id)
        if stream is not None:
            live.publish_products(stream)
