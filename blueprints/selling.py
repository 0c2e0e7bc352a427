"""Selling formats over HTTP: the audience's bids, entries, waitlist and claim codes, and the
seller's controls (flash sales, auctions, giveaways, claim settings). Routes parse, call a
service, and answer; what changed reaches every page through the pushes the services make."""

from __future__ import annotations

import csv
import functools
import io

from flask import Blueprint, Response, flash, render_template, url_for
from flask_login import current_user, login_required
from limits import parse as parse_limit
from werkzeug.datastructures import MultiDict

from blueprints.realtime import socket_action
from extensions import db, limiter, utcnow
from forms.selling import (
    AuctionForm,
    BidForm,
    ClaimCodeForm,
    FlashSaleForm,
    GiveawayForm,
    SellingSettingsForm,
    WaitlistForm,
)
from models import LiveStream, Product
from services import auctions, claims, flash_sales, giveaways, holds, live, selling
from services.errors import DomainError, FieldError, Forbidden, Invalid, NotFound
from services.money import parse_money
from web import ask_first, redirect_to, render, wants_fragment

bp = Blueprint("selling", __name__)


@bp.app_context_processor
def _selling_context() -> dict:
    """What the selling fragments read, so any page can include them without its route knowing:
    `my_holds()` (the shopper's held lines, for the timers on every page), `show_selling(id)` (the
    show's sale, auction and giveaway), `auction_board(auction)` (an auction's price, leader and
    clock) and `selling_console(stream)` (the seller's view of them)."""
    def my_holds() -> list:
        return holds.held_lines(current_user) if current_user.is_authenticated else []

    def selling_console(stream: LiveStream) -> dict:
        state = selling.show_selling(stream.id)
        return {"selling": state, "claims": claims.recent_claims(stream), "settings": holds.settings(stream.id),
                "unlinked": claims.unlinked_claims(stream),
                "auction_history": auctions.bid_history(state.auction, last=10) if state.auction else []}

    return {"my_holds": my_holds, "selling_now": utcnow, "show_selling": selling.show_selling,
            "selling_console": selling_console, "auction_board": auctions.AuctionBoard.of}


def _valid(form) -> None:  # noqa: ANN001
    """Raise the form's first error as a FieldError (one handler shows it)."""
    if not form.validate():
        field, errors = next(iter(form.errors.items()))
        raise FieldError(field, errors[0] if isinstance(errors, list) and errors else "Check the form.")


def _done(stream: LiveStream, message: str | None = None):  # noqa: ANN202
    """The seller's console updates itself from the pushes; a plain form post goes back to it."""
    if wants_fragment():
        return "", 204
    if message:
        flash(message, "success")
    return redirect_to(url_for("shows.studio", stream_id=stream.id))


# --- the audience --------------------------------------------------------------------------------


#: One limit for a bidder, over HTTP and over the socket alike.
BID_RATE = "10 per 2 seconds"
_BID_RATE_ITEM = parse_limit(BID_RATE)


@bp.post("/live/auctions/<int:auction_id>/bid")
@login_required
@limiter.limit(BID_RATE, key_func=lambda: f"bid:{current_user.id}")
def bid(auction_id: int):
    form = BidForm()
    try:
        _valid(form)
        message, error, status = _bid(auction_id, form), False, 200
    except NotFound:
        raise
    except DomainError as refused:
        message, error, status = refused.message or "That bid was refused.", True, 422
    if wants_fragment():
        return render("live/_bid_result.html", auction_id=auction_id, message=message, error=error, status=status)
    flash(message, "error" if error else "success")
    return redirect_to(url_for("live.show", stream_id=auctions.get_auction(auction_id).stream_id))


def _bid_failed(fields: dict, message: str) -> str:
    """A socket bid's answer when placing it failed (the message says whether it was saved)."""
    return _socket_answer(_auction_id(fields), message, True)


def _auction_id(fields: dict) -> int:
    auction_id = fields.get("auction_id")
    return auction_id if isinstance(auction_id, int) and not isinstance(auction_id, bool) else 0


