"""Auctions: one unit of a featured product, sold to the highest bidder when the clock runs out.

- A bid must be at least the current price plus the increment (the starting price for the first).
  A plain bid sets the price to its amount; a max (proxy) bid bids the minimum now and up to its
  maximum later. When a new bid meets a leader's higher maximum, the leader's proxy answers at the
  new bid plus the increment (capped at that maximum); equal maximums go to the earlier bidder.
- Sudden death: the auction ends at `ends_at`, whatever happens. Extend mode: a bid with fewer than
  `extend_seconds` left moves the end to `extend_seconds` after that bid.
- Every bid is a row in `auction_bids` (the bidder's own, and each proxy bid placed for a maximum),
  with the price and the leader after it: the history can be audited.
- Concurrency: a bid locks the auction's row (SELECT ... FOR UPDATE) and reads it fresh, so
  concurrent bids are applied one after another; of two bids at the same price exactly one leads,
  and the other is refused as too low. Closing takes the same row with a conditional update.
- At the close the winner gets an order at the hammer price, through the payment step; with no
  bids the unit goes back (the waitlist first).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa
import sqlalchemy.orm
from flask import current_app

from extensions import db, utcnow
from models import MAX_ID, Auction, AuctionBid, LiveStream, Order, OrderItem, Product, Shop, StreamOrder, User
from models.selling import AUCTION_MODES
from services import flash_sales, holds, turns
from services.errors import DomainError, FieldError, Forbidden, Invalid, NotFound
from services.money import format_money
from services.payments import PaymentDeclined, payment_provider

MIN_SECONDS, MAX_SECONDS = 10, 30 * 60
MAX_BID_CENTS = 100_000_000


@dataclass(frozen=True)
class AuctionDraft:
    product_id: int
    start_price_cents: int
    increment_cents: int
    duration_seconds: int
    mode: str = "extend"
    extend_seconds: int = 10


def get_auction(auction_id: int) -> Auction:
    auction = db.session.get(Auction, auction_id) if 0 < auction_id <= MAX_ID else None
    if auction is None:
        raise NotFound("There is no such auction.")
    return auction


def current_auction(stream_id: int) -> Auction | None:
    """The show's latest auction (open, or the last one closed, to show its result)."""
    return db.session.scalar(
        sa.select(Auction).where(Auction.stream_id == stream_id, Auction.status != "cancelled")
        .order_by(Auction.id.desc()).limit(1)
    )


def open_auction(stream_id: int) -> Auction | None:
    return db.session.scalar(sa.select(Auction).where(Auction.stream_id == stream_id, Auction.status == "open")
                             .order_by(Auction.id.desc()).limit(1))


def start_auction(stream: LiveStream, draft: AuctionDraft, now: datetime | None = None) -> Auction:
    """Auction one unit of a featured product (taken from stock now)."""
    from services import live

    now = now or utcnow()
    if stream.status != "live":
        raise FieldError("auction", "Start an auction while the show is live.")
    product = {item.product_id: item.product for item in stream.featured}.get(draft.product_id)
    if product is None:
        raise FieldError("product_id", "Choose one of this show's featured products.")
    if draft.mode not in AUCTION_MODES:
        raise FieldError("mode", "Choose sudden death or extend on a late bid.")
    if not MIN_SECONDS <= draft.duration_seconds <= MAX_SECONDS:
        raise FieldError("duration_seconds", "An auction lasts from 10 seconds to 30 minutes.")
    if not 0 <= draft.start_price_cents <= MAX_BID_CENTS:
        raise FieldError("start_price", "Enter a starting price of zero or more.")
    if not 1 <= draft.increment_cents <= MAX_BID_CENTS:
        raise FieldError("increment", "The increment is at least 0.01.")
    if not 1 <= draft.extend_seconds <= 60:
        raise FieldError("extend_seconds", "Extend by 1 to 60 seconds.")
    if open_auction(stream.id) is not None:
        raise FieldError("auction", "Close the current auction first.")
    if not holds.take_stock(product.id, 1):
        raise FieldError("product_id", flash_sales.sold_out(stream.id, product))
    auction = Auction(stream_id=stream.id, product_id=product.id, start_price_cents=draft.start_price_cents,
                      increment_cents=draft.increment_cents, mode=draft.mode, extend_seconds=draft.extend_seconds,
                      started_at=now, ends_at=now + timedelta(seconds=draft.duration_seconds))
    db.session.add(auction)
    db.session.flush()
    live.record_event(stream, "auction_started", now, auction_id=auction.id, product_id=product.id,
                      start_price_cents=auction.start_price_cents, increment_cents=auction.increment_cents,
                      mode=auction.mode, ends_at=auction.ends_at.isoformat())
    db.session.commit()
    publish_auction(auction.id, now)
    live.publish_products(stream)
    return auction


