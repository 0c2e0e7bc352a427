"""Selling-format rules, through the services (explicit times where time matters): flash sales,
holds and the waitlist, auctions, giveaways, claims from the TikTok chat, and the selling clock."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db, utcnow
from ingest.records import EventRecord, Viewer
from models import (
    AuctionBid,
    CartItem,
    ChatClaim,
    Order,
    Product,
    StreamEvent,
    User,
    ViewerProfile,
)
from realtime.channels import seller_channel
from services import auctions, cart, claims, flash_sales, giveaways, holds, live, presence, selling_clock, tiktok, turns
from services import checkout as checkouts
from services.errors import FieldError, Forbidden
from tests.factories import make_product, make_seller, make_stream, make_user


@pytest.fixture(name="shop")
def shop_fixture(app_ctx):  # noqa: ANN001, ANN201
    return make_seller("host")


@pytest.fixture(name="board")
def board_fixture(shop):  # noqa: ANN001, ANN201
    return make_product(shop[1], "Walnut Serving Board", 4000, stock=10)


@pytest.fixture(name="stream")
def stream_fixture(shop, board):  # noqa: ANN001, ANN201
    return make_stream(shop[1], [board, make_product(shop[1], "Oak Spoon", 900, stock=5)])


def tiktok_viewer(account, tiktok_user_id: int, handle: str, user=None, **extra) -> ViewerProfile:  # noqa: ANN001
    """A viewer profile of `account`, linked to `user` (as the ingester would have made it)."""
    now = utcnow()
    profile = ViewerProfile(account_id=account.id, tiktok_user_id=tiktok_user_id, handle=handle, nickname=handle,
                            linked_user_id=user.id if user else None, first_seen_at=now, last_seen_at=now, **extra)
    db.session.add(profile)
    db.session.commit()
    return profile


def stock(product: Product) -> int:
    db.session.expire_all()
    return db.session.get(Product, product.id).stock


def buy_in_sale(buyer, sale, quantity: int = 1):  # noqa: ANN001, ANN201
    checkout = checkouts.buy_now_checkout(sale.product_id, quantity, flash_sale_id=sale.id)
    return checkouts.place_order(buyer, checkout, uuid.uuid4().hex, checkout.fingerprint())


def event_kinds(stream) -> list[str]:  # noqa: ANN001
    return list(db.session.scalars(sa.select(StreamEvent.kind).where(StreamEvent.stream_id == stream.id)
                                   .order_by(StreamEvent.id)))


# --- flash sales ---------------------------------------------------------------------------------


def sale_draft(product, **overrides) -> flash_sales.SaleDraft:  # noqa: ANN001
    values = {"price_cents": 2500, "units": 4, "duration_seconds": 60, "per_buyer_limit": 2, **overrides}
    return flash_sales.SaleDraft(product.id, **values)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"duration_seconds": 9}, "10 seconds to 30 minutes"),
    ({"duration_seconds": 1801}, "10 seconds to 30 minutes"),
    ({"price_cents": 4000}, "below the usual"),
    ({"units": 11}, "Only 10"),
    ({"per_buyer_limit": 5}, "limit per buyer"),
])
def test_a_flash_sale_needs_sane_terms(stream, board, overrides, message):
    with pytest.raises(FieldError, match=message):
        flash_sales.start_sale(stream, sale_draft(board, **overrides))
    assert stock(board) == 10


def test_a_flash_sale_reserves_its_units_and_sells_at_the_sale_price(stream, board):
    sale = flash_sales.start_sale(stream, sale_draft(board))
    assert stock(board) == 6  # four units set aside for the sale
    buyer = make_user("buyer")
    placed = buy_in_sale(buyer, sale, 2)
    order = placed.orders[0]
    assert order.total_cents == 5000 and order.status == "paid"
    assert [(item.unit_price_cents, item.flash_sale_id) for item in order.items] == [(2500, sale.id)]
    assert stock(board) == 6 and db.session.get(type(sale), sale.id).units_sold == 2
    assert event_kinds(stream)[-2:] == ["flash_sale_started", "order"]


def test_the_per_buyer_limit_holds_across_orders(stream, board):
    sale = flash_sales.start_sale(stream, sale_draft(board, units=4, per_buyer_limit=2))
    buyer = make_user("keen")
    buy_in_sale(buyer, sale, 1)
    with pytest.raises(checkouts.CheckoutError, match="allows 2 per buyer. You already bought 1"):
        buy_in_sale(buyer, sale, 2)
    buy_in_sale(buyer, sale, 1)  # up to the limit is fine
    with pytest.raises(checkouts.CheckoutError, match="allows 2 per buyer"):
        buy_in_sale(buyer, sale, 1)
    db.session.expire_all()
    assert flash_sales.bought_by(sale, buyer) == 2 and db.session.get(type(sale), sale.id).units_sold == 2
    buy_in_sale(make_user("other"), sale, 2)  # someone else still may
    with pytest.raises(checkouts.CheckoutError, match="sold out"):
        buy_in_sale(make_user("late"), sale, 1)


def test_an_ended_sale_sells_nothing_and_gives_its_units_back(stream, board):
    now = utcnow()
    sale = flash_sales.start_sale(stream, sale_draft(board, duration_seconds=10), now=now)
    buy_in_sale(make_user("quick"), sale, 1)
    assert flash_sales.close_due(now + timedelta(seconds=9)) == 0
    assert flash_sales.close_due(now + timedelta(seconds=10)) == 1
    assert stock(board) == 9  # three unsold units back on sale
    with pytest.raises(checkouts.CheckoutError, match="has ended"):
        buy_in_sale(make_user("slow"), sale, 1)
    assert event_kinds(stream)[-1] == "flash_sale_ended"


def test_a_sold_out_sale_closes(stream, board):
    sale = flash_sales.start_sale(stream, sale_draft(board, units=1, per_buyer_limit=1))
    buy_in_sale(make_user("only"), sale, 1)
    assert flash_sales.close_due() == 1
    assert stock(board) == 9 and db.session.get(type(sale), sale.id).closed_at is not None


def test_one_flash_sale_at_a_time_and_only_when_live(shop, stream, board):
    flash_sales.start_sale(stream, sale_draft(board))
    with pytest.raises(FieldError, match="End the current flash sale"):
        flash_sales.start_sale(stream, sale_draft(board))
    scheduled = make_stream(shop[1], [board], live=False)
    with pytest.raises(FieldError, match="while the show is live"):
        flash_sales.start_sale(scheduled, sale_draft(board))


# --- holds and the waitlist ----------------------------------------------------------------------


def test_a_product_added_in_a_live_show_is_held(stream, board):
    holds.update_settings(stream, 5, "sold")
    buyer = make_user("holder")
    before = utcnow()
    item = cart.add_to_cart(buyer, board, 2, stream.id, "live")
    assert stock(board) == 8  # held units are not for sale to anyone else
    assert before + timedelta(minutes=5) <= item.held_until <= utcnow() + timedelta(minutes=5)
    cart.add_to_cart(buyer, board, 1, stream.id, "live")
    assert stock(board) == 7 and db.session.get(CartItem, item.id).quantity == 3
    # A line added outside a show is not held.
    plain = make_product(stream.shop, "Plain Mug", 1000, stock=3)
    assert cart.add_to_cart(buyer, plain, 1).held_until is None and stock(plain) == 3


def test_checkout_consumes_a_hold_without_taking_stock_twice(stream, board):
    buyer = make_user("payer")
    cart.add_to_cart(buyer, board, 2, stream.id, "live")
    checkout = checkouts.cart_checkout(buyer)
    checkouts.place_order(buyer, checkout, uuid.uuid4().hex, checkout.fingerprint())
    assert stock(board) == 8


def test_an_expired_hold_goes_back_on_sale(stream, board):
    buyer = make_user("forgetful")
    now = utcnow()
    item = cart.add_to_cart(buyer, board, 3, stream.id, "live")
    assert holds.expire_holds(now + timedelta(minutes=9)).user_ids == set()
    changes = holds.expire_holds(item.held_until)
    assert changes.user_ids == {buyer.id} and changes.stream_ids == {stream.id}
    assert stock(board) == 10
    db.session.expire_all()
    line = db.session.get(CartItem, item.id)
    assert line is not None and line.held_until is None  # still in the cart, no longer held
    # Checkout now takes stock like any unheld line.
    checkout = checkouts.cart_checkout(buyer)
    checkouts.place_order(buyer, checkout, uuid.uuid4().hex, checkout.fingerprint())
    assert stock(board) == 7


def test_removing_or_lowering_a_held_line_releases_units(stream, board):
    buyer = make_user("changer")
    item = cart.add_to_cart(buyer, board, 4, stream.id, "live")
    cart.set_quantity(buyer, item.id, 1)
    assert stock(board) == 9
    cart.remove_item(buyer, item.id)
    assert stock(board) == 10


def test_released_units_go_to_the_waitlist_first_in_order(stream, board):
    hoarder = make_user("hoarder")
    item = cart.add_to_cart(hoarder, board, 10, stream.id, "live")
    assert stock(board) == 0
    first, second, third = make_user("first"), make_user("second"), make_user("third")
    db.session.refresh(board)
    for person in (first, second, third):
        holds.join_waitlist(person, board, stream.id)
    assert holds.join_waitlist(first, board, stream.id).user_id == first.id  # no second place in the queue
    assert holds.waitlist_position(third, board.id) == 3
    cart.set_quantity(hoarder, item.id, 8)  # two units released
    held = {line.cart.user_id: line for line in db.session.scalars(sa.select(CartItem).where(
        CartItem.product_id == board.id, CartItem.id != item.id))}
    assert set(held) == {first.id, second.id}
    assert all(line.quantity == 1 and line.held_until is not None for line in held.values())
    assert stock(board) == 0 and holds.waitlist_position(third, board.id) == 1
    cart.remove_item(hoarder, item.id)  # eight more: one to the third in line, seven on sale
    assert stock(board) == 7 and holds.waiting_entry(third, board.id) is None


def test_a_product_in_stock_has_no_waitlist(stream, board):
    with pytest.raises(FieldError, match="in stock"):
        holds.join_waitlist(make_user("eager"), board, stream.id)


# --- auctions ------------------------------------------------------------------------------------


def start_auction(stream, board, now=None, **overrides):  # noqa: ANN001, ANN201
    values = {"start_price_cents": 1000, "increment_cents": 100, "duration_seconds": 60, "mode": "extend",
              "extend_seconds": 10, **overrides}
    return auctions.start_auction(stream, auctions.AuctionDraft(board.id, **values), now=now)


def test_bids_must_beat_the_price_by_the_increment(stream, board):
    auction = start_auction(stream, board)
    assert stock(board) == 9  # the auctioned unit is set aside
    ann, ben = make_user("ann"), make_user("ben")
    with pytest.raises(FieldError, match=r"at least \$10.00"):
        auctions.place_bid(auction.id, ann, 999)
    auctions.place_bid(auction.id, ann, 1000)
    with pytest.raises(FieldError, match=r"at least \$11.00"):
        auctions.place_bid(auction.id, ben, 1050)
    with pytest.raises(FieldError, match="already the highest bidder"):
        auctions.place_bid(auction.id, ann, 1500)
    auctions.place_bid(auction.id, ben, 1300)  # a plain bid sets the price to its amount
    assert (auction.current_price_cents, auction.leader_id) == (1300, ben.id)
    with pytest.raises(Forbidden):
        auctions.place_bid(auction.id, stream.shop.owner, 5000)


def test_max_bids_answer_by_proxy(stream, board):
    auction = start_auction(stream, board)
    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    auctions.place_bid(auction.id, ann, 3000, "max")  # bids the minimum, up to $30
    assert (auction.current_price_cents, auction.leader_id) == (1000, ann.id)
    auctions.place_bid(auction.id, ben, 1500)  # ann's proxy answers at 15 + 1
    assert (auction.current_price_cents, auction.leader_id) == (1600, ann.id)
    auctions.place_bid(auction.id, ben, 3000, "max")  # an equal maximum: the earlier one wins
    assert (auction.current_price_cents, auction.leader_id) == (3000, ann.id)
    auctions.place_bid(auction.id, cat, 5000, "max")  # beats ann's maximum by the increment
    assert (auction.current_price_cents, auction.leader_id) == (3100, cat.id)
    auctions.place_bid(auction.id, cat, 6000, "max")  # the leader raises their own maximum: price stays
    assert (auction.current_price_cents, auction.leader_max_cents) == (3100, 6000)
    history = [(row.bidder_id, row.kind, row.amount_cents, row.price_after_cents, row.leader_after_id)
               for row in auctions.bid_history(auction)]
    assert history == [
        (ann.id, "max", 3000, 1000, ann.id),
        (ben.id, "bid", 1500, 1500, ben.id), (ann.id, "proxy", 1600, 1600, ann.id),
        (ben.id, "max", 3000, 1700, ben.id), (ann.id, "proxy", 3000, 3000, ann.id),
        (cat.id, "max", 5000, 3100, cat.id),
        (cat.id, "max", 6000, 3100, cat.id),
    ]
    assert auction.bid_count == len(history)


@contextlib.contextmanager
def sql_statements() -> Iterator[list[str]]:
    """The SQL statements the database is sent inside the block, in order (any thread's)."""
    statements: list[str] = []

    def record(connection, cursor, statement, *rest) -> None:  # noqa: ANN001, ANN002
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def test_stale_bids_are_refused_from_the_floor_without_a_query_and_only_stale_ones(stream, board):
    """A process remembers each auction's lowest acceptable bid (its floor) and refuses a bid under
    it without touching the database. Another process may have raised the price meanwhile: a bid
    between the stale floor and the real minimum is then refused by the locked read, which also
    brings the floor up to date. The leader may still raise their maximum by less than an increment."""
    auction = start_auction(stream, board)
    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    auctions.place_bid(auction.id, ann, 1000, "max")  # leads at $10.00, floor $11.00
    auctions.place_bid(auction.id, ann, 1050, "max")  # her maximum raised by half an increment
    assert (auction.leader_id, auction.leader_max_cents) == (ann.id, 1050)
    auction_id = auction.id
    db.session.refresh(ben)
    db.session.expunge(ben)  # loaded once, as a socket holds its user: no query to read ben.id
    with sql_statements() as statements:
        with pytest.raises(FieldError, match=r"at least \$11.00"):
            auctions.place_bid(auction_id, ben, 1099)
        assert statements == []
        # Another process's bids raise the price to $20.00; this one's floor still says $11.00.
        db.session.execute(sa.update(auctions.Auction).where(auctions.Auction.id == auction_id)
                           .values(current_price_cents=2000, leader_id=cat.id, leader_max_cents=2000))
        db.session.commit()
        statements.clear()
        with pytest.raises(FieldError, match=r"at least \$21.00"):
            auctions.place_bid(auction_id, ben, 1500)  # over the stale floor, under the real price
        assert any("auctions" in statement for statement in statements)  # the locked read
        statements.clear()
        with pytest.raises(FieldError, match=r"at least \$21.00"):
            auctions.place_bid(auction_id, ben, 2000)  # the floor is up to date now
        assert statements == []
    auctions.place_bid(auction.id, ben, 2100)
    assert (auction.current_price_cents, auction.leader_id) == (2100, ben.id)


def test_a_floor_another_process_shares_refuses_stale_bids_here_without_a_query(app, stream, board):
    """Each accepted round shares the floor it leaves on the hub's floors channel; a process that
    hears another's floor refuses bids under it without the database, as if it had seen the bid."""
    from realtime.channels import auction_floors_channel

    auction = start_auction(stream, board)
    ann, ben = make_user("ann"), make_user("ben")
    hub, shared = app.extensions["hub"], []
    hub.listen(auction_floors_channel(), shared.append)
    auctions.place_bid(auction.id, ann, 1000, "max")
    if not hasattr(hub, "redis"):  # in-process: this process hears its own share too
        assert [json.loads(message) for message in shared] == [{
            "auction_id": auction.id, "owner_id": stream.shop.owner_id, "currency": "USD",
            "leader_id": ann.id, "minimum": 1100}]
    # What another worker's round shares (Redis hands it to this process's listener, which calls this).
    hub.deliver(auction_floors_channel(), json.dumps({
        "auction_id": auction.id, "owner_id": stream.shop.owner_id, "currency": "USD", "leader_id": None,
        "minimum": 5000}))
    db.session.refresh(ben)
    db.session.expunge(ben)
    with sql_statements() as statements, pytest.raises(FieldError, match=r"at least \$50.00"):
        auctions.place_bid(auction.id, ben, 4900)
    assert statements == []


def _bids_in_one_round(app, auction_id: int, bids: list[tuple[int, int, str]]) -> list:  # noqa: ANN001
    """Place `bids` (bidder id, amount, kind) from threads of their own, each in a turn at socket
    actions as the show's socket places them, while this process's turn at the auction is taken,
    so that all of them wait and go in the next round together; returns what each call returned
    or raised, in order."""
    rounds = auctions._rounds(auction_id)
    outcomes: list = [None] * len(bids)

    def place(index: int, bidder_id: int, amount: int, kind: str) -> None:
        with app.app_context(), turns.turn():
            try:
                outcomes[index] = auctions.place_bid(auction_id, db.session.get(User, bidder_id), amount, kind)
            except Exception as error:  # noqa: BLE001 - what the caller would get is the outcome
                outcomes[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=place, args=(index, *bid)) for index, bid in enumerate(bids)]
    with rounds.turn:  # a round is running: the bids queue behind it, one after another
        for queued, thread in enumerate(threads, start=1):
            thread.start()
            deadline = time.monotonic() + 120
            while len(rounds.waiting) < queued and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(rounds.waiting) == queued, "a bid did not queue for the turn"
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_bids_that_arrive_together_are_applied_in_one_round_each_with_its_own_answer(app, stream, board):
    """Bids that wait for the auction while another round runs are applied together, in the order
    they came, each by the same rules: one locked read, one commit and one push for all of them,
    and each bidder hears their own standing after the round."""
    auction = start_auction(stream, board)
    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    auctions.place_bid(auction.id, ann, 1000)  # ann leads at $10.00
    auction_id, hub = auction.id, app.extensions["hub"]
    # In-process delivery only: with Redis the push goes through Redis, to the servers' sockets.
    viewers = None if hasattr(hub, "redis") else hub.subscribe([f"stream:{stream.id}"])
    with sql_statements() as statements:
        # ben's maximum of $30.00 comes first; cat's $25.00, applied after it, loses to it.
        outcomes = _bids_in_one_round(app, auction_id, [(ben.id, 3000, "max"), (cat.id, 2500, "max")])
    # Two reads of the auction: the round's (FOR UPDATE on PostgreSQL), and the seller card's, which
    # also reads the last bids. The viewers' push is made from the round's own reading.
    auction_reads = [statement for statement in statements if statement.lstrip().upper().startswith("SELECT")
                     and "FROM auctions" in statement]
    assert len(auction_reads) == 2
    assert sum("FROM auction_bids" in statement for statement in statements) == 1
    price = "$26.00"  # cat's maximum plus the increment, ben's maximum covering it
    assert [auctions.standing(state, user.id) for state, user in zip(outcomes, (ben, cat), strict=True)] == [
        f"You lead at {price}.", f"Outbid: another bidder's maximum is higher. The price is now {price}."]
    db.session.expire_all()
    auction = db.session.get(auctions.Auction, auction_id)
    assert (auction.leader_id, auction.current_price_cents) == (ben.id, 2600)
    rows = db.session.scalars(sa.select(AuctionBid).where(AuctionBid.auction_id == auction_id)
                              .order_by(AuctionBid.id)).all()
    assert [(row.bidder_id, row.kind, row.price_after_cents) for row in rows] == [
        (ann.id, "bid", 1000), (ben.id, "max", 1100), (cat.id, "max", 1200), (ben.id, "proxy", 2600)]
    if viewers is not None:
        prices = [message for message in viewers.drain(50)
                  if isinstance(message, str) and 'class="auction-price"' in message]
        assert len(prices) == 1 and "$26.00" in prices[0]


