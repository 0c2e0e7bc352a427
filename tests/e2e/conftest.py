"""Headless Debian Chromium driven by Playwright, against a real gunicorn server."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


# `expect` waits up to this for what a person would see (Playwright's default is 5 s); a test that
# bounds a delay (e.g. "within 15 s") passes its own timeout.
expect.set_options(timeout=60_000)


@pytest.fixture(name="chromium", scope="session")
def chromium_fixture() -> Iterator:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing: `make test` installs Debian's chromium")
        pytest.skip("no browser: /usr/bin/chromium is missing and `make test` could not install it here")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _expected(console_text: str) -> bool:
    """Chromium logs every 4xx answer; a 422 form re-render or a 401 failed login is a normal answer."""
    return bool(re.search(r"status of (401|422) ", console_text))


@pytest.fixture(name="new_page")
def new_page_fixture(chromium):  # noqa: ANN001, ANN201
    """Opens pages in fresh browser contexts (separate people); fails the test on console errors."""
    contexts, errors = [], []

    def open_page():  # noqa: ANN202
        context = chromium.new_context()
        contexts.append(context)
        page = context.new_page()
        # Generous: CI shares two cores. Every wait ends as soon as its condition holds.
        page.set_default_timeout(60_000)
        page.on("console", lambda message: message.type == "error" and not _expected(message.text)
                and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], f"browser console errors: {errors}"