def _locked(auction_id: int) -> Auction:
    """The auction's row, locked for a round of bids, with its leader (whose name the viewers'
    push shows when the round leaves them leading)."""
    auction = db.session.scalar(
        sa.select(Auction).where(Auction.id == auction_id)
        .options(sa.orm.lazyload("*"), sa.orm.joinedload(Auction.leader).lazyload(User.shop))
        .with_for_update(of=Auction).execution_options(populate_existing=True)
    )
    if auction is None:
        raise NotFound("There is no such auction.")
    return auction


@dataclass(frozen=True)
class _Floor:
    """What refusing a bid needs to know of an auction: its seller, and the lowest bid it took."""

    owner_id: int
    currency: str
    leader_id: int | None
    minimum: int


MAX_FLOORS = 1024


def _floors() -> dict[int, _Floor]:
    """The lowest bid each recent auction would take, as this process last saw it. A price only
    rises, so a floor seen earlier (or by this process alone) is never above the real one: a bid
    under it is too low whatever happened since, and is refused without a read. Kept on the app
    (one per process), not in the module, so that an app on another database has its own. Every
    process shares the floors its accepted bids leave (`_share`), so each hears the others' too."""
    floors = current_app.extensions.get("auction_floors")
    if floors is None:
        from realtime import current_hub
        from realtime.channels import auction_floors_channel

        floors = current_app.extensions["auction_floors"] = {}
        current_hub().listen(auction_floors_channel(), partial(_heard, floors))
    return floors


def _remember(auction_id: int, floor: _Floor, floors: dict[int, _Floor] | None = None) -> None:
    floors = _floors() if floors is None else floors
    known = floors.get(auction_id)
    if known is None or floor.minimum > known.minimum:
        if len(floors) >= MAX_FLOORS:
            floors.clear()  # auctions are short-lived: forgetting the old ones is enough
        floors[auction_id] = floor


def _rounds(auction_id: int) -> _Rounds:
    """This process's rounds of an auction's bids (see `place_bid`)."""
    rounds = current_app.extensions.setdefault("auction_rounds", {})
    found = rounds.get(auction_id)
    if found is None:
        if len(rounds) >= MAX_FLOORS:
            rounds.clear()  # a forgotten auction's bids wait on its row lock instead, nothing more
        found = rounds[auction_id] = _Rounds()
    return found


def _share(auction_id: int, floor: _Floor) -> None:
    """Tell every process the floor an accepted bid left: without it, a process hears of a higher
    price only by locking the auction's row for a bid that turns out too low."""
    from realtime import publish
    from realtime.channels import auction_floors_channel

    publish(auction_floors_channel(), json.dumps({"auction_id": auction_id, **asdict(floor)}))


def _heard(floors: dict[int, _Floor], message: str) -> None:
    """A floor another process shared (or this one: remembering it again changes nothing)."""
    fields = json.loads(message)
    _remember(fields.pop("auction_id"), _Floor(**fields), floors)


def _floor_of(auction: Auction, owner_id: int, currency: str) -> _Floor:
    return _Floor(owner_id, currency, auction.leader_id, auction.minimum_bid())


def refuse_below_floor(auction_id: int, bidder: User, amount_cents: int) -> _Floor:
    """Refuse a bid that is too low for sure (or the seller's own): the cheap first step of a bid,
    without a read once this process has seen the auction. Returns the auction's floor."""
    floor = _floors().get(auction_id)
    read_now = floor is None
    if read_now:
        # One light read (the auction's row alone, with its seller and currency).
        unlocked = db.session.execute(
            sa.select(Auction, Product.currency, Shop.owner_id).options(sa.orm.lazyload("*"))
            .join(Product, Product.id == Auction.product_id).join(Shop, Shop.id == Product.shop_id)
            .where(Auction.id == auction_id)
        ).one_or_none() if 0 < auction_id <= MAX_ID else None
        if unlocked is None:
            raise NotFound("There is no such auction.")
        floor = _floor_of(unlocked.Auction, unlocked.owner_id, unlocked.currency)
        _remember(auction_id, floor)
    if floor.owner_id == bidder.id:
        raise Forbidden("You cannot bid in your own auction.")
    if amount_cents < floor.minimum and bidder.id != floor.leader_id:
        # Too low for sure: the price only rises. Refused here, the hammering crowd's stale bids
        # never reach the database or the row lock. (The leader may raise their maximum by less
        # than an increment, so theirs go on. A bidder who has taken the lead since the floor was
        # seen bid at least the floor to do so, and cannot raise their maximum to below it either.)
        if read_now:
            db.session.rollback()
        raise FieldError("amount", f"Bid at least {format_money(floor.minimum, floor.currency)}.")
    return floor


