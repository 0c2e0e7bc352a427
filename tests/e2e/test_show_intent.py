"""What a logged-out viewer does on a show is not lost to the login: a Like is applied when they
come back, and a typed message is back in the box, ready to send."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import TEST_PASSWORD


def log_in_here(page) -> None:  # noqa: ANN001
    page.get_by_label("Email or username").fill("sam")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_like_and_a_message_survive_the_login(app_ctx, live_server, new_page):
    _, shop = make_seller("maya")
    show = make_stream(shop, [make_product(shop, "Linen Tote", 3200, stock=5)], title="Pottery Night")
    make_user("sam", display_name="Sam Shopper")
    page = new_page()
    page.goto(f"{live_server.url}/live/{show.id}")
    # Ready, as a person sees it: the page is live (its socket is up) before the first click.
    expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
    like = page.get_by_role("button", name="Like, 0", exact=True)
    expect(like).to_have_attribute("aria-pressed", "false")
    like.click()

    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    log_in_here(page)
    expect(page).to_have_url(f"{live_server.url}/live/{show.id}")
    expect(page.get_by_text("You liked “Pottery Night”.")).to_be_visible()
    expect(page.get_by_role("button", name="Like, 1", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(page.locator(f"#like-count-{show.id}")).to_have_text("1")

    # Its socket is up before logging out: a handshake still on its way when the session ends is
    # refused (403), rightly, and the browser logs it.
    expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
    page.get_by_role("button", name="Log out", exact=True).click()
    page.goto(f"{live_server.url}/live/{show.id}")
    page.get_by_label("Comment").fill("Is the tote lined?")
    page.get_by_role("button", name="Send").click()
    log_in_here(page)
    expect(page).to_have_url(f"{live_server.url}/live/{show.id}")
    expect(page.get_by_label("Comment")).to_have_value("Is the tote lined?")
    expect(page.get_by_role("button", name="Like, 1", exact=True)).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(f"#chat-log-{show.id}")).to_contain_text("Is the tote lined?")