def test_bids_waiting_for_their_round_give_their_turn_back(app, stream, board):
    """A bid waiting for its auction's round holds none of the turns at socket actions: more bids
    than there are turns all join the next round, and the crowd's other actions go on meanwhile."""
    auction = start_auction(stream, board)
    bidders = [make_user(f"bidder{n}") for n in range(turns.AT_ONCE + 1)]
    bids = [(bidder.id, 1000 + 500 * n, "max") for n, bidder in enumerate(bidders)]
    outcomes = _bids_in_one_round(app, auction.id, bids)  # fails unless all of them queue
    assert all(isinstance(outcome, auctions.AuctionState) for outcome in outcomes), outcomes
    assert {outcome.leader_id for outcome in outcomes} == {bidders[-1].id}


def test_the_sellers_card_follows_the_bids_and_a_crowd_cannot_flood_it(app, stream, board):
    """Each bid's round pushes the seller's card with the new price and the last bids. While more
    bids wait for a round, the card is pushed at most every SELLER_CARD_EVERY_SECONDS; the round
    that finds none waiting always pushes it, so the card ends on the latest state."""
    auction = start_auction(stream, board)
    ann, ben = make_user("ann", display_name="Ann A"), make_user("ben", display_name="Ben B")
    hub = app.extensions["hub"]
    card = None if hasattr(hub, "redis") else hub.subscribe([seller_channel(stream.id)])
    auctions.place_bid(auction.id, ann, 1000)
    auctions.place_bid(auction.id, ben, 1500)
    if card is not None:
        cards = [message for message in card.drain(50)
                 if isinstance(message, str) and f'id="seller-auction-{stream.id}"' in message]
        assert len(cards) == 2 and "$15.00 by Ben B" in cards[-1] and "Ann A" in cards[-1]

    rounds = auctions._Rounds()
    assert not auctions._seller_card_due(rounds)  # no round changed anything
    rounds.card_owed = True
    assert auctions._seller_card_due(rounds) and not rounds.card_owed
    rounds.card_owed, rounds.waiting = True, [object()]  # a round just ran, and more bids wait
    assert not auctions._seller_card_due(rounds) and rounds.card_owed
    rounds.card_pushed_at -= auctions.SELLER_CARD_EVERY_SECONDS  # ... but the card is old by now
    assert auctions._seller_card_due(rounds)
    rounds.card_owed = True
    assert not auctions._seller_card_due(rounds)
    rounds.waiting = []  # the last round of the burst
    assert auctions._seller_card_due(rounds)


