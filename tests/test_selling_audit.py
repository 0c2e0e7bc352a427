"""An auction's every bid can be audited: its seller downloads the whole history (the bidders' own
bids and each proxy bid placed for a maximum, in the order they were applied) as CSV; nobody else
can."""

from __future__ import annotations

import csv
import io

from services import auctions
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import log_in_test_client


def test_the_seller_downloads_every_bid_and_nobody_else_can(app_ctx, client):
    _, shop = make_seller("host")
    board = make_product(shop, "Walnut Serving Board", 4000, stock=2)
    stream = make_stream(shop, [board])
    auction = auctions.start_auction(stream, auctions.AuctionDraft(board.id, 1000, 100, 60))
    ann, ben = make_user("ann"), make_user("ben")
    auctions.place_bid(auction.id, ann, 3000, "max")
    auctions.place_bid(auction.id, ben, 1500)  # ann's maximum answers: a proxy row
    auctions.place_bid(auction.id, ben, 3500, "max")  # ann's proxy goes to her maximum, ben leads
    url = f"/seller/auctions/{auction.id}/bids.csv"

    assert client.get(url).status_code == 302  # logged out: log in first
    log_in_test_client(client, "ben")
    assert client.get(url).status_code == 403  # a bidder is not the seller
    log_in_test_client(client, "host")
    answer = client.get(url)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [(row["bidder"], row["kind"], row["amount_cents"], row["price_after_cents"]) for row in rows] == [
        ("ann", "max", "3000", "1000"),
        ("ben", "bid", "1500", "1500"), ("ann", "proxy", "1600", "1600"),
        ("ann", "proxy", "3000", "3000"), ("ben", "max", "3500", "3100"),
    ]
    assert [int(row["leader_after_id"]) for row in rows] == [ann.id, ben.id, ann.id, ann.id, ben.id]
    assert len(rows) == auctions.get_auction(auction.id).bid_count
