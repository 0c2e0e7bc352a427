"""A live show end to end in two browser contexts: the seller goes live and pins a product; a
shopper watches, likes, comments and buys it; the seller's interface shows all of it without a
reload; the seller ends and saves; the replay has the chat and a buyable product."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from services.demo_images import product_picture
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import TEST_PASSWORD


def log_in(page, base_url: str, username: str) -> None:  # noqa: ANN001
    page.goto(base_url + "/login")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out", exact=True)).to_be_visible()


def test_live_show_from_go_live_to_replay(app_ctx, live_server, new_page):
    _, shop = make_seller("maya")
    mug = make_product(shop, "Speckled Mug", 2800, stock=5, image=product_picture("Speckled Mug"))
    tote = make_product(shop, "Linen Tote", 3200, stock=5)
    show = make_stream(shop, [tote, mug], live=False, title="Pottery Night")
    make_user("sam", display_name="Sam Shopper")
    base = live_server.url

    seller = new_page()
    log_in(seller, base, "maya")
    seller.goto(f"{base}/seller/shows/{show.id}")
    seller.get_by_role("button", name="Go live").click()
    expect(seller.get_by_role("button", name="End stream")).to_be_visible()
    seller.get_by_role("button", name="Pin Speckled Mug").click()
    expect(seller.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
    stats = seller.locator(f"#stream-stats-{show.id}")

    def stat(label: str):  # noqa: ANN202
        return stats.locator(".stat").filter(has=seller.locator(".stat-label", has_text=re.compile(f"^{label}$")))

    shopper = new_page()
    log_in(shopper, base, "sam")
    shopper.goto(f"{base}/live/{show.id}")
    expect(shopper.locator(f"#viewer-count-{show.id}")).to_have_text("1 watching")
    expect(shopper.locator(".featured-product").first).to_contain_text("Pinned by the seller")
    expect(shopper.locator(".featured-product").first).to_contain_text("Speckled Mug")
    expect(seller.locator(f"#viewer-list-{show.id}")).to_contain_text("Sam Shopper")

    # The name says the count ("Like, 0"), and follows it.
    shopper.get_by_role("button", name="Like, 0", exact=True).click()
    expect(shopper.get_by_role("button", name="Like, 1", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(shopper.locator(f"#like-count-{show.id}")).to_have_text("1")
    shopper.get_by_label("Comment").fill("Is it dishwasher safe?")
    shopper.get_by_role("button", name="Send").click()
    expect(shopper.locator(f"#chat-log-{show.id}")).to_contain_text("Is it dishwasher safe?")

    expect(seller.locator(f"#comment-feed-{show.id}")).to_contain_text("Is it dishwasher safe?")
    expect(stat("likes")).to_contain_text("1")

    shopper.locator(".featured-product.pinned").get_by_role("button", name="Buy now").click()
    expect(shopper.get_by_role("heading", name="Checkout")).to_be_visible()
    shopper.get_by_role("button", name="Place order").click()
    expect(shopper.get_by_text(re.compile(r"Order #\d+ is placed and paid"))).to_be_visible()

    expect(seller.locator(f"#orders-feed-{show.id}")).to_contain_text("Sam Shopper")
    expect(seller.locator(f"#orders-feed-{show.id}")).to_contain_text("1 × Speckled Mug")
    expect(stat("revenue")).to_contain_text("$28.00")
    expect(stat("orders")).to_contain_text("1")

    seller.get_by_role("button", name="End stream").click()
    dialog = seller.get_by_role("dialog", name="The show has ended")
    expect(dialog).to_contain_text("$28.00")
    dialog.get_by_role("button", name="Save stream").click()
    expect(seller.get_by_text("“Pottery Night” is saved for on-demand viewing.")).to_be_visible()
    expect(seller.get_by_role("list", name="Chat replay")).to_contain_text("Is it dishwasher safe?")

    shopper.goto(f"{base}/live/{show.id}")
    expect(shopper).to_have_url(re.compile(r"/live/replays/\d+$"))
    expect(shopper.get_by_role("list", name="Chat replay")).to_contain_text("Sam Shopper")
    tote_box = shopper.locator(".featured-product").filter(has_text="Linen Tote")
    expect(tote_box.get_by_role("button", name="Buy now")).to_be_visible()


def test_without_its_socket_the_show_page_keeps_current_by_polling(app_ctx, live_server, new_page):
    _, shop = make_seller("maya")
    show = make_stream(shop, [make_product(shop, "Linen Tote", 3200, stock=5)], title="Poll Night")
    page = new_page()
    # The page's websocket is refused every time, as behind a proxy that drops upgrades.
    page.route_web_socket(re.compile(r"/ws\?"), lambda socket: socket.close())
    page.goto(f"{live_server.url}/live/{show.id}")
    expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-down\b"))
    from services import live

    live.post_comment(show, make_user("other", display_name="Olive Other"), "Can you show the inside?")
    expect(page.locator(f"#chat-log-{show.id}")).to_contain_text("Can you show the inside?", timeout=15_000)
