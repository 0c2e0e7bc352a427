"""Buying in a real browser: "Buy now" while logged out, log in, back to the product, place the
order; the shopper and the seller both see it. And the cart: add, badge, quantity, checkout."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from services.demo_images import product_picture
from tests.factories import make_product, make_seller, make_user
from tests.support import TEST_PASSWORD


def log_in(page, username: str) -> None:  # noqa: ANN001
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_buy_now_from_logged_out_to_both_order_lists(app_ctx, live_server, new_page):
    _, shop = make_seller("maya", "Maya Makes")
    mug = make_product(shop, "Speckled Mug", 2800, stock=3, image=product_picture("Speckled Mug"))
    make_user("sam", display_name="Sam Shopper")
    product_url = f"{live_server.url}/products/{mug.id}"

    shopper = new_page()
    shopper.goto(product_url)
    expect(shopper.get_by_role("img", name="Speckled Mug")).to_be_visible()
    shopper.get_by_role("button", name="Buy now").click()
    expect(shopper).to_have_url(re.compile(r"/login\?next=/products/"))
    log_in(shopper, "sam")
    expect(shopper).to_have_url(product_url)
    shopper.get_by_role("button", name="Buy now").click()
    expect(shopper.get_by_role("heading", name="Checkout")).to_be_visible()
    expect(shopper.get_by_role("cell", name="$28.00").first).to_be_visible()
    shopper.get_by_role("button", name="Place order").click()
    expect(shopper.get_by_text(re.compile(r"Order #\d+ is placed and paid"))).to_be_visible()
    shopper.get_by_role("navigation", name="Main").get_by_role("link", name="Orders").click()
    expect(shopper.get_by_role("cell", name="Speckled Mug")).to_be_visible()
    expect(shopper.get_by_text("Paid")).to_be_visible()

    seller = new_page()
    seller.goto(live_server.url + "/login")
    log_in(seller, "maya")
    seller.get_by_role("navigation", name="Main").get_by_role("link", name="Seller").click()
    seller.get_by_role("navigation", name="Seller").get_by_role("link", name="Orders").click()
    row = seller.get_by_role("row").filter(has_text="Sam Shopper")
    expect(row).to_contain_text("1 × Speckled Mug")
    expect(row).to_contain_text("$28.00")
    expect(row).to_contain_text("Paid")


def test_cart_badge_quantity_and_checkout(app_ctx, live_server, new_page):
    _, shop = make_seller("maya")
    make_product(shop, "Linen Tote", 3200, stock=5)
    make_user("sam")
    page = new_page()
    page.goto(live_server.url + "/login")
    log_in(page, "sam")
    page.goto(live_server.url + f"/shop/{shop.slug}")
    page.get_by_role("link", name="Linen Tote").click()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    # The same words whether htmx swapped the buy box or (on a slow load, before the script ran)
    # the form posted and the page came back with a flash message.
    expect(page.get_by_role("status").filter(has_text="Added “Linen Tote” to your cart.")).to_be_visible()
    expect(page.locator("#cart-badge")).to_contain_text("2")
    page.get_by_role("link", name=re.compile("^Cart")).click()
    page.get_by_label("Quantity of Linen Tote").fill("3")
    page.get_by_role("button", name="Update").click()
    expect(page.get_by_role("cell", name="$96.00")).to_be_visible()
    expect(page.locator("#cart-badge")).to_contain_text("3")
    page.get_by_role("link", name="Checkout").click()
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text(re.compile(r"Order #\d+ is placed and paid"))).to_be_visible()
    expect(page.locator("#cart-badge")).to_contain_text("0")
