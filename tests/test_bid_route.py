"""The bid form posted as a request: what a show page does while its socket is down (bids sent over
the socket are tested on a real server in tests/test_live_realtime.py)."""

from __future__ import annotations

from services import auctions
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import log_in_test_client


def test_a_bid_posted_as_a_form_is_answered_like_one_sent_over_the_socket(app_ctx, client):
    """While a page's socket is down its bid form posts as usual (static/js/app.js): the route
    answers the bidder's status line for an htmx post, a 422 with the reason for a refusal, and a
    redirect back to the show for a plain post."""
    _, shop = make_seller("host")
    board = make_product(shop, "Walnut Serving Board", 4000, stock=2)
    stream = make_stream(shop, [board])
    auction = auctions.start_auction(stream, auctions.AuctionDraft(board.id, 1000, 100, 60))
    make_user("ann")
    token = log_in_test_client(client, "ann")
    url = f"/live/auctions/{auction.id}/bid"
    htmx = {"HX-Request": "true", "X-CSRFToken": token}

    answer = client.post(url, data={"amount": "12.00", "kind": "bid"}, headers=htmx)
    assert answer.status_code == 200 and "You lead at $12.00." in answer.get_data(as_text=True)
    answer = client.post(url, data={"amount": "5.00", "kind": "bid"}, headers=htmx)
    assert answer.status_code == 422 and "already the highest bidder" in answer.get_data(as_text=True)
    answer = client.post(url, data={"amount": "", "kind": "bid"}, headers=htmx)
    assert answer.status_code == 422 and "Enter your bid" in answer.get_data(as_text=True)
    answer = client.post(url, data={"amount": "20.00", "kind": "bid", "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/live/{stream.id}")
    assert client.post(url, data={"amount": "30.00", "kind": "bid"}).status_code == 400  # no CSRF token
    assert client.post("/live/auctions/999/bid", data={"amount": "30.00"}, headers=htmx).status_code == 404
    assert auctions.get_auction(auction.id).current_price_cents == 1200
