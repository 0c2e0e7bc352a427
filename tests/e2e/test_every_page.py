"""Every page, as each role would see it, on a phone (390x844, mobile emulation) and a laptop
(1366x900): nothing scrolls sideways, no one-word button breaks its word over two lines, a row of
section tabs stays one row with the current tab in view, the console stays clean, and a screenshot of each page is
saved as a test artifact (test-artifacts/pages/<viewport>/<role>-<page>.png) to look at.

The width check compares `document.scrollingElement.scrollWidth` with the viewport's own width:
under mobile emulation `innerWidth` grows to fit a too-wide page, so it would hide the overflow."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from extensions import db
from models import LiveStream, Product, TikTokAccount, User, ViewerProfile
from services import cart, checkout, tiktok
from services.demo import DEMO_ACCOUNTS, DEMO_TIKTOK_HANDLE, seed_demo
from tests.support import ROOT

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))
VIEWPORTS = {"phone": (390, 844), "laptop": (1366, 900)}
ACCOUNTS = {account.role: account for account in DEMO_ACCOUNTS}


def demo_world() -> dict[str, list[tuple[str, str]]]:
    """The demo, plus what makes every page show content: a cart line, a placed order and a
    pending TikTok link code for the shopper. Returns each role's pages as (name, path)."""
    seed_demo()
    users = {role: db.session.scalar(sa.select(User).where(User.username == account.username))
             for role, account in ACCOUNTS.items()}
    shop = users["seller"].shop
    streams = list(db.session.scalars(sa.select(LiveStream).where(LiveStream.shop_id == shop.id)
                                      .order_by(LiveStream.id)))
    live = next(stream for stream in streams if stream.status == "live")
    ended = next(stream for stream in streams if stream.saved is not None)
    product = db.session.scalar(sa.select(Product).where(Product.shop_id == shop.id).order_by(Product.id))
    shopper = users["shopper"]
    cart.add_to_cart(shopper, product, 2)
    order_checkout = checkout.buy_now_checkout(product.id, 1, live.id)
    order = checkout.place_order(shopper, order_checkout, uuid.uuid4().hex, order_checkout.fingerprint()).orders[0]
    tiktok.request_link_code(shopper, DEMO_TIKTOK_HANDLE, "sam.shops")
    account = db.session.scalar(sa.select(TikTokAccount).where(TikTokAccount.handle == DEMO_TIKTOK_HANDLE))
    viewer = db.session.scalar(sa.select(ViewerProfile).where(ViewerProfile.account_id == account.id)
                               .order_by(ViewerProfile.total_coins.desc()))
    public = [("home", "/"), ("live", "/live/"), ("show", f"/live/{live.id}"),
              ("replay", f"/live/replays/{ended.saved.id}"), ("shops", "/shop/"), ("shop", f"/shop/{shop.slug}"),
              ("product", f"/products/{product.id}")]
    studio = f"/studio/accounts/{account.id}"
    return {
        "anonymous": [*public, ("login", "/login"), ("register", "/register")],
        "shopper": [*public, ("cart", "/cart/"), ("checkout", "/checkout/"), ("orders", "/orders/"),
                    ("order", f"/orders/{order.id}"), ("account", "/account/"), ("tiktok", "/account/tiktok/")],
        "seller": [("home", "/"), ("show", f"/live/{live.id}"), ("products", "/seller/"),
                   ("product-new", "/seller/products/new"), ("product-edit", f"/seller/products/{product.id}/edit"),
                   ("orders", "/seller/orders"), ("shows", "/seller/shows/"), ("show-new", "/seller/shows/new"),
                   ("console", f"/seller/shows/{live.id}"), ("console-ended", f"/seller/shows/{ended.id}"),
                   ("account", "/account/"),
                   # The demo seller is also the demo streamer: the studio of their TikTok account.
                   ("studio", "/studio/"), ("overview", studio), ("viewers", f"{studio}/viewers"),
                   ("profile", f"{studio}/viewers/{viewer.id}"),
                   ("delete-viewer", f"{studio}/viewers/{viewer.id}/delete"), ("heatmap", f"{studio}/heatmap"),
                   ("leaderboards", f"{studio}/leaderboards"), ("settings", f"{studio}/settings"),
                   ("tiers", f"{studio}/tiers"), ("tiktok", "/account/tiktok/")],
    }


