"""The seller's console tells what a product has left to sell: its product pickers say what is on
sale now (not units a flash sale has set aside), are pushed again when the show's stock changes,
and starting an auction or a giveaway on a product the flash sale holds says why it cannot."""

from __future__ import annotations

import re

import pytest

from realtime.channels import seller_channel
from services import auctions, flash_sales, giveaways
from services.errors import FieldError
from tests.factories import make_product, make_seller, make_stream
from tests.support import log_in_test_client


@pytest.fixture(name="show")
def show_fixture(app_ctx):  # noqa: ANN001, ANN201
    _, shop = make_seller("host")
    board = make_product(shop, "Walnut Serving Board", 4000, stock=5)
    return make_stream(shop, [board, make_product(shop, "Oak Spoon", 900, stock=3)]), board


def options(html: str, control: str, stream_id: int) -> dict[str, str]:
    """The options of one control's product picker: product title -> what its option says."""
    section = re.search(rf'<div id="seller-{control}-{stream_id}".*?</form>', html, re.S)
    picker = section and re.search(r'<select[^>]*name="product_id".*?</select>', section.group(0), re.S)
    assert picker, f"no {control} picker"
    return {text.split(" (")[0]: text.strip() for text in re.findall(r"<option[^>]*>([^<]+)</option>", picker.group(0))}


def test_the_pickers_do_not_offer_units_a_flash_sale_holds(client, show):
    stream, board = show
    log_in_test_client(client, "host")
    page = client.get(f"/seller/shows/{stream.id}").get_data(as_text=True)
    assert "5 in stock" in options(page, "auction", stream.id)["Walnut Serving Board"]
    flash_sales.start_sale(stream, flash_sales.SaleDraft(board.id, 2500, 5, 60, 1))  # every unit
    page = client.get(f"/seller/shows/{stream.id}").get_data(as_text=True)
    for control in ("auction", "giveaway"):
        offered = options(page, control, stream.id)
        assert offered["Walnut Serving Board"] == "Walnut Serving Board ($40.00, sold out)"
        assert offered["Oak Spoon"] == "Oak Spoon ($9.00, 3 in stock)"


def test_the_pickers_are_pushed_when_stock_changes_and_keep_their_place(app, show):
    """A console opened before the sale started learns that its units have gone: without the
    push its pickers would go on offering five."""
    stream, board = show
    if hasattr(app.extensions["hub"], "redis"):
        pytest.skip("in-process delivery is what this checks; the Redis hub delivers the same messages")
    heard = app.extensions["hub"].subscribe([seller_channel(stream.id)])
    flash_sales.start_sale(stream, flash_sales.SaleDraft(board.id, 2500, 5, 60, 1))
    pushed = [message for message in heard.drain(50) if isinstance(message, str) and "<select" in message]
    pickers = {re.search(r'id="pick-(\w+)-', message).group(1): message for message in pushed}
    assert set(pickers) == {"flash", "auction", "giveaway"}
    for message in pickers.values():
        assert 'hx-swap-oob="true"' in message and "data-push-if-present" in message
        assert message.lstrip().startswith("<select")  # the element swapped is the picker itself
        assert "Walnut Serving Board ($40.00, sold out)" in message and "Oak Spoon ($9.00, 3 in stock)" in message


def test_starting_an_auction_or_giveaway_on_units_the_flash_sale_holds_says_why(show):
    stream, board = show
    flash_sales.start_sale(stream, flash_sales.SaleDraft(board.id, 2500, 5, 60, 1))
    with pytest.raises(FieldError, match="sold out: the flash sale holds its last 5 units"):
        auctions.start_auction(stream, auctions.AuctionDraft(board.id, 100, 100, 60))
    with pytest.raises(FieldError, match="sold out: the flash sale holds its last 5 units"):
        giveaways.start_giveaway(stream, board.id)
