"""The streamer's studio during a LIVE, in a real browser: the demo replay runs into @mayas.makers;
the overview cards and the viewer table change without a reload; the streamer searches, opens a
profile, sets a birthday, a note and the favorite star, saves, sees it in the table (which keeps
its view), filters on "Birthday set" and exports the filtered rows as CSV."""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

from playwright.sync_api import expect

from ingest import demo
from services.demo import DEMO_ACCOUNTS, DEMO_TIKTOK_HANDLE, seed_demo
from tests.conftest import server_env
from tests.support import running_server

STREAMER = next(account for account in DEMO_ACCOUNTS if account.role == "seller")  # also the streamer
LIVE = 20_000  # ms: generous, the machine is shared; the replay pushes a batch every moment


def demo_live(path: Path) -> tuple[str, str]:
    """A small demo LIVE (300 viewers, 5 minutes) written to `path`; returns a search term that
    matches a few viewers by handle, and the handle of one of them who joins early."""
    records = demo.generate(seed=11, viewers=300, minutes=5)
    demo.write(path, records)
    joins = [record.user.handle for record in records if record.kind == "join"]
    handles = set(joins)
    for handle in joins[:40]:
        term = handle.rstrip("0123456789")  # "kai.fan" of "kai.fan12": a few viewers share it
        if 2 <= sum(term in other for other in handles) <= 6:
            return term, handle
    raise AssertionError("no early joiner shares a handle prefix with a few others")


def ingest_env(app, replay: Path) -> dict[str, str]:  # noqa: ANN001
    # Five LIVE minutes at 5x real time: events keep arriving for a minute, longer than the test.
    return {**server_env(app), "INGEST_ENABLED": "1", "INGEST_LEASE_SECONDS": "15", "DEMO_REPLAY": str(replay),
            "DEMO_REPLAY_SPEED": "5"}


