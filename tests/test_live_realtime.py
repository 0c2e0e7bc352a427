"""Live shows over real websockets on real gunicorn gevent workers: presence, likes, chat, and
(with Redis) a like posted through one worker reaching a socket held by another."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import requires_redis, server_env
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import Browser, running_server
from tests.test_realtime import connect

pytestmark = pytest.mark.server


def receive_until(ws, needle: str, timeout: float = 5) -> str:  # noqa: ANN001
    """Messages until one contains `needle` (fail after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        message = ws.receive(timeout=max(0.05, deadline - time.monotonic()))
        if message is None:
            continue
        seen.append(message)
        if needle in message:
            return message
    raise AssertionError(f"{needle!r} never arrived; got {seen!r}")


@pytest.fixture(name="show")
def show_fixture(app_ctx):  # noqa: ANN001, ANN201
    _, shop = make_seller("host")
    return make_stream(shop, [make_product(shop, "Blue Vase", 4200, stock=3)])


def test_presence_likes_and_chat_reach_the_sockets(app, show, live_server):
    make_user("fan", display_name="Fan Fiona")
    with Browser(live_server.url) as seller_tab, Browser(live_server.url) as fan_tab, \
            Browser(live_server.url) as guest_tab:
        seller_tab.log_in("host")
        seller_ws = connect(live_server, f"stream-seller:{show.id}", browser=seller_tab)
        guest_tab.get(f"/live/{show.id}")  # the page issues the guest's signed visitor cookie
        viewer_ws = connect(live_server, f"stream:{show.id}", browser=guest_tab)
        try:
            assert ">1 watching<" in receive_until(viewer_ws, f'id="viewer-count-{show.id}"')
            assert "Guest" in receive_until(seller_ws, f'id="viewer-list-{show.id}"')
            fan_tab.log_in("fan")
            token = fan_tab.csrf(f"/live/{show.id}")
            fan_tab.post(f"/live/{show.id}/react/like", headers={"HX-Request": "true", "X-CSRFToken": token})
            like = receive_until(viewer_ws, f'id="like-count-{show.id}"')
            assert f'<span id="like-count-{show.id}" class="count" hx-swap-oob="true">1</span>' in like
            fan_tab.post(f"/live/{show.id}/comments", data={"comment": "Love that blue"},
                         headers={"HX-Request": "true", "X-CSRFToken": token})
            chat = receive_until(viewer_ws, "Love that blue")
            assert f'hx-swap-oob="beforeend:#chat-log-{show.id}"' in chat and "Fan Fiona" in chat
            assert "Love that blue" in receive_until(seller_ws, f"#comment-feed-{show.id}")
        finally:
            viewer_ws.close()
        assert "Nobody is watching yet." in receive_until(seller_ws, f'id="viewer-list-{show.id}"')
        seller_ws.close()


@requires_redis()
def test_a_like_posted_through_one_worker_reaches_a_socket_on_another(app, show):
    make_user("fan")
    env = server_env(app)
    with running_server(env) as first, running_server(env) as second, Browser(second.url) as fan_tab, \
            Browser(first.url) as guest_tab:
        guest_tab.get(f"/live/{show.id}")  # a signed visitor cookie: the guest counts, and is told so
        viewer_ws = connect(first, f"stream:{show.id}", browser=guest_tab)
        try:
            receive_until(viewer_ws, f'id="viewer-count-{show.id}"')
            fan_tab.log_in("fan")
            token = fan_tab.csrf(f"/live/{show.id}")
            fan_tab.post(f"/live/{show.id}/react/like", headers={"HX-Request": "true", "X-CSRFToken": token})
            like = receive_until(viewer_ws, f'id="like-count-{show.id}"')
        finally:
            viewer_ws.close()
    assert f'<span id="like-count-{show.id}" class="count" hx-swap-oob="true">1</span>' in like


def test_bids_sent_over_the_show_socket_are_answered_on_it_and_reach_every_viewer(app, show, live_server):
    """The show page sends its bid form over its open socket: the bidder's answer comes back on that
    socket, the new price reaches every viewer's, and the form's CSRF token, the login and the
    rules are checked as for the form posted over HTTP."""
    from models import Product
    from services import auctions

    vase = db.session.scalar(sa.select(Product).where(Product.title == "Blue Vase"))
    auction = auctions.start_auction(show, auctions.AuctionDraft(vase.id, 1000, 100, 600))
    fan = make_user("fan", display_name="Fan Fiona")
    with Browser(live_server.url) as fan_tab, Browser(live_server.url) as guest_tab:
        fan_tab.log_in("fan")
        token = fan_tab.csrf(f"/live/{show.id}")
        fan_ws = connect(live_server, f"stream:{show.id}", f"user:{fan.id}", browser=fan_tab)
        guest_tab.get(f"/live/{show.id}")
        guest_ws = connect(live_server, f"stream:{show.id}", browser=guest_tab)
        answer = f'id="bid-result-{auction.id}"'

        def bid(ws, amount: str, **fields) -> str:  # noqa: ANN001
            ws.send(json.dumps({"action": "bid", "auction_id": auction.id, "amount": amount, "kind": "bid",
                                "csrf_token": token, **fields}))
            return receive_until(ws, answer, timeout=120)

        try:
            reply = bid(fan_ws, "12.00")
            assert "You lead at $12.00." in reply and 'hx-swap-oob="true"' in reply
            assert "data-push-if-present" not in reply  # for the page that asked, not a push to all of them
            assert '<strong class="auction-price">$12.00</strong>' in receive_until(guest_ws, "auction-price",
                                                                                       timeout=120)
            assert "already the highest bidder" in bid(fan_ws, "20.00")
            assert "CSRF" in bid(fan_ws, "30.00", csrf_token="forged")
            assert "Log in to bid." in bid(guest_ws, "40.00")
            assert "Enter your bid" in bid(fan_ws, "")
            db.session.expire_all()
            assert db.session.get(auctions.Auction, auction.id).current_price_cents == 1200
            # Logging out ends the login session the socket was opened with: within the recheck
            # interval the socket's bids are refused, though the socket itself stays open.
            fan_tab.submit("/logout", {}, page=f"/live/{show.id}")
            deadline = time.monotonic() + 120
            while "Log in to bid." not in (reply := bid(fan_ws, "50.00")):
                assert time.monotonic() < deadline, reply
                assert "You lead" not in reply, "a logged-out socket's bid was accepted"
                time.sleep(0.5)  # a bid a half second, well within the bid rate limit
        finally:
            fan_ws.close()
            guest_ws.close()
    db.session.expire_all()
    assert db.session.get(auctions.Auction, auction.id).current_price_cents == 1200


def test_a_socket_bids_faster_than_the_limit_is_told_to_wait(app, show, live_server):
    """Bids that would reach the auction count against the bidder's limit; stale ones, refused
    before any work, do not."""
    from models import Product
    from services import auctions

    vase = db.session.scalar(sa.select(Product).where(Product.title == "Blue Vase"))
    auction = auctions.start_auction(show, auctions.AuctionDraft(vase.id, 1000, 100, 600))
    fan = make_user("fan")
    with Browser(live_server.url) as fan_tab:
        fan_tab.log_in("fan")
        token = fan_tab.csrf(f"/live/{show.id}")
        ws = connect(live_server, f"stream:{show.id}", f"user:{fan.id}", browser=fan_tab)

        def send_all(amounts: list[str]) -> str:
            for amount in amounts:  # all sent at once, without waiting for their answers
                ws.send(json.dumps({"action": "bid", "auction_id": auction.id, "amount": amount,
                                    "csrf_token": token}))
            # Answers that queue up meanwhile share a frame: count them, not the frames.
            received, deadline = "", time.monotonic() + 120
            while received.count(f'id="bid-result-{auction.id}"') < len(amounts):
                assert time.monotonic() < deadline, received
                received += ws.receive(timeout=1) or ""
            return received

        try:
            stale = send_all(["1.00"] * 5)
            # The limit is 10 in 2 s, and the stale bids did not count: the first of these leads,
            # the next nine are refused by the auction (the leader bidding again), and only the
            # eleventh by the limit.
            answers = send_all(["12.00"] * 11)
        finally:
            ws.close()
    assert stale.count("Bid at least $10.00.") == 5
    assert answers.count("You lead at $12.00.") == 1
    assert answers.count("already the highest bidder") == 9
    assert answers.count("Too many bids at once") == 1