def test_a_round_that_fails_to_save_tells_each_of_its_bidders_and_saves_none(app, stream, board):
    """When the round's transaction fails, none of its bids is saved and every bidder in it gets an
    error (a socket bid's answer then says nothing was saved); the next bids go on as before."""
    auction = start_auction(stream, board)
    ann, ben = make_user("ann"), make_user("ben")
    auction_id = auction.id

    def refuse_bid_rows(connection, cursor, statement, *rest) -> None:  # noqa: ANN001, ANN002
        if statement.lstrip().startswith("INSERT INTO auction_bids"):
            raise sa.exc.OperationalError(statement, {}, Exception("disk full"))

    sa.event.listen(db.engine, "before_cursor_execute", refuse_bid_rows)
    try:
        outcomes = _bids_in_one_round(app, auction_id, [(ann.id, 1000, "bid"), (ben.id, 2000, "max")])
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", refuse_bid_rows)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes), outcomes
    assert all("none of them was saved" in str(outcome) for outcome in outcomes)
    db.session.expire_all()
    auction = db.session.get(auctions.Auction, auction_id)
    assert (auction.leader_id, auction.bid_count) == (None, 0)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuctionBid)) == 0
    state = auctions.place_bid(auction_id, ben, 2000, "max")
    assert (state.leader_id, state.price_cents) == (ben.id, 1000)