def open_studio(page, base_url: str) -> None:  # noqa: ANN001
    """Log in as the demo seller (the demo streamer) and open the overview of their TikTok account."""
    page.goto(base_url + "/login")
    page.get_by_label("Email or username").fill(STREAMER.username)
    page.get_by_label("Password").fill(STREAMER.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out", exact=True)).to_be_visible()
    page.goto(base_url + "/studio/")
    page.get_by_role("link", name=f"Open @{DEMO_TIKTOK_HANDLE}").click()
    expect(page.get_by_role("heading", name=f"@{DEMO_TIKTOK_HANDLE}")).to_be_visible()


def test_the_studio_follows_a_live_and_edits_searches_filters_and_exports(app_ctx, tmp_path, new_page):
    seed_demo()
    replay = tmp_path / "demo-live.jsonl"
    term, handle = demo_live(replay)

    with running_server(ingest_env(app_ctx, replay)) as server:
        page = new_page()
        open_studio(page, server.url)
        expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
        expect(page.get_by_text("LIVE now", exact=True)).to_be_visible(timeout=LIVE)
        page.evaluate("window.studioTestMarker = 'overview'")

        # The overview's cards follow the LIVE without a reload.
        total_viewers = page.locator(".stat-card", has_text="Total viewers").locator(".stat-value")
        before = total_viewers.inner_text()
        expect(total_viewers).not_to_have_text(before, timeout=LIVE)
        assert page.evaluate("window.studioTestMarker") == "overview", "the overview reloaded"

        # So does the viewer table.
        page.get_by_role("navigation", name="Studio sections").get_by_role("link", name="Viewers").click()
        expect(page.get_by_role("heading", name=f"@{DEMO_TIKTOK_HANDLE}")).to_be_visible()
        expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
        page.evaluate("window.studioTestMarker = 'viewers'")
        table = page.locator("#viewer-table")
        summary = table.locator(".table-summary > span").first
        expect(summary).to_have_text(re.compile(r"^[\d,]+ viewers?$"))
        before = summary.inner_text()
        expect(summary).not_to_have_text(before, timeout=LIVE)

        # Search (debounced, pushed to the URL): every row matches.
        page.get_by_label("Search viewers").fill(term)
        expect(page).to_have_url(re.compile(r"[?&]q=" + re.escape(term)))
        expect(summary).to_contain_text(f"matching “{term}”")
        profile_link = page.get_by_role("link", name=f"Open profile of @{handle}")
        expect(profile_link).to_be_visible(timeout=LIVE)
        handles = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
        assert handles and all(term in shown for shown in handles), handles

        # The profile opens in the dialog; the editor saves a birthday, a note and the star.
        profile_link.click()
        dialog = page.get_by_role("dialog", name="Viewer profile")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading", name=f"@{handle}", level=2)).to_be_visible()
        dialog.get_by_label("Birthday month").select_option(label="March")
        dialog.get_by_label("Birthday day").fill("14")
        dialog.get_by_label("Birth year (optional)").fill("1998")
        note = "Asked about shipping to Canada; loves the speckled mugs."
        dialog.get_by_label("Notes").fill(note)
        dialog.get_by_label("Favorite", exact=True).check()
        dialog.get_by_role("button", name="Save profile").click()
        expect(dialog.get_by_role("status")).to_have_text("Saved.")
        expect(dialog.get_by_label("Notes")).to_have_value(note)
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()

        # The table refetched itself with the same search, and shows the star.
        star = table.get_by_role("button", name=f"Favorite @{handle}")
        expect(star).to_have_attribute("aria-pressed", "true")
        expect(summary).to_contain_text(f"matching “{term}”")
        expect(page.get_by_label("Search viewers")).to_have_value(term)

        # "Birthday set" with the search: that viewer alone; without it, the seeded birthday viewer too.
        page.get_by_label("Show", exact=True).select_option(label="Birthday set")
        expect(page).to_have_url(re.compile(r"[?&]filter=birthday"))
        expect(table.locator("tbody tr")).to_have_count(1)
        expect(table.locator("tbody tr")).to_contain_text(f"@{handle}")
        page.get_by_label("Search viewers").fill("")
        expect(summary).to_have_text("2 viewers")
        shown = {text.lstrip("@") for text in table.locator("tbody tr td:nth-child(2)").all_inner_texts()}
        assert shown == {handle, demo.BIRTHDAY_VIEWER.handle}

        # The CSV export has exactly the filtered rows.
        with page.expect_download() as download_info:
            table.get_by_role("link", name="Export CSV").click()
        download = download_info.value
        assert download.suggested_filename.startswith(f"viewers-{DEMO_TIKTOK_HANDLE}-")
        with open(download.path(), encoding="utf-8", newline="") as file:
            rows = list(csv.DictReader(file))
        assert {row["handle"] for row in rows} == shown and len(rows) == 2
        edited = next(row for row in rows if row["handle"] == handle)
        assert (edited["birthday"], edited["notes"], edited["favorite"]) == ("1998-03-14", note, "yes")

        assert page.evaluate("window.studioTestMarker") == "viewers", "the viewer page reloaded"


def test_a_refresh_in_flight_neither_undoes_nor_aborts_what_the_streamer_asks_for(app_ctx, live_server, new_page):
    """The races behind the flow above, made certain by holding answers back: a pulse refresh
    (the old view) answering before or after a search or a leaderboard tab; no console errors."""
    seed_demo()
    page = new_page()
    open_studio(page, live_server.url)
    page.get_by_role("navigation", name="Studio sections").get_by_role("link", name="Viewers").click()
    expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
    summary = page.locator("#viewer-table .table-summary > span").first
    expect(summary).to_have_text("2 viewers")
    held: list = []

    def is_refresh(request) -> bool:  # noqa: ANN001 - htmx names the element that asked
        return request.headers.get("hx-trigger") in ("viewer-table", "leaderboard")

    def hold(kind) -> None:  # noqa: ANN001
        page.route(re.compile(r"/studio/accounts/\d+/(viewers|leaderboards)"),
                   lambda route: held.append(route) if kind(route.request) else route.continue_())

    def pulse() -> None:
        page.evaluate("htmx.trigger(document.body, 'studio-changed')")

    def wait_held() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if held:
                return
            page.wait_for_timeout(50)  # lets Playwright deliver the route callbacks meanwhile
        raise AssertionError("no request was held")

    def count_answers() -> None:
        """Count the requests whose answer htmx has handled (its load handler runs before loadend),
        also those of detached elements, whose htmx events never reach the document."""
        page.evaluate("""() => {
            window.studioAnswers = 0;
            const send = XMLHttpRequest.prototype.send;
            XMLHttpRequest.prototype.send = function (...args) {
                this.addEventListener("loadend", () => { window.studioAnswers += 1; });
                return send.apply(this, args);
            }; }""")

    def answered(action) -> None:  # noqa: ANN001
        """Do `action`, and wait until htmx has handled the answer of the request it sends."""
        before = page.evaluate("window.studioAnswers")
        action()
        # htmx processes swapped-in elements when they settle (a timer after the swap), and only
        # then do they listen for the next pulse: wait for that too.
        page.wait_for_function(
            "before => window.studioAnswers > before"
            " && !document.querySelector('.htmx-swapping, .htmx-settling, .htmx-added')", arg=before)

    def release() -> None:
        answered(held.pop().continue_)

    # A refresh (the unsearched view) is in flight when the search is made; it answers last.
    count_answers()
    hold(is_refresh)
    pulse()
    wait_held()
    page.get_by_label("Search viewers").fill("bella")
    expect(summary).to_have_text("1 viewer matching “bella”")
    release()
    expect(summary).to_have_text("1 viewer matching “bella”")
    expect(page).to_have_url(re.compile(r"[?&]q=bella"))
    page.unroute_all()

    # The search is in flight when a refresh starts; the refresh answers first.
    hold(lambda request: "q=" in request.url and not is_refresh(request))
    page.get_by_label("Search viewers").fill("")
    wait_held()
    answered(pulse)
    release()
    expect(summary).to_have_text("2 viewers")
    page.unroute_all()
    answered(pulse)
    expect(summary).to_have_text("2 viewers")

    # A leaderboard tab clicked while a refresh of the current board is in flight.
    page.get_by_role("navigation", name="Studio sections").get_by_role("link", name="Leaderboards").click()
    expect(page.locator("body")).to_have_class(re.compile(r"\bsocket-up\b"))
    count_answers()
    hold(is_refresh)
    pulse()
    wait_held()
    page.get_by_role("navigation", name="Leaderboard").get_by_role("link", name="Visits").click()
    expect(page).to_have_url(re.compile(r"board=visits"))
    expect(page.get_by_role("navigation", name="Leaderboard").locator("[aria-current=page]")).to_have_text("Visits")
    release()
    expect(page.get_by_role("navigation", name="Leaderboard").locator("[aria-current=page]")).to_have_text("Visits")
    expect(page.locator("[id=leaderboard]")).to_have_count(1)
