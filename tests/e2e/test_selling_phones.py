"""Two shoppers on phones (390x844) watch one show: the flash-sale countdown and the auction are
on both screens, a bid typed on one phone reaches the other over its socket (measured), a
proxy bid answers, and buying in the flash sale takes a unit off the count on the other phone."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from services import auctions, flash_sales, live
from tests.e2e.test_every_page import ARTIFACTS
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import TEST_PASSWORD

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def phone_page(chromium, errors: list[str]):  # noqa: ANN001, ANN201
    context = chromium.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("console", lambda message: message.type == "error"
            and not re.search(r"status of (401|422) ", message.text) and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page


def log_in(page, base: str, username: str, display_name: str) -> None:  # noqa: ANN001
    page.goto(base + "/login")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text(f"Welcome back, {display_name}.")).to_be_visible()


def test_two_phones_see_the_countdown_and_each_others_bids(app_ctx, live_server, chromium):
    _, shop = make_seller("maya")
    board = make_product(shop, "Walnut Serving Board", 4000, stock=10)
    print_ = make_product(shop, "Signed Print", 9000, stock=1)
    show = make_stream(shop, [board, print_], title="Friday Drop")
    live.pin_product(show, board.id)
    flash_sales.start_sale(show, flash_sales.SaleDraft(board.id, 2500, 5, 600, 1))
    auctions.start_auction(show, auctions.AuctionDraft(print_.id, 1000, 100, 600, "extend", 10))
    make_user("ann", display_name="Ann Bidder")
    make_user("ben", display_name="Ben Bidder")
    base = live_server.url
    folder = ARTIFACTS / "journeys"
    folder.mkdir(parents=True, exist_ok=True)

    errors: list[str] = []
    contexts = []
    try:
        pages = {}
        for name, display_name in (("ann", "Ann Bidder"), ("ben", "Ben Bidder")):
            context, page = phone_page(chromium, errors)
            contexts.append(context)
            log_in(page, base, name, display_name)
            page.goto(f"{base}/live/{show.id}")
            expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
            pages[name] = page
        ann, ben = pages["ann"], pages["ben"]
        # With their sockets up, the phones send their bids over them, not as requests.
        bid_posts: list[str] = []
        for page in (ann, ben):
            page.on("request", lambda request: "/bid" in request.url and bid_posts.append(request.url))
        # Ann also has her cart open in another tab: her status pushes reach it too (her own
        # channel), and it has no auction to update, so it must ignore them without an error.
        ann_cart = contexts[0].new_page()
        ann_cart.on("console", lambda message: message.type == "error" and errors.append(f"cart tab: {message.text}"))
        ann_cart.on("pageerror", lambda error: errors.append(f"cart tab: {error}"))
        ann_cart.goto(f"{base}/cart")
        expect(ann_cart.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))

        for page in (ann, ben):
            sale = page.get_by_role("region", name="Flash sale")
            expect(sale).to_be_visible()
            timer = sale.get_by_role("timer", name="Flash sale time left")
            expect(timer).to_have_text(re.compile(r"^(10:00|9:[0-5]\d)$"))
            expect(sale.get_by_text("5 left")).to_be_visible()
            auction = page.get_by_role("region", name="Auction")
            expect(auction).to_be_visible()
            expect(auction.get_by_text("Signed Print")).to_be_visible()
            assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        # The countdown runs on its own, by server time.
        first = ben.get_by_role("timer", name="Flash sale time left").inner_text()
        expect(ben.get_by_role("timer", name="Flash sale time left")).not_to_have_text(first)
        ann.screenshot(path=str(folder / "phone-selling.png"))

        # Ann bids; Ben's phone shows it without reloading. Ben's page notes when the price changed.
        ben.evaluate("""() => {
            const observer = new MutationObserver(() => {
                const price = document.querySelector('.auction-price');
                if (price && price.textContent.includes('$12.00') && !window.bidSeenAt) window.bidSeenAt = Date.now();
            });
            observer.observe(document.body, {subtree: true, childList: true, characterData: true});
        }""")
        auction = ann.get_by_role("region", name="Auction")
        auction.get_by_label(re.compile("Your bid")).fill("12")
        sent_at = ann.evaluate("Date.now()")
        auction.get_by_role("button", name="Bid", exact=True).click()
        expect(auction.get_by_text("You lead at $12.00.")).to_be_visible()
        ben_auction = ben.get_by_role("region", name="Auction")
        expect(ben_auction.locator(".auction-leader")).to_have_text("Ann Bidder")
        expect(ben_auction.locator(".auction-price")).to_have_text("$12.00")
        latency_ms = ben.evaluate("window.bidSeenAt") - sent_at
        print(f"bid from one phone shown on the other after {latency_ms} ms (click to DOM, same machine clock)")
        assert 0 < latency_ms < 10_000

        # Ben sets a max bid; Ann's phone shows Ben leading at the proxy price.
        ben_auction.get_by_label(re.compile("Your bid")).fill("20")
        ben_auction.get_by_role("button", name="Set max bid").click()
        expect(ben_auction.get_by_text("You lead at $13.00.")).to_be_visible()
        expect(auction.locator(".auction-leader")).to_have_text("Ben Bidder")
        expect(auction.locator(".auction-price")).to_have_text("$13.00")
        # Ann's own status line follows: she no longer leads, and her page says so unasked.
        expect(auction.get_by_role("status")).to_have_text(re.compile(r"Outbid.*\$13\.00"))
        expect(auction.get_by_text("You lead at $12.00.")).to_have_count(0)
        # Ann's plain bid under Ben's maximum is answered by his proxy at once.
        auction.get_by_label(re.compile("Your bid")).fill("15")
        auction.get_by_role("button", name="Bid", exact=True).click()
        expect(auction.get_by_text(re.compile(r"Outbid.*\$16\.00"))).to_be_visible()
        assert bid_posts == [], "a bid went out as a request while the page's socket was up"
        expect(ben_auction.locator(".auction-price")).to_have_text("$16.00")
        # Ben's maximum answered for him: his status line shows the new price, not the old one.
        expect(ben_auction.get_by_role("status")).to_have_text("You lead at $16.00.")

        # Ann buys in the flash sale; Ben's count goes down.
        ann.get_by_role("region", name="Flash sale").get_by_role("button", name="Buy at $25.00").click()
        ann.get_by_role("button", name="Place order").click()
        expect(ann.get_by_text(re.compile(r"placed and paid"))).to_be_visible()
        expect(ben.get_by_role("region", name="Flash sale").get_by_text("4 left")).to_be_visible()
        ben.screenshot(path=str(folder / "phone-selling-after-bids.png"))
    finally:
        for context in contexts:
            context.close()
    assert errors == [], f"browser console errors: {errors}"


def _boxes_apart(page, boxes: dict[str, dict]) -> None:  # noqa: ANN001
    """Every box lies within the viewport, and no two of them overlap."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    for name, box in boxes.items():
        assert box is not None, f"{name} is not on screen"
        assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width + 0.5 \
            and box["y"] + box["height"] <= height + 0.5, f"{name} is outside the {width}x{height} screen: {box}"
    names = list(boxes)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            a, b = boxes[first], boxes[second]
            apart = (a["x"] + a["width"] <= b["x"] + 0.5 or b["x"] + b["width"] <= a["x"] + 0.5
                     or a["y"] + a["height"] <= b["y"] + 0.5 or b["y"] + b["height"] <= a["y"] + 0.5)
            assert apart, f"{first} {a} overlaps {second} {b}"