def test_a_bidders_own_status_follows_bids_by_others(app, stream, board):
    """A bidder's status line ("You lead at ...") is pushed to them when another bid changes it:
    outbid by a higher maximum, or their own maximum answering at a new price."""
    if hasattr(app.extensions["hub"], "redis"):
        pytest.skip("in-process delivery is what this checks; the Redis hub is covered on real servers")
    auction = start_auction(stream, board)
    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    hub = app.extensions["hub"]
    heard = {user.id: hub.subscribe([f"user:{user.id}"]) for user in (ann, ben, cat)}

    def status_lines(user) -> list[str]:  # noqa: ANN001
        return [message for message in heard[user.id].drain(50) if isinstance(message, str)
                and f'id="bid-result-{auction.id}"' in message]

    auctions.place_bid(auction.id, ann, 3000, "max")
    assert status_lines(ann) == []  # her own bid's answer comes back to her request
    auctions.place_bid(auction.id, ben, 1500)  # ann's maximum answers at $16
    [line] = status_lines(ann)
    assert "You lead at $16.00." in line and 'hx-swap-oob="true"' in line and "data-push-if-present" in line
    assert status_lines(ben) == []
    auctions.place_bid(auction.id, cat, 5000, "max")  # cat overtakes ann's maximum
    [line] = status_lines(ann)
    assert "Outbid" in line and "$31.00" in line
    assert status_lines(ben) == [] and status_lines(cat) == []
    auctions.place_bid(auction.id, cat, 6000, "max")  # cat raising her own maximum changes nobody's status
    assert status_lines(ann) == [] and status_lines(ben) == []


