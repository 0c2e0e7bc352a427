"""Small things that keep the user's place: the TikTok link code is big, can be copied and counts
down in the reader's own time; the time-zone picker starts on the browser's zone and can be
searched; a product card's link is named once."""

from __future__ import annotations

import re

import sqlalchemy as sa
from playwright.sync_api import expect

from extensions import db
from models import User
from services import tiktok
from services.demo import DEMO_TIKTOK_HANDLE, seed_demo
from tests.e2e.test_every_page import log_in


def test_link_code_time_zone_picker_and_names(app_ctx, live_server, chromium):
    seed_demo()
    shopper = db.session.scalar(sa.select(User).where(User.username == "demo-shopper"))
    code = tiktok.request_link_code(shopper, DEMO_TIKTOK_HANDLE, "sam.shops").code
    context = chromium.new_context(timezone_id="Asia/Tokyo", viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
        page = context.new_page()
        log_in(page, live_server.url, "shopper")
        page.goto(live_server.url + "/account/tiktok/")
        big = page.locator(".link-code-big")
        expect(big).to_have_text(code)
        assert big.locator("code").evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 28
        expect(page.get_by_text(re.compile(r"^Expires in 1[45]:\d\d \(at [^)]+, your time\)\.$"))).to_be_visible()
        page.get_by_role("button", name=f"Copy code {code}").click()
        expect(page.get_by_role("button", name=f"Copy code {code}")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == code

        page.goto(live_server.url + "/shop/")
        expect(page.get_by_role("link", name="Lavender Soap Bar", exact=True)).to_have_count(1)
        context.clear_cookies()
        log_in(page, live_server.url, "seller")
        page.goto(live_server.url + "/studio/")
        zone = page.get_by_label("Your time zone")
        expect(zone).to_have_value("Asia/Tokyo")
        page.get_by_label("Search time zones").fill("london")
        expect(zone).to_have_value("Europe/London")
        assert zone.evaluate("select => Array.from(select.options).filter(o => !o.hidden).map(o => o.value)") == [
            "Europe/London"]
    finally:
        context.close()