def test_on_a_phone_selling_cards_chat_and_likes_keep_apart(app_ctx, live_server, chromium):
    """At 390x844, with a flash sale and then an auction as well: the chat's input, its latest
    message, the Like button and each selling card are on screen and none covers another."""
    _, shop = make_seller("maya")
    board = make_product(shop, "Walnut Serving Board", 4000, stock=10)
    print_ = make_product(shop, "Signed Print", 9000, stock=1)
    show = make_stream(shop, [board, print_], title="Friday Drop")
    live.pin_product(show, board.id)
    make_user("ann", display_name="Ann Bidder")
    flash_sales.start_sale(show, flash_sales.SaleDraft(board.id, 2500, 5, 600, 1))
    base = live_server.url
    folder = ARTIFACTS / "journeys"
    folder.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    context, page = phone_page(chromium, errors)
    try:
        log_in(page, base, "ann", "Ann Bidder")
        page.goto(f"{base}/live/{show.id}")
        expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
        chat = page.get_by_role("textbox", name="Comment")
        for text in ("Hi from the bus!", "Is the walnut board food safe? Asking for my kitchen, which is tiny",
                     "Latest message: how big is it?"):
            chat.fill(text)
            page.get_by_role("button", name="Send").click()
            expect(page.get_by_label("Chat", exact=True).locator(".chat-line").last).to_contain_text(text)

        def boxes(*regions: str) -> dict[str, dict]:
            found = {"chat input": chat.bounding_box(),
                     "latest chat message": page.locator(".chat-line").last.bounding_box(),
                     "Like button": page.get_by_role("button", name=re.compile(r"^Like")).bounding_box(),
                     "Send button": page.get_by_role("button", name="Send").bounding_box()}
            for region in regions:
                found[region] = page.get_by_role("region", name=region).bounding_box()
            return found

        expect(page.get_by_role("region", name="Flash sale")).to_be_visible()
        _boxes_apart(page, boxes("Flash sale"))
        page.screenshot(path=str(folder / "phone-selling-flash-sale-chat.png"))

        # The seller starts an auction too (its push is another test's; here the page is opened
        # again): still nothing overlaps.
        auctions.start_auction(show, auctions.AuctionDraft(print_.id, 1000, 100, 600, "extend", 10))
        page.reload()
        auction = page.get_by_role("region", name="Auction")
        expect(auction).to_be_visible()
        _boxes_apart(page, boxes("Flash sale", "Auction"))
        # Both cards are whole, not cut off by their scrolling column, bid input and all.
        column = page.locator(".selling-overlays").bounding_box()
        for part in (page.get_by_role("region", name="Flash sale"), auction,
                     auction.get_by_label(re.compile("Your bid")), auction.get_by_role("button", name="Set max bid")):
            box = part.bounding_box()
            assert column["y"] - 0.5 <= box["y"] and box["y"] + box["height"] <= column["y"] + column["height"] + 0.5
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        page.screenshot(path=str(folder / "phone-selling-auction-chat.png"))

        wide = chromium.new_context(viewport={"width": 1366, "height": 768})
        try:
            desk = wide.new_page()
            log_in(desk, base, "ann", "Ann Bidder")
            desk.goto(f"{base}/live/{show.id}")
            expect(desk.get_by_role("region", name="Auction")).to_be_visible()
            assert desk.evaluate("document.scrollingElement.scrollWidth") <= 1366
            desk.screenshot(path=str(folder / "desktop-selling-chat.png"))
        finally:
            wide.close()
    finally:
        context.close()
    assert errors == [], f"browser console errors: {errors}"