def test_a_late_bid_extends_an_extend_mode_auction(stream, board):
    now = utcnow()
    auction = start_auction(stream, board, now, duration_seconds=30, extend_seconds=10)
    ends = auction.ends_at
    auctions.place_bid(auction.id, make_user("early"), 1000, now=now + timedelta(seconds=5))
    assert auction.ends_at == ends  # 25 s left: no extension
    auctions.place_bid(auction.id, make_user("sniper"), 1100, now=now + timedelta(seconds=25))
    assert auction.ends_at == now + timedelta(seconds=35)
    assert auctions.close_due(now + timedelta(seconds=31)) == 0  # not over yet


def test_sudden_death_ends_on_time_whatever_the_bids(stream, board):
    now = utcnow()
    auction = start_auction(stream, board, now, duration_seconds=30, mode="sudden_death")
    auctions.place_bid(auction.id, make_user("late"), 1000, now=now + timedelta(seconds=29))
    assert auction.ends_at == now + timedelta(seconds=30)
    with pytest.raises(FieldError, match="closed"):
        auctions.place_bid(auction.id, make_user("too_late"), 1100, now=now + timedelta(seconds=30))


def test_the_winner_gets_an_order_at_the_hammer_price(stream, board):
    now = utcnow()
    auction = start_auction(stream, board, now)
    ann, ben = make_user("ann"), make_user("ben")
    auctions.place_bid(auction.id, ann, 2500, "max", now=now)
    auctions.place_bid(auction.id, ben, 1800, now=now)
    assert auctions.close_due(now + timedelta(seconds=60)) == 1
    db.session.expire_all()
    order = db.session.get(Order, db.session.get(type(auction), auction.id).order_id)
    assert (order.buyer_id, order.total_cents, order.status) == (ann.id, 1900, "paid")
    assert [(item.title, item.unit_price_cents, item.quantity) for item in order.items] == [
        ("Walnut Serving Board", 1900, 1)]
    assert stock(board) == 9  # the unit was sold
    assert auctions.close_due(now + timedelta(seconds=61)) == 0  # closed once
    assert "auction_closed" in event_kinds(stream)


