"""Headless Debian Chromium driven by Playwright, against a real gunicorn server (the browser
itself is the `chromium` fixture in tests/conftest.py, shared with tests/test_faults.py)."""

from __future__ import annotations

import re

import pytest

from tests.support import ConsoleErrors


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


#: Chromium logs every 4xx answer; a 422 form re-render or a 401 failed login is a normal answer.
EXPECTED_STATUS = re.compile(r"status of (401|422) ")


@pytest.fixture(name="new_page")
def new_page_fixture(chromium):  # noqa: ANN001, ANN201
    """Opens pages in fresh browser contexts (separate people); fails the test on console errors
    (but for a 401/422 answer, and the socket retries of a page whose server the test stopped)."""
    contexts, errors = [], ConsoleErrors(also_expected=EXPECTED_STATUS)

    def open_page():  # noqa: ANN202
        context = chromium.new_context()
        contexts.append(context)
        page = context.new_page()
        # Generous: CI shares two cores. Every wait ends as soon as its condition holds.
        page.set_default_timeout(60_000)
        errors.watch(page)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], f"browser console errors: {errors}"