def test_on_a_phone_the_sellers_selling_panel_opens_on_screen_and_shows_a_bid(app_ctx, live_server, chromium):
    """At 390 px the console's Selling button wraps to the left edge: its panel opens under it,
    whole and on screen (it used to hang from the button's right edge, off the screen), and a bid
    sent from a viewer's phone over its socket shows on it."""
    _, shop = make_seller("maya")
    print_ = make_product(shop, "Signed Print", 9000, stock=1)
    show = make_stream(shop, [print_], title="Friday Drop")
    auctions.start_auction(show, auctions.AuctionDraft(print_.id, 1000, 100, 600, "extend", 10))
    make_user("ann", display_name="Ann Bidder")
    base = live_server.url
    errors: list[str] = []
    seller_context, seller = phone_page(chromium, errors)
    viewer_context, ann = phone_page(chromium, errors)
    try:
        seller.goto(base + "/login")
        seller.get_by_label("Email or username").fill("maya")
        seller.get_by_label("Password").fill(TEST_PASSWORD)
        seller.get_by_role("button", name="Log in").click()
        expect(seller.get_by_text(re.compile("Welcome back"))).to_be_visible()
        seller.goto(f"{base}/seller/shows/{show.id}")
        expect(seller.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
        seller.locator("summary", has_text="Selling").click()
        panel = seller.get_by_role("region", name="Selling")
        expect(panel).to_be_visible()
        box = panel.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        assert seller.evaluate("document.scrollingElement.scrollWidth") <= 390

        log_in(ann, base, "ann", "Ann Bidder")
        ann.goto(f"{base}/live/{show.id}")
        expect(ann.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
        auction = ann.get_by_role("region", name="Auction")
        auction.get_by_label(re.compile("Your bid")).fill("12")
        # The page catches up (as after its socket was down): the whole panel is swapped in again,
        # and the amount being typed stays.
        with ann.expect_response(re.compile(rf"/live/{show.id}/refresh")):
            ann.evaluate("htmx.trigger(document.body, 'socket-poll')")
        expect(auction.get_by_label(re.compile("Your bid"))).to_have_value("12")
        auction.get_by_role("button", name="Bid", exact=True).click()
        expect(auction.get_by_text("You lead at $12.00.")).to_be_visible()
        expect(panel.get_by_text(re.compile(r"\$12\.00 by Ann Bidder"))).to_be_visible()
        folder = ARTIFACTS / "journeys"
        folder.mkdir(parents=True, exist_ok=True)
        seller.screenshot(path=str(folder / "phone-console-selling.png"))
    finally:
        seller_context.close()
        viewer_context.close()
    assert errors == [], errors