def test_an_auction_without_bids_puts_the_unit_back(stream, board):
    now = utcnow()
    start_auction(stream, board, now)
    auctions.close_due(now + timedelta(seconds=60))
    assert stock(board) == 10 and db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


# --- giveaways -----------------------------------------------------------------------------------


def test_giveaway_entry_rules(stream, board):
    giveaway = giveaways.start_giveaway(stream, board.id, require_comment=True)
    fan = make_user("fan")
    with pytest.raises(FieldError, match="Be watching the show. Comment in the show."):
        giveaways.enter(giveaway, fan)
    presence.join(stream.id, fan.id, None)
    with pytest.raises(FieldError, match="Comment in the show"):
        giveaways.enter(giveaway, fan)
    live.post_comment(stream, fan, "me please!")
    giveaways.enter(giveaway, fan)
    giveaways.enter(giveaway, fan)  # entering twice is one entry
    assert giveaways.entrant_ids(giveaway) == [fan.id]
    assert giveaways.unmet_rules(giveaway, stream.shop.owner) == ["You cannot enter your own giveaway."]


def test_follows_the_shop_means_a_linked_tiktok_profile_that_follows(shop, board):
    seller = shop[0]
    account = tiktok.link_account(seller, "@host.tt", "UTC")
    stream = make_stream(shop[1], [board])
    stream.tiktok_account_id = account.id
    db.session.commit()
    giveaway = giveaways.start_giveaway(stream, board.id, require_follow=True)
    fan = make_user("fan")
    presence.join(stream.id, fan.id, None)
    assert giveaways.unmet_rules(giveaway, fan) == ["Follow the shop on TikTok (with your TikTok linked)."]
    tiktok_viewer(account, 77, "fan.tt", fan, follows_streamer=True)
    assert giveaways.unmet_rules(giveaway, fan) == []