@dataclass(frozen=True)
class AuctionBoard:
    """What every viewer sees of an auction's state (live/_auction_state.html): its price, leader,
    minimum and clock. Built from an auction as a page reads it, or from a round's locked row, so
    that a round's push to the viewers needs no read of its own."""

    auction_id: int
    status: str
    currency: str
    price_cents: int
    minimum_cents: int
    ends_at: datetime
    bid_count: int
    leader_name: str | None

    @classmethod
    def of(cls, auction: Auction, currency: str | None = None, leader_name: str | None = None) -> AuctionBoard:
        """The board of `auction`; its currency and its leader's name are read from it unless given."""
        if leader_name is None and auction.leader_id is not None:
            leader_name = auction.leader.display_name
        return cls(auction.id, auction.status, currency or auction.product.currency,
                   auction.start_price_cents if auction.current_price_cents is None else auction.current_price_cents,
                   auction.minimum_bid(), auction.ends_at, auction.bid_count, leader_name)


@dataclass(frozen=True)
class AuctionState:
    """An auction's price and leader as a bid left them: what its bidder's answer says."""

    auction_id: int
    leader_id: int | None
    price_cents: int
    currency: str


@dataclass(eq=False)
class _Bid:
    """A bid waiting for its round (see `place_bid`), and then what became of it."""

    bidder_id: int
    bidder_name: str
    amount_cents: int
    kind: str
    now: datetime | None
    state: AuctionState | None = None
    error: BaseException | None = None

    @property
    def settled(self) -> bool:
        return self.state is not None or self.error is not None


@dataclass(eq=False)
class _Rounds:
    """One auction's bids in this process: the turn at its row, and the bids waiting for it."""

    turn: threading.Lock = field(default_factory=threading.Lock)
    waiting_lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: list[_Bid] = field(default_factory=list)
    #: A round changed the auction since the seller's card was last pushed (see `_seller_card_due`).
    card_owed: bool = False
    card_pushed_at: float = float("-inf")


def place_bid(auction_id: int, bidder: User, amount_cents: int, kind: str = "bid",
              now: datetime | None = None) -> AuctionState:
    """Bid `amount_cents` ("bid") or up to it ("max"); see the module docstring for the rules.
    Returns the auction's price and leader once the bid is applied (with any bids applied with it).

    A process applies an auction's bids in rounds: whoever takes the turn at the auction's row
    applies, in one transaction, every bid that arrived while the last round ran, in the order
    they came, and each bid's caller gets its own outcome. Each bid is still judged alone, by the
    same rules; a round costs one row lock, one commit and one push for however many bids it holds,
    where a bid each had made every bid in a crowd wait for all the round trips of those before it.
    When the round's transaction fails, no bid of it is saved and each caller gets the error.
    A bid ends its session's (read-only) transaction before it waits for its round: the caller
    must have nothing unsaved in the session, and finds what it had loaded expired."""
    if kind not in ("bid", "max"):
        raise Invalid("A bid is a bid or a max bid.")
    if not 0 < amount_cents <= MAX_BID_CENTS:
        raise FieldError("amount", "Enter an amount above zero.")
    floor = refuse_below_floor(auction_id, bidder, amount_cents)
    rounds = _rounds(auction_id)
    mine, published, ran_round = _Bid(bidder.id, bidder.display_name, amount_cents, kind, now), None, False
    with rounds.waiting_lock:
        rounds.waiting.append(mine)
    # A bid waiting for its round holds no database connection (nothing is written before it):
    # only the round's runner uses one. Bids that held one while they waited would keep the
    # runner waiting for the pool behind them (a stall until the pool's timeout), or have to queue
    # for connections before they could join a round.
    db.session.rollback()
    turns.give_back()  # waiting for the round is no work
    with rounds.turn:
        if not mine.settled:  # else a round run while this bid waited for the turn has applied it
            with rounds.waiting_lock:
                batch, rounds.waiting = rounds.waiting, []
            ran_round = True
            published = _apply_round(auction_id, batch, floor, rounds)
    if published is not None:
        published()  # the round's pushes, by the bid that ran it, once the turn is free for the next
    if ran_round and _seller_card_due(rounds):
        publish_seller_card(auction_id)
    if mine.error is not None:
        raise mine.error
    return mine.state  # every round settles each of its bids


