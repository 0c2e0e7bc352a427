"""The seller's Selling panel on a laptop (1366x768), used from the keyboard: it opens from its
button over the console and fits the screen, a flash sale starts from the keyboard, ending it asks
first (and "no" keeps it running), and Escape closes the panel, back on its button."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from services import live
from tests.e2e.test_console_laptop import LAPTOP
from tests.e2e.test_every_page import ARTIFACTS
from tests.e2e.test_live_flow import log_in
from tests.factories import make_product, make_seller, make_stream


def open_console(context, base_url: str, show, errors: list[str]):  # noqa: ANN001, ANN201
    """The seller maya's console of `show`, live (socket up), reporting console errors into `errors`."""
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, base_url, "maya")
    page.goto(f"{base_url}/seller/shows/{show.id}")
    expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
    return page


def test_the_selling_panel_works_from_the_keyboard_on_a_laptop(app_ctx, live_server, chromium):
    _, shop = make_seller("maya")
    board = make_product(shop, "Walnut Serving Board", 4000, stock=10)
    show = make_stream(shop, [board, make_product(shop, "Signed Print", 9000, stock=1)], title="Friday Drop")
    live.pin_product(show, board.id)
    folder = ARTIFACTS / "journeys"
    folder.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(**LAPTOP)
    errors: list[str] = []
    try:
        page = open_console(context, live_server.url, show, errors)

        opener = page.locator("summary", has_text="Selling")
        opener.focus()
        page.keyboard.press("Enter")
        panel = page.get_by_role("region", name="Selling")
        expect(panel).to_be_visible()
        # The whole panel is on the screen (it scrolls inside itself when taller).
        box = page.locator(".console-selling-panel").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1366, box
        assert box["y"] >= 0 and box["y"] + box["height"] <= 768, box
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 1366

        # From the keyboard: type the sale price (the other fields have defaults), Enter starts it.
        panel.get_by_label("Sale price").focus()
        page.keyboard.type("25")
        page.keyboard.press("Enter")
        end = panel.get_by_role("button", name="End flash sale")
        expect(end).to_be_visible()
        expect(panel).to_contain_text("Walnut Serving Board")
        page.screenshot(path=str(folder / "laptop-console-selling.png"))

        # Ending asks first; "Cancel" keeps the sale running.
        questions: list[str] = []

        def answer(dialog, accept: bool) -> None:  # noqa: ANN001
            questions.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        page.once("dialog", lambda dialog: answer(dialog, False))
        end.focus()
        page.keyboard.press("Enter")
        expect(end).to_be_visible()
        assert questions and "End the flash sale" in questions[0]
        page.once("dialog", lambda dialog: answer(dialog, True))
        end.focus()
        page.keyboard.press("Enter")
        expect(panel.get_by_role("button", name="Start flash sale")).to_be_visible()

        # Escape closes the panel and leaves the focus on its button.
        page.keyboard.press("Escape")
        expect(panel).to_be_hidden()
        expect(opener).to_be_focused()
    finally:
        context.close()
    assert errors == [], f"browser console errors: {errors}"


def test_a_pushed_product_picker_says_what_is_left_and_keeps_the_sellers_choice(app_ctx, live_server, chromium):
    """The seller picks the spoon for the next auction, then puts every board in a flash sale: the
    auction's picker now says the board is sold out (pushed, no reload), and still has the spoon."""
    _, shop = make_seller("maya")
    board = make_product(shop, "Walnut Serving Board", 4000, stock=5)
    spoon = make_product(shop, "Oak Spoon", 900, stock=3)
    show = make_stream(shop, [board, spoon], title="Friday Drop")
    live.pin_product(show, board.id)
    context = chromium.new_context(**LAPTOP)
    errors: list[str] = []
    try:
        page = open_console(context, live_server.url, show, errors)
        page.locator("summary", has_text="Selling").click()
        auction_picker = page.locator(f"#seller-auction-{show.id}").get_by_role("combobox", name="Product")
        expect(auction_picker.get_by_role("option", name="Walnut Serving Board ($40.00, 5 in stock)")).to_have_count(1)
        auction_picker.select_option(label="Oak Spoon ($9.00, 3 in stock)")

        sale = page.locator(f"#seller-flash-sale-{show.id}")
        sale.get_by_role("combobox", name="Product").select_option(label="Walnut Serving Board ($40.00, 5 in stock)")
        sale.get_by_label("Sale price").fill("25")
        sale.get_by_label("Units").fill("5")
        sale.get_by_role("button", name="Start flash sale").click()
        expect(sale.get_by_role("button", name="End flash sale")).to_be_visible()

        expect(auction_picker.get_by_role("option", name="Walnut Serving Board ($40.00, sold out)")).to_have_count(1)
        expect(auction_picker).to_have_value(str(spoon.id))
        giveaway_picker = page.locator(f"#seller-giveaway-{show.id}").get_by_role("combobox", name="Product")
        expect(giveaway_picker.get_by_role("option", name="Walnut Serving Board ($40.00, sold out)")).to_have_count(1)
        expect(giveaway_picker).to_have_value(str(board.id))  # untouched: still the pinned board
    finally:
        context.close()
    assert errors == [], f"browser console errors: {errors}"