@socket_action("bid", failed=_bid_failed)
def bid_over_socket(fields: dict) -> str:
    """The bid form sent over the show page's open socket (static/js/app.js does so whenever the
    socket is up): the same form, rules and answer as `bid`, without a request each time."""
    auction_id = _auction_id(fields)
    try:
        if not current_user.is_authenticated:
            raise Forbidden("Log in to bid.")
        # A stale bid (most of them, in an auction's last seconds) is answered before anything
        # else: the answer, the minimum, is public and changes nothing, and it costs next to
        # nothing. Only a bid that goes on counts against the limit (over HTTP every request
        # counts, as each costs a request).
        amount = _amount_or_none(fields.get("amount"))
        if amount is not None:
            auctions.refuse_below_floor(auction_id, current_user, amount)
        form = BidForm(formdata=MultiDict({name: str(value) for name, value in fields.items()
                                           if name in ("amount", "kind", "csrf_token")}))
        _valid(form)
        if not _within_bid_rate(current_user.id):
            raise Invalid("Too many bids at once: wait a moment and bid again.")
        message, error = _bid(auction_id, form), False
    except DomainError as refused:
        message, error = refused.message or "That bid was refused.", True
    return _socket_answer(auction_id, message, error)


@functools.lru_cache(maxsize=512)
def _socket_answer(auction_id: int, message: str, error: bool) -> str:
    """A socket bid's answer: the bidder's status line. Kept, because in a crowd most answers are
    the same few ("Bid at least $212.00.") and the fragment shows nothing else."""
    return render_template("live/_bid_result.html", auction_id=auction_id, message=message, error=error,
                           oob=True, reply=True)