def _apply_round(auction_id: int, batch: list[_Bid], floor: _Floor,
                 rounds: _Rounds) -> Callable[[], None] | None:
    """Apply a round's bids in one transaction and settle each; returns the round's pushes."""
    try:
        auction = _locked(auction_id)
        # What the lock shows is the auction as it is: a floor fresher than the one the bids
        # passed (another process may have moved the price), kept even if they are all refused.
        _remember(auction_id, _floor_of(auction, floor.owner_id, floor.currency))
        leader_before, applied = auction.leader_id, []
        names = {bid.bidder_id: bid.bidder_name for bid in batch}
        if auction.leader is not None:
            names[auction.leader_id] = auction.leader.display_name
        for bid in batch:
            try:
                _apply_one(auction, bid, floor.currency)
            except FieldError as refused:
                bid.error = refused
            else:
                applied.append(bid)
        state = AuctionState(auction_id, auction.leader_id, auction.current_price_cents, floor.currency)
        # Read before the commit expires the row: what the viewers' push shows, and the new floor.
        board = AuctionBoard.of(auction, floor.currency, names.get(auction.leader_id))
        stream_id, floor_after = auction.stream_id, _floor_of(auction, floor.owner_id, floor.currency)
        if applied:
            db.session.commit()
            rounds.card_owed = True
        else:
            db.session.rollback()
    except BaseException as failed:
        # Also when the greenlet running the round is killed (its socket closed): the bids of the
        # others in the round must still hear that nothing of it was saved.
        for bid in batch:
            if bid.error is None:
                if isinstance(failed, DomainError):  # the auction is gone: the same answer for all
                    bid.error = failed
                else:
                    bid.error = _RoundFailed("The bids' transaction failed: none of them was saved.")
                    bid.error.__cause__ = failed
        db.session.rollback()
        if not isinstance(failed, Exception):
            raise
        return None
    _remember(auction_id, floor_after)
    for bid in batch:
        if bid.error is None:
            bid.state = state
    if not applied:
        return None
    now = max(bid.now or utcnow() for bid in applied)
    # Refused bidders are told only of their refusal: their standing, if this round changed it,
    # comes as for anyone else's.
    bidders = {bid.bidder_id for bid in applied}

    def published() -> None:
        from realtime import publish
        from realtime.channels import stream_channel
        from realtime.fragments import render_oob

        # The viewers' push first (from the round's own reading: no query): every other step waits
        # its turn on a busy worker.
        publish(stream_channel(stream_id), render_oob("live/_auction_state.html", board=board, now=now))
        _share(auction_id, floor_after)
        # A bidder whose standing changed without their asking (outbid, or their maximum answered)
        # sees it on their own pages; each bidder of the round gets it in the answer to their bid.
        for user_id in {leader_before, state.leader_id} - {None} - bidders:
            publish_standing(state, user_id)

    return published


class _RoundFailed(RuntimeError):
    """A bid's round failed to save (the cause is attached): nothing of it was saved."""


def _apply_one(auction: Auction, bid: _Bid, currency: str) -> None:
    """Apply one bid of a round to the locked `auction` (and add its rows), or raise FieldError."""
    now = bid.now or utcnow()
    if auction.status != "open" or now >= auction.ends_at:
        raise FieldError("amount", "This auction has closed.")
    rows, contested = _apply_bid(auction, bid.bidder_id, bid.amount_cents, bid.kind, now, currency)
    db.session.add_all(rows)
    auction.bid_count += len(rows)
    # Anti-snipe: only a contest extends (a leader quietly raising their maximum does not).
    if auction.mode == "extend" and contested and (auction.ends_at - now).total_seconds() < auction.extend_seconds:
        auction.ends_at = now + timedelta(seconds=auction.extend_seconds)


