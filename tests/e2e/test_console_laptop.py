"""The seller's console on a laptop (1366x768): preview, stats, chat, orders, viewers and the
product rail are all in view without scrolling; new chat scrolls into view; once the show has
ended the setup and the Pin buttons are gone."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from services import checkout, live
from services.demo_images import product_picture
from tests.e2e.test_every_page import ARTIFACTS
from tests.e2e.test_live_flow import log_in
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import Browser

LAPTOP = {"viewport": {"width": 1366, "height": 768}}


def test_the_console_fits_a_laptop_and_follows_the_chat(app_ctx, live_server, chromium):
    _, shop = make_seller("maya")
    products = [make_product(shop, title, 1500 + 100 * n, stock=9, image=product_picture(title))
                for n, title in enumerate(["Speckled Mug", "Linen Tote", "Soy Candle", "Beeswax Wraps",
                                           "Plant Hanger", "Walnut Board"])]
    show = make_stream(shop, products, title="Pottery Night")
    live.pin_product(show, products[0].id)
    fans = [make_user(f"fan{n}", display_name=f"Fan Number {n}") for n in range(3)]
    for n in range(40):  # more chat than fits
        live.post_comment(show, fans[n % 3], f"Earlier comment {n}")
    for fan in fans:
        order = checkout.buy_now_checkout(products[1].id, 1, show.id)
        checkout.place_order(fan, order, uuid.uuid4().hex, order.fingerprint())
    folder = ARTIFACTS / "journeys"
    folder.mkdir(parents=True, exist_ok=True)

    context = chromium.new_context(**LAPTOP)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        log_in(page, live_server.url, "maya")
        page.goto(f"{live_server.url}/seller/shows/{show.id}")
        expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
        with Browser(live_server.url) as viewer:  # someone watching, so the viewer list has a name
            viewer.log_in("fan0")
            viewer.get(f"/live/{show.id}")

            page.screenshot(path=str(folder / "laptop-console.png"), caret="initial")
            # Everything in view, nothing to scroll.
            # (The selling controls, flash sales and auctions, follow below the one-screen console.)
            console = page.locator(".console").bounding_box()
            assert page.evaluate("document.scrollingElement.scrollTop") == 0
            assert console["y"] + console["height"] <= 768, console
            assert page.evaluate("document.scrollingElement.scrollWidth") <= 1366
            camera = page.get_by_role("button", name="Start camera and microphone preview")
            for region in (camera, page.get_by_role("region", name="Stream stats"),
                           page.get_by_label("Comments feed"), page.get_by_role("list", name="Orders"),
                           page.get_by_role("list", name="Viewers"), page.get_by_role("button", name="Pin Linen Tote"),
                           page.get_by_role("button", name="End stream")):
                expect(region).to_be_in_viewport()
            expect(page.get_by_text("Earlier comment 39")).to_be_in_viewport()
            expect(page.get_by_role("list", name="Orders")).to_contain_text("Fan Number 2")

            # New chat scrolls into view.
            viewer.submit(f"/live/{show.id}/comments", {"comment": "Is the walnut board food safe?"},
                          page=f"/live/{show.id}")
            expect(page.get_by_text("Is the walnut board food safe?")).to_be_in_viewport()
            page.screenshot(path=str(folder / "laptop-console.png"), caret="initial")

        # Ended: no setup, no Pin buttons, and "Delete stream" is a danger button that asks first.
        page.get_by_role("button", name="End stream").click()
        dialog = page.get_by_role("dialog", name="The show has ended")
        expect(dialog).to_be_visible()
        # The page's scripts have run (its socket is up), so Delete asks in the browser; a click
        # before they run is asked on a page of the server's (test_confirm_first.py).
        expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
        expect(page.get_by_role("button", name="Start camera and microphone preview")).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile(r"^(Pin|Unpin) "))).to_have_count(0)
        delete = dialog.get_by_role("button", name="Delete stream")
        expect(delete).to_have_class(re.compile(r"\bbutton-danger\b"))
        questions: list[str] = []
        page.once("dialog", lambda question: (questions.append(question.message), question.dismiss()))
        delete.click()
        expect(dialog).to_be_visible()  # dismissed: nothing was deleted
        assert questions == ["Delete this show? It will not be kept as a replay."]
        page.reload()
        expect(page.get_by_role("button", name="Start camera and microphone preview")).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile(r"^(Pin|Unpin) "))).to_have_count(0)
        assert errors == [], errors
    finally:
        context.close()