def _amount_or_none(value: object) -> int | None:
    """The amount a bid names, in cents, or None when it is not one (the form says why)."""
    try:
        return parse_money(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _within_bid_rate(user_id: int) -> bool:
    """Count one socket bid against the bidder's limit (in Redis when configured, so across workers)."""
    try:
        return limiter.limiter.hit(_BID_RATE_ITEM, "bid-socket", str(user_id))
    except Exception:  # noqa: BLE001 - as RATELIMIT_SWALLOW_ERRORS does for routes: an unreachable
        return True    # store lets the bid through rather than refusing everyone's.


def _bid(auction_id: int, form: BidForm) -> str:
    """Place the (validated) form's bid for the current user; the bidder's standing after it."""
    # place_bid reads only what it needs (the hammering crowd's refusals stay cheap).
    bidder_id = current_user.id  # read now: place_bid ends the session's transaction before it waits
    state = auctions.place_bid(auction_id, current_user, form.amount.cents, form.kind.data)
    return auctions.standing(state, bidder_id)


@bp.post("/live/giveaways/<int:giveaway_id>/enter")
@login_required
def enter(giveaway_id: int):
    giveaway = giveaways.get_giveaway(giveaway_id)
    message, error, status = "You are in the draw. Good luck!", False, 200
    try:
        giveaways.enter(giveaway, current_user)
    except DomainError as refused:
        message, error, status = refused.message, True, 422
    if wants_fragment():
        return render("live/_giveaway_entry.html", giveaway=giveaway, message=message, error=error, status=status)
    flash(message, "error" if error else "success")
    return redirect_to(url_for("live.show", stream_id=giveaway.stream_id))


@bp.get("/live/giveaways/<int:giveaway_id>/draw")
def giveaway_draw(giveaway_id: int):
    """Anyone can check a draw: the seed's hash from the start, and after the draw the seed, the
    entrants and the winner's position."""
    giveaway = giveaways.get_giveaway(giveaway_id)
    entrants = giveaways.entrant_ids(giveaway) if giveaway.status != "open" else []
    index = giveaways.draw_index(giveaway.seed, entrants) if entrants else None
    return render("live/giveaway_draw.html", giveaway=giveaway, entrants=entrants, index=index,
                  stream=db.session.get(LiveStream, giveaway.stream_id))


@bp.post("/live/waitlist")
@login_required
def join_waitlist():
    form = WaitlistForm()
    _valid(form)
    product = db.session.get(Product, form.product_id.data)
    if product is None:
        raise NotFound("There is no such product.")
    holds.join_waitlist(current_user, product, form.stream_id.data)
    position = holds.waitlist_position(current_user, product.id)
    message = (f"You are number {position} on the waitlist for “{product.title}”. A released unit is held in your "
               f"cart for you.")
    if wants_fragment():
        return render("live/_waitlist_result.html", product=product, message=message)
    flash(message, "success")
    return redirect_to(url_for("live.show", stream_id=form.stream_id.data))


@bp.route("/claims", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute", methods=["POST"], key_func=lambda: f"claim-code:{current_user.id}")
def redeem_page():
    """Where a viewer types the code the seller read out for their TikTok claim."""
    form = ClaimCodeForm()
    if form.validate_on_submit():
        try:
            claim = claims.redeem(current_user, form.code.data)
        except FieldError as refused:
            form.code.errors = [refused.message]
        else:
            flash(f"“{claim.product.title}” is held in your cart.", "success")
            return redirect_to(url_for("cart.index"))
    return render("live/redeem.html", form=form, status=422 if form.errors else 200)


# --- the seller's controls -------------------------------------------------------------------------


def _owned(stream_id: int) -> LiveStream:
    return live.owned_stream(current_user, stream_id)


@bp.post("/seller/shows/<int:stream_id>/flash-sales")
@login_required
def start_sale(stream_id: int):
    stream = _owned(stream_id)
    form = FlashSaleForm()
    _valid(form)
    flash_sales.start_sale(stream, flash_sales.SaleDraft(form.product_id.data, form.price.cents, form.units.data,
                                                         form.duration_seconds.data, form.per_buyer_limit.data))
    return _done(stream, "Flash sale started.")


@bp.post("/seller/flash-sales/<int:sale_id>/end")
@login_required
def end_sale(sale_id: int):
    sale = flash_sales.get_sale(sale_id)
    stream = _owned(sale.stream_id)
    if asked := ask_first("end_sale", "End flash sale", url_for("shows.studio", stream_id=stream.id),
                          product=sale.product):
        return asked
    flash_sales.end_sale(sale, reason="seller")
    return _done(stream, "Flash sale ended.")


@bp.post("/seller/shows/<int:stream_id>/auctions")
@login_required
def start_auction(stream_id: int):
    stream = _owned(stream_id)
    form = AuctionForm()
    _valid(form)
    auctions.start_auction(stream, auctions.AuctionDraft(
        form.product_id.data, form.start_price.cents, form.increment.cents, form.duration_seconds.data,
        form.mode.data, form.extend_seconds.data or 10))
    return _done(stream, "Auction started.")


@bp.post("/seller/auctions/<int:auction_id>/cancel")
@login_required
def cancel_auction(auction_id: int):
    auction = auctions.get_auction(auction_id)
    stream = _owned(auction.stream_id)
    if asked := ask_first("cancel_auction", "Cancel auction", url_for("shows.studio", stream_id=stream.id),
                          auction=auction):
        return asked
    if not auctions.close_auction(auction, cancel=True):
        raise FieldError("auction", "This auction has already closed.")
    return _done(stream, "Auction cancelled.")


@bp.get("/seller/auctions/<int:auction_id>/bids.csv")
@login_required
def auction_bids(auction_id: int):
    """The auction's full bid history, for the audit."""
    auction = auctions.get_auction(auction_id)
    _owned(auction.stream_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["bid_id", "time_utc", "bidder_id", "bidder", "kind", "amount_cents", "price_after_cents",
                     "leader_after_id"])
    for row in auctions.bid_history(auction):
        name = row.bidder.username if row.bidder else ""
        writer.writerow([row.id, row.created_at.isoformat(), row.bidder_id, name, row.kind, row.amount_cents,
                         row.price_after_cents, row.leader_after_id])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=auction-{auction.id}-bids.csv"})


@bp.post("/seller/shows/<int:stream_id>/giveaways")
@login_required
def start_giveaway(stream_id: int):
    stream = _owned(stream_id)
    form = GiveawayForm()
    _valid(form)
    giveaways.start_giveaway(stream, form.product_id.data, form.require_comment.data, form.require_follow.data)
    return _done(stream, "Giveaway started.")


@bp.post("/seller/giveaways/<int:giveaway_id>/draw")
@login_required
def draw(giveaway_id: int):
    giveaway = giveaways.owned_giveaway(current_user, giveaway_id)
    if asked := ask_first("draw_giveaway", "Draw the winner",
                          url_for("shows.studio", stream_id=giveaway.stream_id)):
        return asked
    giveaways.draw(giveaway)
    return _done(db.session.get(LiveStream, giveaway.stream_id), "Winner drawn.")


@bp.post("/seller/shows/<int:stream_id>/selling-settings")
@login_required
def settings(stream_id: int):
    stream = _owned(stream_id)
    form = SellingSettingsForm()
    _valid(form)
    saved = holds.update_settings(stream, form.hold_minutes.data, form.claim_word.data)
    if wants_fragment():
        return render("shows/_selling_settings.html", stream=stream, settings=saved, saved=True)
    return _done(stream, "Settings saved.")