def standing(state: AuctionState, user_id: int) -> str:
    """What a bidder's own status line says about the auction in `state`."""
    price = format_money(state.price_cents, state.currency)
    if state.leader_id == user_id:
        return f"You lead at {price}."
    return f"Outbid: another bidder's maximum is higher. The price is now {price}."


def publish_standing(state: AuctionState, user_id: int) -> None:
    """Push a bidder's status line to their open show pages (on their own channel)."""
    from realtime import publish
    from realtime.channels import user_channel
    from realtime.fragments import render_oob

    publish(user_channel(user_id), render_oob("live/_bid_result.html", auction_id=state.auction_id,
                                              message=standing(state, user_id), error=False))


def _apply_bid(auction: Auction, bidder_id: int, amount: int, kind: str, now: datetime,
               currency: str) -> tuple[list[AuctionBid], bool]:
    """The rows the bid adds (applied to `auction`), and whether it contested the lead."""
    def row(who: int, row_kind: str, value: int, price: int, leader: int) -> AuctionBid:
        return AuctionBid(auction_id=auction.id, bidder_id=who, kind=row_kind, amount_cents=value,
                          price_after_cents=price, leader_after_id=leader, created_at=now)

    minimum = auction.minimum_bid()
    if auction.leader_id == bidder_id:
        if kind == "bid":
            raise FieldError("amount", "You are already the highest bidder.")
        if amount <= (auction.leader_max_cents or 0):
            raise FieldError("amount", f"Your maximum is already {format_money(auction.leader_max_cents, currency)}.")
        auction.leader_max_cents = amount
        return [row(bidder_id, "max", amount, auction.current_price_cents, bidder_id)], False
    if amount < minimum:
        raise FieldError("amount", f"Bid at least {format_money(minimum, currency)}.")
    bid_price = amount if kind == "bid" else minimum
    ceiling = amount
    if auction.leader_id is None:
        auction.leader_id, auction.leader_max_cents, auction.current_price_cents = bidder_id, ceiling, bid_price
        return [row(bidder_id, kind, amount, bid_price, bidder_id)], True
    leader_id, leader_max = auction.leader_id, auction.leader_max_cents or 0
    if ceiling > leader_max:
        rows = []
        if leader_max > auction.current_price_cents:
            # The outbid leader's proxy went as far as their maximum first.
            rows.append(row(leader_id, "proxy", leader_max, leader_max, leader_id))
        price = max(bid_price, min(ceiling, leader_max + auction.increment_cents))
        auction.leader_id, auction.leader_max_cents, auction.current_price_cents = bidder_id, ceiling, price
        rows.append(row(bidder_id, kind, amount, price, bidder_id))
        return rows, True
    # The leader's maximum covers this bid: their proxy answers (an equal maximum: the earlier wins).
    price = min(leader_max, ceiling + auction.increment_cents)
    auction.current_price_cents = price
    return [row(bidder_id, kind, amount, bid_price, bidder_id), row(leader_id, "proxy", price, price, leader_id)], True


def bid_history(auction: Auction, last: int | None = None) -> list[AuctionBid]:
    """The auction's bids, oldest first (only the `last` few when given: read in SQL, so a busy
    auction's every bid does not read its whole history)."""
    query = (sa.select(AuctionBid).where(AuctionBid.auction_id == auction.id)
             .options(sa.orm.joinedload(AuctionBid.bidder).lazyload(User.shop)))
    if last is None:
        return list(db.session.scalars(query.order_by(AuctionBid.id)))
    return list(reversed(db.session.scalars(query.order_by(AuctionBid.id.desc()).limit(last)).all()))


