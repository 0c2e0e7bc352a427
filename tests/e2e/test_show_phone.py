"""A shopper on a phone (390x844): the show fills the screen with the chat over the video, the
chat keeps its place when scrolled up (a "New messages" pill instead), and the shopper chats,
likes, opens the Shop sheet and buys the pinned product in the checkout sheet, all on one page:
the same video element and the same socket throughout. The seller's console shows the order."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from extensions import utcnow
from services import live
from services.demo_images import product_picture
from tests.e2e.test_every_page import ARTIFACTS
from tests.e2e.test_live_flow import log_in
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import TEST_PASSWORD, Browser, wait_for

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def test_a_phone_watches_chats_likes_and_buys_without_leaving_the_show(app_ctx, live_server, chromium, new_page):
    _, shop = make_seller("maya")
    mug = make_product(shop, "Speckled Mug", 2800, stock=5, image=product_picture("Speckled Mug"))
    others = [make_product(shop, title, 1500 + 100 * n, stock=9, image=product_picture(title))
              for n, title in enumerate(["Linen Tote", "Soy Candle", "Beeswax Wraps", "Plant Hanger", "Walnut Board"])]
    show = make_stream(shop, [mug, *others], title="Pottery Night")
    live.pin_product(show, mug.id)
    olive = make_user("olive", display_name="Olive Other")
    started = utcnow() - timedelta(minutes=5)
    for n in range(16):  # enough chat that the log scrolls
        live.post_comment(show, olive, f"Earlier message {n}", started + timedelta(seconds=10 * n))
    make_user("sam", display_name="Sam Shopper")
    base = live_server.url
    folder = ARTIFACTS / "journeys"
    folder.mkdir(parents=True, exist_ok=True)

    seller = new_page()
    log_in(seller, base, "maya")
    seller.goto(f"{base}/seller/shows/{show.id}")
    expect(seller.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))

    context = chromium.new_context(**PHONE)
    try:
        phone = context.new_page()
        phone.set_default_timeout(15_000)
        errors: list[str] = []
        phone.on("console", lambda message: message.type == "error" and errors.append(message.text))
        phone.on("pageerror", lambda error: errors.append(str(error)))
        sockets = []
        phone.on("websocket", lambda socket: sockets.append(socket))
        phone.goto(base + "/login")
        phone.get_by_label("Email or username").fill("sam")
        phone.get_by_label("Password").fill(TEST_PASSWORD)
        phone.get_by_role("button", name="Log in").click()
        expect(phone.get_by_text("Welcome back, Sam Shopper.")).to_be_visible()
        phone.goto(f"{base}/live/{show.id}")
        expect(phone.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
        expect(phone.locator(f"#viewer-count-{show.id}")).to_have_text("1 watching")
        phone.evaluate("window.journeyStage = document.querySelector('.video-frame > *')")
        show_sockets = [socket for socket in sockets if f"stream:{show.id}" in socket.url]
        assert len(show_sockets) == 1

        # The show is the screen: the video fills its height, the newest chat and the input are in view.
        stage = phone.locator(".show-stage").bounding_box()
        assert stage["height"] >= 844 - 80, stage
        chat_input = phone.get_by_label("Comment")
        expect(chat_input).to_be_in_viewport()
        expect(phone.get_by_text("Earlier message 15")).to_be_in_viewport()
        pinned = phone.get_by_role("button", name="Buy now: Speckled Mug")
        expect(pinned).to_be_in_viewport()
        assert phone.evaluate("document.scrollingElement.scrollWidth") <= 390
        phone.screenshot(path=str(folder / "phone-show.png"), caret="initial")

        # Scrolled up, the chat stays put and a pill says there is more.
        log = phone.locator(f"#chat-log-{show.id}")
        log.evaluate("log => { log.scrollTop = 0; log.dispatchEvent(new Event('scroll')); }")
        with Browser(base) as other:
            other.log_in("olive")
            other.submit(f"/live/{show.id}/comments", {"comment": "Does it come in blue?"}, page=f"/live/{show.id}")
        pill = phone.get_by_role("button", name="New messages")
        expect(pill).to_be_visible()
        assert log.evaluate("log => log.scrollTop") < 50
        pill.click()
        expect(phone.get_by_text("Does it come in blue?")).to_be_in_viewport()
        expect(pill).to_be_hidden()

        chat_input.fill("Is it dishwasher safe?")
        phone.get_by_role("button", name="Send").click()
        expect(phone.get_by_text("Is it dishwasher safe?")).to_be_in_viewport()
        like = phone.get_by_role("button", name=re.compile(r"^Like, \d+$"))
        likes = int(like.inner_text().split()[-1])
        like.click()
        liked = phone.get_by_role("button", name=f"Like, {likes + 1}", exact=True)  # the name follows the count
        expect(liked).to_have_attribute("aria-pressed", "true")
        expect(seller.locator(f"#comment-feed-{show.id}")).to_contain_text("Is it dishwasher safe?")

        phone.get_by_role("button", name="Shop · 6").click()
        sheet = phone.locator("#shop-sheet")
        expect(sheet).to_be_visible()
        expect(sheet.locator(".featured-product")).to_have_count(6)
        expect(sheet.get_by_role("button", name="Buy now: Walnut Board")).to_be_visible()
        phone.screenshot(path=str(folder / "phone-shop-sheet.png"), caret="initial")
        sheet.get_by_role("button", name="Close").click()
        expect(sheet).to_be_hidden()

        pinned.click()
        checkout = phone.get_by_role("dialog", name="Checkout")
        expect(checkout).to_be_visible()
        expect(checkout).to_contain_text("Speckled Mug")
        expect(checkout).to_contain_text("$28.00")
        phone.screenshot(path=str(folder / "phone-checkout-sheet.png"), caret="initial")
        checkout.get_by_role("button", name="Place order").click()
        expect(checkout.get_by_text(re.compile(r"Order #\d+ is placed and paid"))).to_be_visible()
        phone.screenshot(path=str(folder / "phone-order-placed.png"), caret="initial")
        checkout.get_by_role("button", name="Keep watching").click()
        expect(checkout).to_be_hidden()

        # One page all along: the same stage element, the same open socket, no other socket.
        assert phone.url == f"{base}/live/{show.id}"
        assert phone.evaluate("window.journeyStage === document.querySelector('.video-frame > *')")
        assert [socket for socket in sockets if f"stream:{show.id}" in socket.url] == show_sockets
        assert not show_sockets[0].is_closed()
        expect(seller.locator(f"#orders-feed-{show.id}")).to_contain_text("Sam Shopper")
        expect(seller.locator(f"#orders-feed-{show.id}")).to_contain_text("1 × Speckled Mug")
        assert errors == [], errors
    finally:
        context.close()


def test_a_message_typed_while_the_last_is_on_its_way_is_kept_and_sent(app_ctx, live_server, new_page):
    """On a slow connection a viewer sends a message and types the next before the first has gone:
    the second is not lost, nor wiped, and both arrive in order; a double press sends nothing twice."""
    _, shop = make_seller("maya")
    show = make_stream(shop, [make_product(shop, "Speckled Mug", 2800, stock=5)], title="Pottery Night")
    make_user("sam", display_name="Sam Shopper")
    page = new_page()
    log_in(page, live_server.url, "sam")
    page.goto(f"{live_server.url}/live/{show.id}")
    expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
    # The first message's request is held in the browser (a slow network) until the test lets it go.
    held = []
    page.route(re.compile(r"/live/\d+/comments$"), lambda route: held.append(route) if not held else route.continue_())
    chat = page.get_by_role("textbox", name="Comment")
    chat.fill("First!")
    page.get_by_role("button", name="Send").click()
    wait_for(lambda: page.evaluate("1") and held, timeout=60)  # evaluate: lets Playwright hand over the request
    chat.fill("Second, typed while the first was on its way")
    page.get_by_role("button", name="Send").click()
    held[0].continue_()
    lines = page.get_by_label("Chat", exact=True).locator(".chat-line")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text("First!")
    expect(lines.nth(1)).to_contain_text("Second, typed while the first was on its way")
    expect(chat).to_have_value("")
    # Send pressed twice for one message: it is sent once.
    chat.fill("Only once")
    page.get_by_role("button", name="Send").dblclick()
    expect(lines).to_have_count(3)
    expect(lines.nth(2)).to_contain_text("Only once")
    # Once the form has nothing on its way (a second press would have been queued behind the first).
    wait_for(lambda: page.locator(".comment-form form.htmx-request").count() == 0, timeout=60)
    assert [c.comment_text for c in live.comments(show)] == [
        "First!", "Second, typed while the first was on its way", "Only once"]
