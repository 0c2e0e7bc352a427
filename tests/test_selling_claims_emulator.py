"""Claims from the TikTok chat, end to end with real parts: the unmodified TikTokLive client in a
gunicorn worker (INGEST_ENABLED) reads the emulator's LIVE chat; a linked viewer's "sold" puts
the pinned product on hold in their cart and reaches the seller's console over its socket; an
unlinked viewer's claim is listed with a code."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from extensions import db
from models import CartItem, ChatClaim, TikTokAccount
from services import live, tiktok
from tests.emulator_support import ingest_env, running_emulator, user
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import Browser, running_server, wait_for
from tests.test_live_realtime import receive_until
from tests.test_realtime import connect

pytestmark = pytest.mark.server


def fresh(statement):  # noqa: ANN001, ANN201
    try:
        return db.session.execute(statement).all()
    finally:
        db.session.rollback()


def test_sold_in_the_tiktok_chat_holds_the_pinned_product_for_a_linked_viewer(app_ctx, tmp_path):
    seller, shop = make_seller("maya")
    account = tiktok.link_account(seller, "@maya.live", "UTC")
    board = make_product(shop, "Walnut Serving Board", 4000, stock=5)
    stream = make_stream(shop, [board, make_product(shop, "Oak Spoon", 900, stock=5)])
    stream.tiktok_account_id = account.id
    db.session.commit()
    live.pin_product(stream, board.id)
    sam = make_user("sam", display_name="Sam Shopper")
    code = tiktok.request_link_code(sam, "@maya.live", "@sam.tt").code
    stream_id, account_id, sam_id, board_id = stream.id, account.id, sam.id, board.id

    script = [
        {"type": "wait", "delay": 2},  # time for the sockets below to subscribe
        {"type": "comment", "user": user(3001, "sam.tt", "Sam"), "text": code},  # Sam links their handle
        {"type": "wait", "delay": 0.5},
        {"type": "comment", "user": user(3001, "sam.tt", "Sam"), "text": "sold"},
        {"type": "comment", "user": user(3002, "walk.in", "Walk In"), "text": "SOLD!"},
        {"type": "comment", "user": user(3003, "chatty", "Chatty"), "text": "sold out already?"},
        {"type": "live_end"},
    ]
    rooms = [{"unique_id": "maya.live", "script": script}]
    with running_emulator(tmp_path, rooms) as emulator, running_server(ingest_env(app_ctx, emulator)) as server, \
            Browser(server.url) as seller_tab, Browser(server.url) as sam_tab:
        seller_tab.log_in("maya")
        sam_tab.log_in("sam")
        console = connect(server, f"stream-seller:{stream_id}", browser=seller_tab)
        shopper = connect(server, f"user:{sam_id}", browser=sam_tab)
        try:
            # Frames may carry several pushes (a socket's backlog goes out as one): read them all.
            pushed = receive_until(console, "claimed Walnut Serving Board → Sam Shopper", timeout=60)
            if "@walk.in" not in pushed:
                pushed += receive_until(console, "@walk.in", timeout=120)
            assert "@sam.tt claimed Walnut Serving Board → Sam Shopper" in pushed
            assert "@walk.in claimed Walnut Serving Board (not linked: code" in pushed
            held = receive_until(shopper, "Held for you", timeout=120)
            assert "Walnut Serving Board" in held and 'role="timer"' in held
        finally:
            console.close()
            shopper.close()
        wait_for(lambda: fresh(sa.select(TikTokAccount.status).where(TikTokAccount.id == account_id))
                 == [("offline",)], timeout=120, message="the LIVE to end")
        studio = seller_tab.get(f"/seller/shows/{stream_id}").text

    lines = fresh(sa.select(CartItem.product_id, CartItem.quantity, CartItem.held_until.is_not(None))
                  .where(CartItem.cart.has(user_id=sam_id)))
    assert lines == [(board_id, 1, True)]
    claims = {row.handle: row for row in db.session.scalars(sa.select(ChatClaim))}
    assert set(claims) == {"sam.tt", "walk.in"}  # "sold out already?" is not a claim
    assert claims["sam.tt"].status == "held" and claims["sam.tt"].user_id == sam_id
    walk_in = claims["walk.in"]
    assert walk_in.status == "unlinked" and walk_in.user_id is None
    assert f"@walk.in · Walnut Serving Board · code <strong class=\"claim-code\">{walk_in.code}</strong>" in studio
