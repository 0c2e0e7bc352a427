"""Destroying something asks first, and "Cancel" destroys nothing, in a real browser:

- "Delete stream" on an ended show's console, dismissed: the show is still there (also after a
  reload), and no delete was posted.
- The same button pressed before the page's script has run (slow or failed to load): the form
  posts without the question, and the server asks on a page instead of deleting; "Go back" keeps
  the show, the page's own "Delete stream" deletes it (web.ask_first, for every destructive form).
- "End flash sale", an htmx form, dismissed: the sale keeps running. (htmx ignores a cancelled
  submit event, so before the fix a dismissed question still ended the sale.)"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from extensions import db
from models import FlashSale, LiveStream
from services import flash_sales, live
from tests.e2e.test_console_laptop import LAPTOP
from tests.e2e.test_live_flow import log_in
from tests.factories import make_product, make_seller, make_stream

QUESTION = "Delete this show? It will not be kept as a replay."


def _console(chromium, server_url: str, stream_id: int, *, without_script: bool = False):  # noqa: ANN001, ANN202
    """The seller's console in a fresh laptop browser; returns (context, page, errors, posts)."""
    context = chromium.new_context(**LAPTOP)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    posts: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    log_in(page, server_url, "maya")
    if without_script:  # the page's script has not arrived: it is what a slow connection looks like
        page.route(re.compile(r"/static/js/app\.js"), lambda route: route.abort())
    page.goto(f"{server_url}/seller/shows/{stream_id}")
    return context, page, errors, posts


def _still_there(stream_id: int) -> bool:
    db.session.expire_all()
    stream = db.session.get(LiveStream, stream_id)
    return stream.awaiting_decision and stream.discarded_at is None


def test_a_dismissed_delete_deletes_nothing(app_ctx, live_server, chromium):
    _, shop = make_seller("maya")
    show = make_stream(shop, [make_product(shop, "Speckled Mug", 2800)], title="Pottery Night")
    live.end_show(show)
    context, page, errors, posts = _console(chromium, live_server.url, show.id)
    try:
        dialog = page.get_by_role("dialog", name="The show has ended")
        delete = dialog.get_by_role("button", name="Delete stream")
        expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))  # the page's script runs
        questions: list[str] = []
        page.once("dialog", lambda question: (questions.append(question.message), question.dismiss()))
        delete.click()
        assert questions == [QUESTION]
        page.reload()  # whatever the click set going has gone through by the time this page is back
        expect(page.get_by_role("dialog", name="The show has ended").get_by_role("button", name="Delete stream")
               ).to_be_visible()
        assert _still_there(show.id)
        assert not [url for url in posts if url.endswith("/delete")], posts
        assert errors == [], errors
    finally:
        context.close()


def test_delete_pressed_before_the_script_ran_asks_on_a_page(app_ctx, live_server, chromium):
    _, shop = make_seller("maya")
    show = make_stream(shop, [make_product(shop, "Speckled Mug", 2800)], title="Pottery Night")
    live.end_show(show)
    context, page, errors, _ = _console(chromium, live_server.url, show.id, without_script=True)
    try:
        questions: list[str] = []
        page.on("dialog", lambda question: (questions.append(question.message), question.accept()))
        page.get_by_role("dialog", name="The show has ended").get_by_role("button", name="Delete stream").click()
        expect(page.get_by_role("heading", name="Are you sure?")).to_be_visible()
        assert questions == []  # no script, no browser question: the server asked instead
        assert _still_there(show.id)
        expect(page.get_by_text(QUESTION)).to_be_visible()

        page.get_by_role("link", name="Go back").click()
        expect(page.get_by_role("dialog", name="The show has ended")).to_be_visible()
        assert _still_there(show.id)

        page.get_by_role("dialog", name="The show has ended").get_by_role("button", name="Delete stream").click()
        page.get_by_role("button", name="Delete stream").click()  # the confirmation page's own button
        expect(page.get_by_text("“Pottery Night” has ended and was not saved.")).to_be_visible()
        db.session.expire_all()
        assert db.session.get(LiveStream, show.id).discarded_at is not None
        assert not [error for error in errors if "app.js" not in error and "ERR_FAILED" not in error], errors
    finally:
        context.close()


def test_a_dismissed_end_of_a_flash_sale_keeps_it_running(app_ctx, live_server, chromium):
    _, shop = make_seller("maya")
    board = make_product(shop, "Walnut Serving Board", 4000, stock=10)
    show = make_stream(shop, [board], title="Friday Drop")
    sale = flash_sales.start_sale(show, flash_sales.SaleDraft(board.id, 2500, 3, 600, 1))
    context, page, errors, posts = _console(chromium, live_server.url, show.id)
    try:
        expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
        page.locator("summary", has_text="Selling").click()
        end = page.get_by_role("region", name="Selling").get_by_role("button", name="End flash sale")
        questions: list[str] = []
        page.once("dialog", lambda question: (questions.append(question.message), question.dismiss()))
        end.click()
        assert questions and "End the flash sale" in questions[0]
        page.reload()
        page.locator("summary", has_text="Selling").click()
        expect(page.get_by_role("region", name="Selling").get_by_role("button", name="End flash sale")).to_be_visible()
        db.session.expire_all()
        assert db.session.get(FlashSale, sale.id).closed_at is None
        assert not [url for url in posts if "/end" in url], posts
        assert errors == [], errors
    finally:
        context.close()
