"""Headless Debian Chromium driven by Playwright, against a real gunicorn server (the browser
itself is the `chromium` fixture in tests/conftest.py, shared with tests/test_faults.py)."""

from __future__ import annotations

import re

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


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
