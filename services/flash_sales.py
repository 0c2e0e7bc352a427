"""Flash sales: a sale price on a featured product for a number of units and a limited time.

Starting a sale reserves its units from stock. A purchase (services/checkout.py, "Buy now" at
the sale price) takes units from the sale with a conditional update that also locks the sale's
row, then checks the buyer's per-buyer limit against what they already bought in it, all inside
the order's transaction: concurrent buyers queue on that row, so neither the units nor a buyer's
limit can be overrun. When the time is up, the units are gone or the seller ends it, the sale
closes and its unsold units are released (the waitlist first, then back on sale).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from extensions import db, utcnow
from models import MAX_ID, FlashSale, LiveStream, Order, OrderItem, Product, User
from services import holds
from services.errors import FieldError, Invalid, NotFound
from services.money import format_money

MIN_SECONDS, MAX_SECONDS = 10, 30 * 60


class SaleRefused(Invalid):
    """A flash-sale purchase cannot go ahead (ended, sold out, or over the buyer's limit)."""


@dataclass(frozen=True)
class SaleDraft:
    product_id: int
    price_cents: int
    units: int
    duration_seconds: int
    per_buyer_limit: int


def get_sale(sale_id: int) -> FlashSale:
    sale = db.session.get(FlashSale, sale_id) if 0 < sale_id <= MAX_ID else None
    if sale is None:
        raise NotFound("There is no such flash sale.")
    return sale


def current_sale(stream_id: int) -> FlashSale | None:
    """The show's sale that has not closed yet (the one on screen), if any."""
    return db.session.scalar(
        sa.select(FlashSale).where(FlashSale.stream_id == stream_id, FlashSale.closed_at.is_(None))
        .order_by(FlashSale.id.desc()).limit(1)
    )


def last_sale(stream_id: int) -> FlashSale | None:
    """The show's latest sale, closed or not (its result stays on screen until the next)."""
    return db.session.scalar(sa.select(FlashSale).where(FlashSale.stream_id == stream_id)
                             .order_by(FlashSale.id.desc()).limit(1))


def start_sale(stream: LiveStream, draft: SaleDraft, now: datetime | None = None) -> FlashSale:
    """Start a sale on one of the show's featured products; its units leave stock for the sale."""
    from services import live

    now = now or utcnow()
    if stream.status != "live":
        raise FieldError("flash_sale", "Start a flash sale while the show is live.")
    featured = {item.product_id: item.product for item in stream.featured}
    product = featured.get(draft.product_id)
    if product is None:
        raise FieldError("product_id", "Choose one of this show's featured products.")
    if not MIN_SECONDS <= draft.duration_seconds <= MAX_SECONDS:
        raise FieldError("duration_seconds", "A flash sale lasts from 10 seconds to 30 minutes.")
    if not 0 < draft.price_cents < product.price_cents:
        raise FieldError("price", f"The sale price must be below the usual "
                                  f"{format_money(product.price_cents, product.currency)} (and above zero).")
    if draft.units < 1:
        raise FieldError("units", "Sell at least one unit.")
    if not 1 <= draft.per_buyer_limit <= draft.units:
        raise FieldError("per_buyer_limit", "The limit per buyer is from 1 to the number of units.")
    if current_sale(stream.id) is not None:
        raise FieldError("flash_sale", "End the current flash sale first.")
    if not holds.take_stock(product.id, draft.units):
        raise FieldError("units", f"Only {holds.available(product.id)} of “{product.title}” in stock.")
    sale = FlashSale(stream_id=stream.id, product_id=product.id, price_cents=draft.price_cents, units=draft.units,
                     per_buyer_limit=draft.per_buyer_limit, started_at=now,
                     ends_at=now + timedelta(seconds=draft.duration_seconds))
    db.session.add(sale)
    db.session.flush()
    live.record_event(stream, "flash_sale_started", now, flash_sale_id=sale.id, product_id=product.id,
                      price_cents=sale.price_cents, units=sale.units, per_buyer_limit=sale.per_buyer_limit,
                      ends_at=sale.ends_at.isoformat())
    db.session.commit()
    publish_sale(sale.id)
    live.publish_products(stream)
    return sale


def sold_out(stream_id: int, product: Product) -> str:
    """Why `product` cannot be auctioned or given away in the show: sold out, and whether it is
    because the show's running flash sale holds its units."""
    sale = current_sale(stream_id)
    if sale is not None and sale.product_id == product.id and sale.units_left > 0:
        units = "its last unit" if sale.units_left == 1 else f"its last {sale.units_left} units"
        return f"“{product.title}” is sold out: the flash sale holds {units}."
    return f"“{product.title}” is sold out."


def bought_by(sale: FlashSale, buyer: User) -> int:
    """Units `buyer` has bought in the sale (orders not cancelled)."""
    return db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(OrderItem.quantity), 0)).join(Order)
        .where(OrderItem.flash_sale_id == sale.id, Order.buyer_id == buyer.id,
               Order.status.in_(("pending", "paid")))
    ) or 0


