"""Claims from the TikTok LIVE chat: "sold" typed on TikTok puts the product on hold here.

When a show is live with the seller's TikTok account linked to it, a comment in that account's
LIVE chat that is the show's claim word (default "sold"; the seller can change it) claims the
pinned product, and `#<n>` claims the n-th featured product. A viewer whose TikTok profile is
linked to a Streamshop account gets one unit held in their cart (services/holds.py); an unlinked
viewer's claim is listed for the seller with a one-time code to read out on air, which the viewer
types in on Streamshop to get the hold. The ingester calls `claim_from_chats` after each batch
commits, with the batch's new events only, so a replayed message never claims twice.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db, utcnow
from models import ChatClaim, LiveStream, Product, User, ViewerProfile
from services import holds
from services.errors import FieldError, NotFound

log = logging.getLogger(__name__)

CLAIM_PATTERN = re.compile(r"^\s*(?:#\s*(?P<n>\d{1,3})|(?P<word>\w{1,20}))\s*[!.]*\s*$")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to mishear on air
CODE_LENGTH = 6


def parse_claim(text: str, claim_word: str) -> int | str | None:
    """`"sold!"` -> "word"; `"#2"` -> 2; anything else -> None."""
    match = CLAIM_PATTERN.match(text or "")
    if match is None:
        return None
    if match["n"] is not None:
        return int(match["n"])
    return "word" if match["word"].casefold() == claim_word.casefold() else None


def claimed_product(stream: LiveStream, claim: int | str) -> Product | None:
    """The pinned product for the claim word; the n-th featured product (in the seller's order) for `#n`."""
    if claim == "word":
        pinned = [item.product for item in stream.featured if item.is_pinned]
        return pinned[0] if pinned else None
    ordered = sorted(stream.featured, key=lambda item: item.position)
    return ordered[claim - 1].product if isinstance(claim, int) and 1 <= claim <= len(ordered) else None


def claim_from_chats(batches: Mapping[int, Iterable], now: datetime | None = None) -> dict[int, list[ChatClaim]]:
    """The ingester's hook: apply the claims among a committed batch's new comments, by account
    (account id -> records; the live shows of all the accounts are looked up with one statement).
    Never raises (a failed claim must not fail ingest); each claim is its own transaction. Returns
    the claims made, by account id."""
    # Only a comment of one word or `#n` can be a claim: most batches have none, and then the
    # live show is not looked up at all.
    candidates = {account_id: comments for account_id, records in batches.items() if (comments := [
        r for r in records if r.kind == "comment" and r.user is not None
        and CLAIM_PATTERN.match(str(r.data.get("text") or ""))])}
    if not candidates:
        return {}
    from services import live

    try:
        shows = live.live_shows_for_tiktok_accounts(list(candidates))
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("looking up the live shows of %d accounts for claims failed", len(candidates))
        return {}
    return {account_id: _claims_in_show(account_id, shows[account_id], comments, now)
            for account_id, comments in candidates.items() if account_id in shows}


def _claims_in_show(account_id: int, stream_id: int, comments: list, now: datetime | None) -> list[ChatClaim]:
    """Apply these claim-like comments of the account's LIVE to its live show `stream_id`."""
    made = []
    try:
        word = holds.settings(stream_id).claim_word
        for record in comments:
            claim = parse_claim(str(record.data.get("text")), word)
            if claim is None:
                continue
            try:
                made.append(_claim(stream_id, account_id, record.user.id, record.user.handle or str(record.user.id),
                                   claim, now or utcnow()))
            except Exception:  # noqa: BLE001 - one bad claim must not lose the others
                db.session.rollback()
                log.exception("claim from @%s failed", record.user.handle)
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("claims of account %d failed", account_id)
    return made


def _claim(stream_id: int, account_id: int, tiktok_user_id: int, handle: str, claim: int | str,
           now: datetime) -> ChatClaim | None:
    stream = db.session.get(LiveStream, stream_id)
    product = claimed_product(stream, claim)
    if product is None:
        return None  # nothing pinned, or no such number: an ordinary comment
    linked_user_id = db.session.scalar(sa.select(ViewerProfile.linked_user_id).where(
        ViewerProfile.account_id == account_id, ViewerProfile.tiktok_user_id == tiktok_user_id))
    record = ChatClaim(stream_id=stream_id, product_id=product.id, tiktok_user_id=tiktok_user_id, handle=handle,
                       created_at=now)
    if linked_user_id is None:
        record.status = "unlinked"
        return _save_with_code(record)
    user = db.session.get(User, linked_user_id)
    record.user_id, record.status = user.id, "held"
    return _hold_for(record, user, product)


def _save_with_code(record: ChatClaim) -> ChatClaim:
    for _ in range(5):
        record.code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        db.session.add(record)
        try:
            db.session.commit()
            break
        except IntegrityError:  # the code was taken; draw another
            db.session.rollback()
    publish_claim(record)
    return record


def _hold_for(record: ChatClaim, user: User, product: Product) -> ChatClaim:
    from services import cart as carts

    stream_id = record.stream_id
    try:
        db.session.add(record)
        carts.add_to_cart(user, product, 1, stream_id, "live")  # holds it, commits the claim too
    except FieldError as refused:
        db.session.rollback()
        record = ChatClaim(stream_id=stream_id, product_id=product.id, tiktok_user_id=record.tiktok_user_id,
                           handle=record.handle, user_id=user.id, status="refused", reason=refused.message,
                           created_at=record.created_at)
        db.session.add(record)
        db.session.commit()
    publish_claim(record)
    return record


def redeem(user: User, code: str) -> ChatClaim:
    """An unlinked viewer types the code the seller read out: the product is held in their cart."""
    from services import cart as carts

    code = (code or "").strip().upper()
    record = db.session.scalar(sa.select(ChatClaim).where(ChatClaim.code == code))
    if record is None or record.status != "unlinked":
        raise FieldError("code", "That code is not valid (or was used already).")
    stream = db.session.get(LiveStream, record.stream_id)
    if stream is None or stream.status != "live":
        raise FieldError("code", "That show has ended, so its claims have lapsed.")
    taken = db.session.execute(sa.update(ChatClaim).where(ChatClaim.id == record.id, ChatClaim.status == "unlinked")
                               .values(status="redeemed", user_id=user.id).execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        db.session.rollback()
        raise FieldError("code", "That code was used already.")
    try:
        carts.add_to_cart(user, record.product, 1, stream.id, "live")
    except FieldError:
        db.session.rollback()
        raise
    db.session.refresh(record)
    publish_claim(record)
    return record


def recent_claims(stream: LiveStream, limit: int = 30) -> list[ChatClaim]:
    return list(db.session.scalars(sa.select(ChatClaim).where(ChatClaim.stream_id == stream.id)
                                   .order_by(ChatClaim.id.desc()).limit(limit)))


def unlinked_claims(stream: LiveStream) -> list[ChatClaim]:
    return list(db.session.scalars(sa.select(ChatClaim).where(ChatClaim.stream_id == stream.id,
                                                              ChatClaim.status == "unlinked")
                                   .order_by(ChatClaim.id)))


def get_claim(claim_id: int) -> ChatClaim:
    record = db.session.get(ChatClaim, claim_id)
    if record is None:
        raise NotFound("There is no such claim.")
    return record


def publish_claim(record: ChatClaim) -> None:
    """The seller's console gets the claim line and the unlinked list; the shopper, the claim and its timer."""
    from realtime import publish
    from realtime.channels import seller_channel, user_channel
    from realtime.fragments import render_oob

    stream = db.session.get(LiveStream, record.stream_id)
    publish(seller_channel(stream.id), render_oob("shows/_claim_line.html", stream=stream, claim=record)
            + render_oob("shows/_unlinked_claims.html", stream=stream, claims=unlinked_claims(stream)))
    if record.user_id is not None and record.status in ("held", "redeemed"):
        user = db.session.get(User, record.user_id)
        notice = f"You claimed “{record.product.title}” on TikTok (@{record.handle}): it is held in your cart."
        publish(user_channel(user.id), render_oob("live/_holds.html", holds=holds.held_lines(user), now=utcnow(),
                                                  notice=notice))
