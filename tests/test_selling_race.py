"""Selling formats under real concurrency on PostgreSQL: many buyers and bidders at once, each in
their own thread, connection and transaction, through the same services the routes call.

(On SQLite one writer runs at a time anyway; these need the row locks PostgreSQL really takes.)
"""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db, utcnow
from models import Auction, AuctionBid, FlashSale, Order, OrderItem, Product, User
from services import auctions, flash_sales
from services import checkout as checkouts
from services.errors import FieldError
from tests.conftest import DATABASE_URL
from tests.factories import make_product, make_seller, make_stream, make_user

pytestmark = pytest.mark.skipif(not (DATABASE_URL or "").startswith("postgres"),
                                reason="needs DATABASE_URL on PostgreSQL (set in CI's second run)")

#: Below the default pool (5 + 10 overflow), so no thread waits on a connection for long.
THREADS = 12


def run_all(app, jobs):  # noqa: ANN001, ANN201
    """Run every job (a function of no arguments) in its own app context, concurrently."""
    def run(job):  # noqa: ANN001, ANN202
        with app.app_context():
            try:
                return job()
            finally:
                db.session.remove()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, jobs))


def test_a_flash_sale_with_200_buyers_sells_exactly_its_units_within_the_limit(app, app_ctx):
    _, shop = make_seller("flash-host")
    product = make_product(shop, "Walnut Serving Board", 4000, stock=100)
    stream = make_stream(shop, [product])
    sale = flash_sales.start_sale(stream, flash_sales.SaleDraft(product.id, 2500, 30, 600, 2))
    buyers = [make_user(f"buyer{n}").id for n in range(200)]
    sale_id, product_id = sale.id, product.id
    db.session.commit()

    def attempt(buyer_id: int, quantity: int):  # noqa: ANN202
        def job() -> str:
            buyer = db.session.get(User, buyer_id)
            checkout = checkouts.buy_now_checkout(product_id, quantity, flash_sale_id=sale_id)
            try:
                checkouts.place_order(buyer, checkout, uuid.uuid4().hex, checkout.fingerprint())
            except checkouts.CheckoutError as refused:
                return "limit" if "per buyer" in str(refused) else "sold out"
            return "ok"
        return job

    # Every buyer tries for 3 units (2, then 1) against a limit of 2, all at once, in random order.
    jobs = [attempt(buyer_id, quantity) for buyer_id in buyers for quantity in (2, 1)]
    random.Random(14).shuffle(jobs)
    outcomes = run_all(app, jobs)

    db.session.expire_all()
    assert set(outcomes) <= {"ok", "limit", "sold out"}
    sold = db.session.scalar(sa.select(FlashSale.units_sold).where(FlashSale.id == sale_id))
    per_buyer = dict(db.session.execute(
        sa.select(Order.buyer_id, sa.func.sum(OrderItem.quantity)).join(OrderItem.order)
        .where(OrderItem.flash_sale_id == sale_id).group_by(Order.buyer_id)).all())
    assert sold == 30 and sum(per_buyer.values()) == 30
    assert max(per_buyer.values()) <= 2
    assert outcomes.count("ok") == db.session.scalar(sa.select(sa.func.count()).select_from(Order))
    assert db.session.scalar(sa.select(Product.stock).where(Product.id == product_id)) == 70  # untouched


def test_an_auction_with_50_concurrent_bidders_has_one_winner_at_the_right_price(app, app_ctx):
    _, shop = make_seller("auction-host")
    product = make_product(shop, "Signed Print", 9900, stock=1)
    stream = make_stream(shop, [product])
    auction = auctions.start_auction(stream, auctions.AuctionDraft(product.id, 1000, 100, 1800, "extend", 10))
    bidders = [make_user(f"bidder{n}").id for n in range(50)]
    auction_id = auction.id
    db.session.commit()

    def bid(bidder_id: int, amount: int, kind: str):  # noqa: ANN202
        def job() -> str:
            try:
                auctions.place_bid(auction_id, db.session.get(User, bidder_id), amount, kind)
            except FieldError as refused:
                return refused.message
            return "ok"
        return job

    # Round 1: all fifty bid the same starting price at once: exactly one leads.
    first = run_all(app, [bid(bidder_id, 1000, "bid") for bidder_id in bidders])
    assert first.count("ok") == 1 and set(first) == {"ok", "Bid at least $11.00."}

    # Round 2: all fifty send a max bid at once (ceilings 2,000 + 250 n cents, shuffled).
    ceilings = {bidder_id: 2000 + 250 * n for n, bidder_id in enumerate(bidders)}
    jobs = [bid(bidder_id, ceiling, "max") for bidder_id, ceiling in ceilings.items()]
    random.Random(50).shuffle(jobs)
    run_all(app, jobs)

    db.session.expire_all()
    auction = db.session.get(Auction, auction_id)
    second = sorted(ceilings.values())[-2]
    assert auction.leader_id == bidders[-1] and auction.current_price_cents == second + 100
    rows = db.session.scalars(sa.select(AuctionBid).where(AuctionBid.auction_id == auction_id)
                              .order_by(AuctionBid.id)).all()
    assert auction.bid_count == len(rows)
    # The audit reads in the order the bids were applied: the price never went down.
    prices = [row.price_after_cents for row in rows]
    assert prices == sorted(prices) and prices[-1] == auction.current_price_cents

    assert auctions.close_due(utcnow() + timedelta(hours=1)) == 1
    db.session.expire_all()
    orders = db.session.scalars(sa.select(Order)).all()
    assert [(order.buyer_id, order.total_cents, order.status) for order in orders] == [
        (bidders[-1], second + 100, "paid")]
