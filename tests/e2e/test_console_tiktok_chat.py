"""The seller's console of a show linked to their TikTok account shows that LIVE's chat and gifts
beside the site's chat, each line labelled with where it came from, pushed over the console's
socket. Real parts: the unmodified TikTokLive client in a gunicorn worker (INGEST_ENABLED) reads
the emulator's LIVE; the console is a real Chromium page; a shopper chats on the show page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from extensions import db
from models import TikTokAccount
from services import tiktok
from tests.e2e.test_every_page import ARTIFACTS
from tests.emulator_support import ingest_env, running_emulator, user
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import TEST_PASSWORD, running_server

pytestmark = pytest.mark.server

LIVE = 90_000  # ms: the worker connects the client, the emulator plays, the writer commits and pushes


def log_in(page, base: str, username: str) -> None:  # noqa: ANN001
    page.goto(base + "/login")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out", exact=True, include_hidden=True)).to_be_attached()


def test_the_console_shows_the_linked_tiktok_chat_and_gifts_beside_the_site_chat(app_ctx, tmp_path, new_page):
    seller, shop = make_seller("maya")
    account = tiktok.link_account(seller, "@maya.live", "UTC")
    tiktok.set_paused(account, True)  # not ingested until the console is open: what follows is pushed
    stream = make_stream(shop, [make_product(shop, "Walnut Serving Board", 4000, stock=5)], title="Pottery Night")
    stream.tiktok_account_id = account.id
    db.session.commit()
    make_user("sam", display_name="Sam Shopper")
    stream_id, account_id = stream.id, account.id
    script = [
        {"type": "comment", "user": user(3001, "tt.fan", "TT Fan"), "text": "Greetings from TikTok!"},
        {"type": "gift", "user": user(3002, "big.heart", "Big Heart"), "gift": "Corgi"},
        {"type": "wait", "delay": 600},  # the LIVE goes on for the rest of the test
    ]
    rooms = [{"unique_id": "maya.live", "script": script}]
    with running_emulator(tmp_path, rooms) as emulator, running_server(ingest_env(app_ctx, emulator)) as server:
        console = new_page()
        log_in(console, server.url, "maya")
        console.goto(f"{server.url}/seller/shows/{stream_id}")
        expect(console.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
        console.evaluate("window.consoleMarker = 'open'")
        feed = console.get_by_label("Comments feed")

        shopper = new_page()
        log_in(shopper, server.url, "sam")
        shopper.goto(f"{server.url}/live/{stream_id}")
        shopper.get_by_label("Comment").fill("Hello from the site")
        shopper.get_by_role("button", name="Send").click()
        site_line = feed.locator(".feed-line", has_text="Hello from the site")
        expect(site_line).to_be_visible()
        expect(site_line.locator(".pill")).to_have_text("Site")

        tiktok.set_paused(db.session.get(TikTokAccount, account_id), False)  # now the client connects
        comment = feed.locator(".feed-line", has_text="Greetings from TikTok!")
        expect(comment).to_be_visible(timeout=LIVE)
        expect(comment.locator(".pill")).to_have_text("TikTok")
        expect(comment).to_contain_text("@tt.fan")
        gift = feed.locator(".feed-line", has_text="sent Corgi")
        expect(gift).to_be_visible(timeout=LIVE)
        expect(gift.locator(".pill")).to_have_text("TikTok")
        expect(gift).to_contain_text("@big.heart")
        expect(gift).to_contain_text("(299 coins)")
        assert console.evaluate("window.consoleMarker") == "open", "the console reloaded"
        # In time order, the site's line first; and the same after a reload (read from the database).
        lines = feed.locator(".feed-line")
        expect(lines).to_have_count(3)
        expect(lines.nth(0)).to_contain_text("Hello from the site")
        console.reload()
        expect(console.get_by_label("Comments feed").locator(".feed-line").locator(".pill")).to_have_text(
            ["Site", "TikTok", "TikTok"])

        # It still fits: on a laptop (1366x768) the newest line is in view without scrolling the
        # page; on a phone (390 px) nothing scrolls sideways.
        (ARTIFACTS / "journeys").mkdir(parents=True, exist_ok=True)
        console.set_viewport_size({"width": 1366, "height": 768})
        expect(console.get_by_label("Comments feed").locator(".feed-line").last).to_be_in_viewport()
        assert console.evaluate("document.scrollingElement.scrollTop") == 0
        console.screenshot(path=str(ARTIFACTS / "journeys" / "console-tiktok-chat-1366.png"), caret="initial")
        console.set_viewport_size({"width": 390, "height": 844})
        assert console.evaluate("document.scrollingElement.scrollWidth") <= 390
        console.screenshot(path=str(ARTIFACTS / "journeys" / "console-tiktok-chat-390.png"), full_page=True,
                           caret="initial")
        # Closed while the server is up: a page left open would log the server's going as errors.
        console.context.close()
        shopper.context.close()