def test_the_draw_is_reproducible_from_the_published_seed(stream, board):
    giveaway = giveaways.start_giveaway(stream, board.id)
    assert giveaway.seed_hash == hashlib.sha256(giveaway.seed.encode()).hexdigest()
    people = [make_user(f"entrant{n}") for n in range(7)]
    for person in people:
        presence.join(stream.id, person.id, None)
        giveaways.enter(giveaway, person)
    giveaways.draw(giveaway)
    ids = sorted(person.id for person in people)
    # Anyone can recompute the winner from the seed and the entrants.
    digest = hashlib.sha256(f"{giveaway.seed}:{','.join(map(str, ids))}".encode()).hexdigest()
    assert giveaway.winner_id == ids[int(digest, 16) % len(ids)]
    assert giveaways.draw_index(giveaway.seed, list(reversed(ids))) == giveaways.draw_index(giveaway.seed, ids)
    order = db.session.get(Order, giveaway.order_id)
    assert (order.buyer_id, order.total_cents, order.status) == (giveaway.winner_id, 0, "paid")
    with pytest.raises(FieldError, match="already drawn"):
        giveaways.draw(giveaway)


def test_different_seeds_pick_different_winners(stream, board):
    winners = {giveaways.draw_index(f"seed-{n}", list(range(1, 21))) for n in range(50)}
    assert len(winners) > 5


def test_a_giveaway_nobody_entered_gives_the_prize_back(stream, board):
    giveaway = giveaways.start_giveaway(stream, board.id)
    assert stock(board) == 9
    giveaways.draw(giveaway)
    assert giveaway.status == "cancelled" and giveaway.winner_id is None and stock(board) == 9 + 1


# --- claims from the TikTok chat -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("sold", "word"), ("SOLD!", "word"), ("  sold  ", "word"), ("#2", 2), ("# 3", 3),
    ("sold out?", None), ("is it sold", None), ("claim", None), ("", None),
])
def test_what_counts_as_a_claim(text, expected):
    assert claims.parse_claim(text, "sold") == expected