def close_auction(auction: Auction, now: datetime | None = None, *, cancel: bool = False) -> bool:
    """Close an auction whose time is up (or cancel it: no winner); False when someone else did."""
    from services import live

    now = now or utcnow()
    condition = [Auction.id == auction.id, Auction.status == "open"]
    if not cancel:
        condition.append(Auction.ends_at <= now)
    closed = db.session.execute(
        sa.update(Auction).where(*condition).values(status="cancelled" if cancel else "closed", closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:
        db.session.rollback()
        return False
    db.session.refresh(auction)
    stream = db.session.get(LiveStream, auction.stream_id)
    changes = holds.Changes(stream_ids={auction.stream_id})
    order = None
    if auction.leader_id is not None and not cancel:
        order = _winner_order(auction, stream)
        auction.order_id = order.id
    else:
        changes = holds.release_units(auction.product_id, 1, auction.stream_id, now)
    live.record_event(stream, "auction_closed" if not cancel else "auction_cancelled", now, auction_id=auction.id,
                      winner_id=None if cancel else auction.leader_id,
                      price_cents=None if cancel else auction.current_price_cents,
                      order_id=order.id if order else None)
    db.session.commit()
    publish_auction(auction.id, now)
    holds.publish_changes(changes)
    if order is not None:
        live.announce_orders([order])
    return True


def _winner_order(auction: Auction, stream: LiveStream) -> Order:
    """The winner's order at the hammer price; the payment step runs (a declined payment leaves
    it pending, for the winner to pay)."""
    product = auction.product
    order = Order(buyer_id=auction.leader_id, shop_id=product.shop_id, currency=product.currency,
                  total_cents=auction.current_price_cents, idempotency_key=f"auction:{auction.id}")
    provider = payment_provider()
    order.payment_provider = provider.name
    order.items.append(OrderItem(product_id=product.id, title=product.title,
                                 unit_price_cents=auction.current_price_cents, quantity=1, stream_id=stream.id))
    db.session.add(order)
    db.session.flush()
    db.session.add(StreamOrder(stream_id=stream.id, order_id=order.id, product_id=product.id, shop_id=product.shop_id,
                               amount_cents=order.total_cents, source="live"))
    try:
        provider.charge(order)
    except PaymentDeclined:
        order.status = "pending"
    return order


def close_due(now: datetime | None = None) -> int:
    now = now or utcnow()
    due = db.session.scalars(sa.select(Auction).where(Auction.status == "open", Auction.ends_at <= now)).all()
    return sum(close_auction(auction, now) for auction in due)


#: How stale the seller's card may get while bids keep coming (see `_seller_card_due`).
SELLER_CARD_EVERY_SECONDS = 0.5


def _seller_card_due(rounds: _Rounds) -> bool:
    """Whether the round just run should push the seller's card. In a crowd a round runs every few
    milliseconds, and a card with the last bids after each is work nobody can read: while more bids
    wait for a round, the card is pushed at most every SELLER_CARD_EVERY_SECONDS. The last round of
    a burst finds no bid waiting and always pushes it, so the card ends on the latest state."""
    now = time.monotonic()
    with rounds.waiting_lock:
        if not rounds.card_owed or (rounds.waiting and now - rounds.card_pushed_at < SELLER_CARD_EVERY_SECONDS):
            return False
        rounds.card_owed, rounds.card_pushed_at = False, now
    return True


def _loaded(auction_id: int) -> Auction | None:
    """The auction fresh from the database, with what its pushes show: the product (its currency)
    and the leader (not the leader's shop, which no push shows)."""
    return db.session.scalar(
        sa.select(Auction).where(Auction.id == auction_id)
        .options(sa.orm.joinedload(Auction.leader).lazyload(User.shop), sa.orm.joinedload(Auction.product))
        .execution_options(populate_existing=True)) if 0 < auction_id <= MAX_ID else None


def publish_auction(auction_id: int, now: datetime | None = None) -> None:
    """Push the whole auction panel to every viewer (when it starts or closes) and to the seller."""
    from realtime import publish
    from realtime.channels import stream_channel
    from realtime.fragments import render_oob

    auction = _loaded(auction_id)
    if auction is None:
        return
    now = now or utcnow()
    stream = db.session.get(LiveStream, auction.stream_id)
    publish(stream_channel(auction.stream_id),
            render_oob("live/_auction.html", stream=stream, auction=auction, now=now, message=None))
    _publish_card(auction, stream, now)


def publish_seller_card(auction_id: int) -> None:
    """Push the seller's card of an auction (its price, leader and last bids) to the console."""
    auction = _loaded(auction_id)
    if auction is not None:
        # The card of an open auction shows nothing of the show but its id: no read of it.
        _publish_card(auction, db.session.get(LiveStream, auction.stream_id) if auction.status != "open" else None,
                      utcnow())


def _publish_card(auction: Auction, stream: LiveStream | None, now: datetime) -> None:
    from realtime import publish
    from realtime.channels import seller_channel
    from realtime.fragments import render_oob

    publish(seller_channel(auction.stream_id), render_oob("shows/_auction.html", stream=stream, auction=auction,
                                                          now=now, history=bid_history(auction, last=10)))
