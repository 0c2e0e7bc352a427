"""A person registers, logs out, logs in and opens a shop, in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import expect

PASSWORD = "a long enough password"


def test_register_log_out_log_in_and_open_a_shop(live_server, new_page):
    page = new_page()
    page.goto(live_server.url + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Register").click()

    page.get_by_label("Email").fill("pat@example.com")
    page.get_by_label("Username").fill("pat")
    page.get_by_label("Display name").fill("Pat Potter")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill("not the same")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("The passwords do not match.")).to_be_visible()
    expect(page.get_by_label("Display name")).to_have_value("Pat Potter")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Welcome to Streamshop, Pat Potter!")).to_be_visible()

    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").click()
    page.get_by_label("Email or username").fill("pat")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Welcome back, Pat Potter.")).to_be_visible()

    page.get_by_role("link", name="Pat Potter").click()
    # The account page holds a websocket for the user's header channel; it connects under our CSP.
    expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
    page.get_by_label("Shop name").fill("Pat's Pots")
    page.get_by_label("Shop address").fill("Pat's Pots")
    page.get_by_role("button", name="Open a shop").click()
    expect(page.get_by_text("Use lower-case letters, digits and single dashes")).to_be_visible()
    page.get_by_label("Shop address").fill("pats-pots")
    page.get_by_role("button", name="Open a shop").click()
    expect(page.get_by_text("Your shop “Pat's Pots” is open. You are now a seller.")).to_be_visible()
    expect(page.get_by_text("pats-pots")).to_be_visible()
