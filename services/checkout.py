"""Checkout: turn a cart (or one "Buy now" product) into paid orders, all or nothing.

One checkout is one transaction: stock is taken with a conditional UPDATE (never below zero),
orders are created per shop and currency with their items and their `stream_orders` rows, the
payment step runs, and the checked-out cart lines are removed. If any line is short of stock,
nothing is written and the buyer is told which lines. A held cart line (services/holds.py) took
its units when it was added, so its hold is consumed instead; a flash-sale line takes the sale's
reserved units at the sale price and counts against its per-buyer limit, in the same transaction.
A one-time key from the checkout form makes a double submit or a retry return the orders already
placed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db, utcnow
from models import CartItem, FlashSale, Order, OrderItem, Product, StreamOrder, User
from services import cart as carts
from services import flash_sales, holds, live
from services.errors import Invalid, NotFound
from services.payments import PaymentDeclined, payment_provider

log = logging.getLogger(__name__)

KEY_PATTERN = re.compile(r"^[0-9a-f]{32}$")


class CheckoutError(Exception):
    """Checkout cannot go ahead; the message says why and nothing was written."""


@dataclass(frozen=True)
class Shortage:
    title: str
    requested: int
    available: int

    def __str__(self) -> str:
        if self.available <= 0:
            return f"“{self.title}” is sold out."
        return f"Only {self.available} of “{self.title}” left (you asked for {self.requested})."


class OutOfStock(CheckoutError):
    def __init__(self, shortages: list[Shortage]) -> None:
        self.shortages = shortages
        super().__init__(" ".join(str(shortage) for shortage in shortages))


@dataclass(frozen=True)
class CheckoutLine:
    product: Product
    quantity: int
    stream_id: int | None = None
    source: str | None = None
    cart_item_id: int | None = None
    held: bool = False
    flash_sale: FlashSale | None = None

    @property
    def unit_price_cents(self) -> int:
        return self.flash_sale.price_cents if self.flash_sale is not None else self.product.price_cents

    @property
    def line_total_cents(self) -> int:
        return self.unit_price_cents * self.quantity

    @property
    def short_of_stock(self) -> bool:
        """True when the product has fewer than the quantity asked for (or cannot be bought)."""
        if self.flash_sale is not None:
            return self.flash_sale.units_left < self.quantity
        if self.held:
            return False  # its units left stock for this buyer when it was held
        return not self.product.is_buyable or self.quantity > self.product.stock


@dataclass
class Checkout:
    """What the buyer is about to order, as shown on the checkout page."""

    lines: list[CheckoutLine]
    buy_now: bool = False
    totals: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.totals = defaultdict(int)
        for line in self.lines:
            self.totals[line.product.currency] += line.line_total_cents
        self.totals = dict(self.totals)

    def fingerprint(self) -> str:
        """Changes when any product, quantity, price or source changes: the buyer pays what they saw."""
        parts = sorted(
            f"{line.product.id}:{line.quantity}:{line.unit_price_cents}:{line.product.currency}:{line.stream_id}"
            f":{line.flash_sale.id if line.flash_sale else ''}"
            for line in self.lines
        )
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PlacedOrders:
    orders: list[Order]
    #: True when the key had already been used: these orders were placed by an earlier submit.
    repeated: bool


def cart_checkout(user: User) -> Checkout:
    cart = carts.cart_for(user)
    items = cart.items if cart else []
    return Checkout(
        [CheckoutLine(item.product, item.quantity, item.stream_id, item.stream_source, item.id,
                      held=item.held_until is not None) for item in items]
    )


def buy_now_checkout(
    product_id: int, quantity: int, stream_id: int | None = None, source: str | None = None,
    flash_sale_id: int | None = None,
) -> Checkout:
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound("There is no such product.")
    if not 1 <= quantity <= carts.MAX_QUANTITY:
        raise Invalid(f"Choose a quantity from 1 to {carts.MAX_QUANTITY}.")
    sale = None
    if flash_sale_id is not None:
        sale = flash_sales.get_sale(flash_sale_id)
        if sale.product_id != product.id:
            raise Invalid("This flash sale is for another product.")
        stream_id, source = sale.stream_id, "live"
    stream_id, source = live.credited_show(product.id, stream_id, source)
    return Checkout([CheckoutLine(product, quantity, stream_id, source, flash_sale=sale)], buy_now=True)


def orders_for_key(buyer: User, key: str) -> list[Order]:
    query = (
        sa.select(Order)
        .where(Order.buyer_id == buyer.id, Order.idempotency_key.startswith(f"{key}:"))
        .order_by(Order.id)
    )
    return list(db.session.scalars(query))


def place_order(buyer: User, checkout: Checkout, key: str, fingerprint: str,
                now: datetime | None = None) -> PlacedOrders:
    """Place `checkout` for `buyer` as one transaction; see the module docstring. `now` (default:
    the present) is when the order was placed; the demo's history passes its own time."""
    if not KEY_PATTERN.match(key or ""):
        raise CheckoutError("This checkout form is incomplete. Reload the page and try again.")
    already = orders_for_key(buyer, key)
    if already:
        return PlacedOrders(already, repeated=True)
    if not checkout.lines:
        raise CheckoutError("Your cart is empty.")
    if fingerprint != checkout.fingerprint():
        raise CheckoutError(
            "Your cart or its prices changed since you opened checkout. Check it and place the order again."
        )

    try:
        _take_stock(checkout, buyer)
        orders = _create_orders(buyer, checkout, key, now or utcnow())
        if not checkout.buy_now:
            ids = [line.cart_item_id for line in checkout.lines if line.cart_item_id is not None]
            db.session.execute(sa.delete(CartItem).where(CartItem.id.in_(ids)))
        db.session.commit()
    except IntegrityError:
        # A concurrent submit of the same form committed first: answer with its orders.
        db.session.rollback()
        already = orders_for_key(buyer, key)
        if already:
            return PlacedOrders(already, repeated=True)
        # The key is someone else's (a copied form): nothing was written; a fresh form gets a new key.
        raise CheckoutError("This checkout form was already used. Reload the page and try again.") from None
    except (CheckoutError, PaymentDeclined):
        db.session.rollback()
        raise
    _announce(buyer, checkout, orders)
    return PlacedOrders(orders, repeated=False)