def comment(user_id: int, handle: str, text: str) -> EventRecord:
    return EventRecord("comment", uuid.uuid4().hex, utcnow(), "room-1", Viewer(user_id, handle, handle), {"text": text})


def claimed(account, records: list[EventRecord]) -> list:  # noqa: ANN001
    """The claims the ingester's hook makes from these comments of the account's LIVE."""
    return claims.claim_from_chats({account.id: records}).get(account.id, [])


@pytest.fixture(name="tiktok_show")
def tiktok_show_fixture(shop, board):  # noqa: ANN001, ANN201
    account = tiktok.link_account(shop[0], "@maya.live", "UTC")
    stream = make_stream(shop[1], [board, make_product(shop[1], "Oak Spoon", 900, stock=5)])
    stream.tiktok_account_id = account.id
    db.session.commit()
    live.pin_product(stream, board.id)
    return account, stream


def test_a_linked_viewers_claim_holds_the_pinned_product_in_their_cart(tiktok_show, board):
    account, stream = tiktok_show
    sam = make_user("sam", display_name="Sam Shopper")
    tiktok_viewer(account, 501, "sam.tt", sam)
    made = claimed(account, [comment(501, "sam.tt", "Sold!"), comment(501, "sam.tt", "nice")])
    assert [(claim.status, claim.user_id, claim.product_id) for claim in made] == [("held", sam.id, board.id)]
    [line] = holds.held_lines(sam)
    assert (line.product_id, line.quantity, line.stream_id) == (board.id, 1, stream.id)
    assert stock(board) == 9
    spoon_claim = claimed(account, [comment(501, "sam.tt", "#2")])
    assert spoon_claim[0].product.title == "Oak Spoon"


def test_an_unlinked_viewers_claim_is_listed_with_a_code_to_redeem(tiktok_show, board):
    account, stream = tiktok_show
    [claim] = claimed(account, [comment(601, "stranger.tt", "sold")])
    assert claim.status == "unlinked" and len(claim.code) == 6 and claim.user_id is None
    assert claims.unlinked_claims(stream) == [claim]
    assert stock(board) == 10  # nothing held until someone redeems the code
    shopper = make_user("stranger")
    claims.redeem(shopper, claim.code.lower())
    assert [line.product_id for line in holds.held_lines(shopper)] == [board.id]
    assert claims.unlinked_claims(stream) == [] and stock(board) == 9
    with pytest.raises(FieldError, match="not valid"):
        claims.redeem(make_user("copycat"), claim.code)


def test_claims_follow_the_shows_claim_word_and_need_a_live_show(tiktok_show, board):
    account, stream = tiktok_show
    holds.update_settings(stream, 10, "Mine")
    assert claimed(account, [comment(701, "x.tt", "sold")]) == []
    assert len(claimed(account, [comment(701, "x.tt", "mine")])) == 1
    live.end_show(stream)
    assert claimed(account, [comment(701, "x.tt", "mine")]) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChatClaim)) == 1


def test_a_claim_of_a_sold_out_product_is_refused_and_listed(tiktok_show, board):
    account, stream = tiktok_show
    sam = make_user("sam")
    tiktok_viewer(account, 502, "sam.tt", sam)
    db.session.execute(sa.update(Product).where(Product.id == board.id).values(stock=0))
    db.session.commit()
    [claim] = claimed(account, [comment(502, "sam.tt", "sold")])
    assert claim.status == "refused" and "sold out" in claim.reason
    assert holds.held_lines(sam) == []


# --- the selling clock ---------------------------------------------------------------------------


def test_the_clock_closes_auctions_ends_sales_and_releases_holds(stream, board):
    now = utcnow()
    spoon = stream.featured[1].product
    auction = start_auction(stream, board, now, duration_seconds=10)
    auctions.place_bid(auction.id, make_user("bidder"), 1000, now=now)
    sale = flash_sales.start_sale(stream, sale_draft(spoon, price_cents=500, units=2, per_buyer_limit=1,
                                                     duration_seconds=10), now=now)
    holder = make_user("holder")
    cart.add_to_cart(holder, board, 1, stream.id, "live")
    selling_clock.run_due(now + timedelta(minutes=11))
    db.session.expire_all()
    assert db.session.get(type(auction), auction.id).status == "closed"
    assert db.session.get(type(sale), sale.id).closed_at is not None
    assert holds.held_lines(holder) == [] and stock(board) == 9 and stock(spoon) == 5
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuctionBid)) == 1
