"""The studio overview while the demo LIVE replays: the activity feed (with times) and the charts
of viewers and coins per minute change without a reload, the viewer who came on their birthday
stays in the feed, "Watching now" is shown once, and the overview's totals are the status card's."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from ingest.demo import BIRTHDAY_VIEWER
from services.demo import seed_demo
from tests.conftest import server_env
from tests.e2e.test_every_page import ARTIFACTS
from tests.e2e.test_studio_flow import LIVE, demo_live, open_studio
from tests.support import running_server


def replaying_demo(app_ctx, tmp_path, speed: int):  # noqa: ANN001, ANN201
    """A server following the demo's seeded TikTok account through its replayed LIVE (at `speed`)."""
    seed_demo()
    replay = tmp_path / "demo-live.jsonl"
    demo_live(replay)
    return running_server({**server_env(app_ctx), "INGEST_ENABLED": "1", "INGEST_LEASE_SECONDS": "15",
                           "DEMO_REPLAY": str(replay), "DEMO_REPLAY_SPEED": str(speed)})


def test_the_overview_feed_and_charts_follow_the_live(app_ctx, tmp_path, new_page):
    with replaying_demo(app_ctx, tmp_path, speed=5) as server:
        page = new_page()
        open_studio(page, server.url)
        feed = page.get_by_role("list", name="Activity feed")
        expect(feed).to_be_visible(timeout=LIVE)
        expect(feed.locator("time").first).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
        viewers = page.locator('[data-chart="viewers"]')
        coins = page.locator('[data-chart="coins"]')
        expect(viewers.get_by_role("img")).to_be_visible(timeout=LIVE)
        first_feed = feed.inner_text()
        first_viewers = viewers.get_attribute("data-total")
        expect(coins).not_to_have_attribute("data-total", "0", timeout=LIVE)
        first_coins = coins.get_attribute("data-total")

        # The demo's birthday viewer comes with the first wave; the feed keeps them however busy the chat.
        birthday = (feed.get_by_role("listitem").filter(has=page.get_by_text("Birthday", exact=True))
                    .filter(has=page.get_by_role("link", name=f"@{BIRTHDAY_VIEWER.handle}")))
        expect(birthday).to_contain_text("turns 25 today", timeout=LIVE)
        expect(birthday.locator("time")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
        first_feed = feed.inner_text()

        expect(page.get_by_role("list", name="Activity feed")).not_to_have_text(first_feed, timeout=LIVE)
        expect(birthday).to_be_visible()
        expect(viewers).not_to_have_attribute("data-total", first_viewers, timeout=LIVE)
        expect(coins).not_to_have_attribute("data-total", first_coins, timeout=LIVE)
        expect(page.get_by_role("list", name="Top gifters").get_by_role("listitem").first).to_be_visible()
        # One "Watching now" figure; the other count has its own name.
        expect(page.get_by_text("Watching now", exact=True)).to_have_count(1)
        expect(page.get_by_role("heading", name=re.compile(r"^Active in this LIVE: [\d,]+$"))).to_be_visible()
        notices = page.locator('[id^="notices-"] li')
        expect(notices.first.locator("time")).to_have_text(re.compile(r"\d\d:\d\d:\d\d"))
        (ARTIFACTS / "journeys").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "journeys" / "studio-overview-live.png"), full_page=True, caret="initial")


#: The overview's stats cards and the status card beside them, read in one go, by their labels.
READ_FIGURES = """() => {
  const card = label => [...document.querySelectorAll(".account-card dt")]
    .find(dt => dt.textContent.trim() === label).nextElementSibling.textContent.trim();
  const stat = label => [...document.querySelectorAll(".stat-card")]
    .find(c => c.querySelector(".stat-label").textContent.trim() === label)
    .querySelector(".stat-value").textContent.trim();
  return {card: [card("Viewers recorded"), card("Coins received")],
          stats: [stat("Total viewers"), stat("Total coins")]};
}"""


def test_the_overview_totals_are_the_status_cards_all_through_the_live(app_ctx, tmp_path, new_page):
    """The status card is pushed after every batch and the overview refetched at most once a
    second; a streamer looking at both must never see two different totals of viewers or coins."""
    with replaying_demo(app_ctx, tmp_path, speed=5) as server:
        page = new_page()
        open_studio(page, server.url)
        expect(page.get_by_text("LIVE now", exact=True)).to_be_visible(timeout=LIVE)
        seen, mismatches = set(), []
        deadline = time.monotonic() + 120  # generous: ends once the figures have moved 8 times
        while len(seen) < 8 and time.monotonic() < deadline:
            figures = page.evaluate(READ_FIGURES)
            seen.add(tuple(figures["card"]))
            if figures["card"] != figures["stats"]:
                mismatches.append(figures)
            page.wait_for_timeout(50)  # a sampling interval, not a wait for something to happen
        assert len(seen) >= 8, f"the totals moved only {len(seen)} times: {sorted(seen)}"
        assert mismatches == [], f"{len(mismatches)} readings disagreed, e.g. {mismatches[:3]}"