def log_in(page, base_url: str, role: str) -> None:  # noqa: ANN001
    page.goto(base_url + "/login")
    page.get_by_label("Email or username").fill(ACCOUNTS[role].username)
    page.get_by_label("Password").fill(ACCOUNTS[role].password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#site-nav").get_by_role("button", name="Log out", include_hidden=True)).to_be_attached()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_page_fits_the_screen_for_every_role(app_ctx, live_server, chromium, viewport):
    pages = demo_world()
    width, height = VIEWPORTS[viewport]
    phone = viewport == "phone"
    folder = ARTIFACTS / "pages" / viewport
    folder.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for role, paths in pages.items():
        context = chromium.new_context(viewport={"width": width, "height": height}, is_mobile=phone,
                                       has_touch=phone, device_scale_factor=2 if phone else 1)
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("console", lambda message, errors=errors: message.type == "error" and errors.append(message.text))
            page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
            if role != "anonymous":
                log_in(page, live_server.url, role)
            for name, path in paths:
                response = page.goto(live_server.url + path)
                assert response is not None and response.status == 200, f"{role} {path}: {response and response.status}"
                page.wait_for_load_state("load")
                scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
                if scroll_width > width:
                    wide = page.evaluate(WIDEST_ELEMENTS, width)
                    problems.append(f"{role} {path}: page is {scroll_width}px wide on a {width}px screen; {wide}")
                broken = page.evaluate(BROKEN_WORDS)
                if broken:
                    problems.append(f"{role} {path}: one-word buttons broken over two lines: {broken}")
                strips = page.evaluate(TAB_STRIPS)
                if strips:
                    problems.append(f"{role} {path}: section tabs {strips}")
                page.screenshot(path=str(folder / f"{role}-{name}.png"), full_page=True, caret="initial")
                if errors:
                    problems.append(f"{role} {path}: console errors {errors}")
                    errors.clear()
        finally:
            context.close()
    assert problems == [], "\n".join(problems)


# The innermost elements sticking out past the viewport's right edge, to say what overflows.
WIDEST_ELEMENTS = """(width) => Array.from(document.querySelectorAll('body *'))
  .filter((el) => el.getBoundingClientRect().right > width + 0.5 && el.children.length === 0)
  .slice(0, 5).map((el) => el.tagName.toLowerCase()
    + (el.className ? '.' + String(el.className).trim().replace(/\\s+/g, '.') : '')
    + ' ' + Math.round(el.getBoundingClientRect().right) + 'px')"""


# Rows of section tabs (the studio's, the seller's) that wrap onto a second row, or whose current
# tab is scrolled out of sight (on a phone the row scrolls sideways instead of wrapping).
TAB_STRIPS = """() => Array.from(document.querySelectorAll('nav.tabs:not(.tabs-small)')).flatMap((strip) => {
  const tabs = Array.from(strip.querySelectorAll('a'));
  const found = [];
  if (new Set(tabs.map((tab) => Math.round(tab.getBoundingClientRect().top))).size > 1) {
    found.push(strip.getAttribute('aria-label') + ' wrap onto two rows');
  }
  const current = strip.querySelector('[aria-current]');
  if (current) {
    const box = strip.getBoundingClientRect(), tab = current.getBoundingClientRect();
    if (tab.left < box.left - 0.5 || tab.right > box.right + 0.5) {
      found.push('"' + current.textContent.trim() + '" is out of view');
    }
  }
  return found;
})"""


# Buttons and button-links whose label is one word, drawn on more than one line ("Unpi/n" when a
# narrow column squeezed the console's Pin button).
BROKEN_WORDS = """() => Array.from(document.querySelectorAll('button, .button')).filter((el) => {
  const label = el.textContent.trim();
  if (!label || /\\s/.test(label) || !el.getClientRects().length) return false;
  const range = document.createRange();
  range.selectNodeContents(el);
  return new Set(Array.from(range.getClientRects()).map((rect) => Math.round(rect.top))).size > 1;
}).map((el) => el.textContent.trim())"""