def take_units(sale: FlashSale, buyer: User, quantity: int, now: datetime | None = None) -> None:
    """Inside the order's transaction: take `quantity` of the sale's units for `buyer`, or raise
    `SaleRefused` (the caller rolls back)."""
    now = now or utcnow()
    taken = db.session.execute(
        sa.update(FlashSale)
        .where(FlashSale.id == sale.id, FlashSale.closed_at.is_(None), FlashSale.ends_at > now,
               FlashSale.units_sold + quantity <= FlashSale.units)
        .values(units_sold=FlashSale.units_sold + quantity)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        state = db.session.execute(sa.select(FlashSale.units - FlashSale.units_sold, FlashSale.closed_at,
                                             FlashSale.ends_at).where(FlashSale.id == sale.id)).one()
        if state.closed_at is not None or state.ends_at <= now:
            raise SaleRefused(f"The flash sale on “{sale.product.title}” has ended.")
        if state[0] <= 0:
            raise SaleRefused(f"The flash sale on “{sale.product.title}” is sold out.")
        raise SaleRefused(f"Only {state[0]} of “{sale.product.title}” left in the flash sale.")
    # The update above holds the sale's row lock until commit, so this buyer's other orders in the
    # sale have all committed (and are counted) or are still waiting behind us.
    already = bought_by(sale, buyer)
    if already + quantity > sale.per_buyer_limit:
        limit = sale.per_buyer_limit
        have = f" You already bought {already}." if already else ""
        raise SaleRefused(f"The flash sale allows {limit} per buyer.{have}")


def end_sale(sale: FlashSale, now: datetime | None = None, reason: str = "ended") -> bool:
    """Close the sale and release its unsold units; False when it had already closed."""
    from services import live

    now = now or utcnow()
    closed = db.session.execute(
        sa.update(FlashSale).where(FlashSale.id == sale.id, FlashSale.closed_at.is_(None))
        .values(closed_at=now).execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:
        db.session.rollback()
        return False
    db.session.refresh(sale)
    changes = holds.release_units(sale.product_id, sale.units_left, sale.stream_id, now) if sale.units_left else \
        holds.Changes(stream_ids={sale.stream_id})
    stream = db.session.get(LiveStream, sale.stream_id)
    live.record_event(stream, "flash_sale_ended", now, flash_sale_id=sale.id, units_sold=sale.units_sold,
                      reason=reason)
    db.session.commit()
    publish_sale(sale.id, now)
    holds.publish_changes(changes)
    return True


def close_due(now: datetime | None = None) -> int:
    """Close every sale whose time is up or whose units are gone; returns how many closed."""
    now = now or utcnow()
    due = db.session.scalars(
        sa.select(FlashSale).where(FlashSale.closed_at.is_(None),
                                   sa.or_(FlashSale.ends_at <= now, FlashSale.units_sold >= FlashSale.units))
    ).all()
    closed = 0
    for sale in due:
        closed += end_sale(sale, now, "sold_out" if sale.units_left <= 0 else "time")
    return closed


def publish_sale(sale_id: int, now: datetime | None = None) -> None:
    """Push the sale's overlay to every viewer and its control to the seller."""
    from realtime import publish
    from realtime.channels import seller_channel, stream_channel
    from realtime.fragments import render_oob

    sale = db.session.get(FlashSale, sale_id) if 0 < sale_id <= MAX_ID else None
    if sale is None:
        return
    now = now or utcnow()
    stream = db.session.get(LiveStream, sale.stream_id)
    publish(stream_channel(sale.stream_id), render_oob("live/_flash_sale.html", stream=stream, sale=sale, now=now))
    publish(seller_channel(sale.stream_id), render_oob("shows/_flash_sale.html", stream=stream, sale=sale, now=now))