def _announce(buyer: User, checkout: Checkout, orders: list[Order]) -> None:
    """Push the new cart badge and the orders to open pages; never fails the placed order."""
    try:
        if not checkout.buy_now:
            carts.publish_cart_badge(buyer)
        live.announce_orders(orders)
        for sale_id in sorted({line.flash_sale.id for line in checkout.lines if line.flash_sale is not None}):
            flash_sales.publish_sale(sale_id)
    except Exception:  # noqa: BLE001 - the orders are committed and paid: the buyer must be told so
        log.exception("orders %s placed, but announcing them failed", [order.id for order in orders])
        db.session.rollback()


def _take_stock(checkout: Checkout, buyer: User) -> None:
    shortages = []
    now = utcnow()
    for line in checkout.lines:
        if line.flash_sale is not None:
            try:
                flash_sales.take_units(line.flash_sale, buyer, line.quantity, now)
            except flash_sales.SaleRefused as refused:
                raise CheckoutError(refused.message) from refused
            continue
        if line.held and line.cart_item_id is not None and holds.consume_hold(line.cart_item_id):
            continue  # its units left stock when it was put on hold
        taken = db.session.execute(
            sa.update(Product)
            .where(Product.id == line.product.id, Product.is_active, Product.stock >= line.quantity)
            .values(stock=Product.stock - line.quantity)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            available = db.session.scalar(
                sa.select(sa.case((Product.is_active, Product.stock), else_=0)).where(Product.id == line.product.id)
            )
            shortages.append(Shortage(line.product.title, line.quantity, available or 0))
    if shortages:
        raise OutOfStock(shortages)


def _create_orders(buyer: User, checkout: Checkout, key: str, now: datetime) -> list[Order]:
    groups: dict[tuple[int, str], list[CheckoutLine]] = defaultdict(list)
    for line in checkout.lines:
        groups[(line.product.shop_id, line.product.currency)].append(line)
    provider = payment_provider()
    orders = []
    for (shop_id, currency), lines in groups.items():
        order = Order(
            buyer=buyer,
            shop_id=shop_id,
            currency=currency,
            total_cents=sum(line.line_total_cents for line in lines),
            idempotency_key=f"{key}:{shop_id}:{currency}",
            payment_provider=provider.name,
            created_at=now,
        )
        for line in lines:
            order.items.append(
                OrderItem(
                    product_id=line.product.id,
                    title=line.product.title,
                    unit_price_cents=line.unit_price_cents,
                    quantity=line.quantity,
                    stream_id=line.stream_id,
                    flash_sale_id=line.flash_sale.id if line.flash_sale is not None else None,
                )
            )
        db.session.add(order)
        db.session.flush()
        for line in lines:
            if line.stream_id is not None:
                db.session.add(
                    StreamOrder(
                        stream_id=line.stream_id,
                        order_id=order.id,
                        product_id=line.product.id,
                        shop_id=shop_id,
                        amount_cents=line.line_total_cents,
                        source=line.source or "live",
                        created_at=now,
                    )
                )
        provider.charge(order)
        orders.append(order)
    return orders
