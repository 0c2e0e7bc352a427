"""The heatmap as a streamer sees it, on a phone and a laptop, with the demo's weeks of history:
many of the 168 cells are lit, a busier hour is a darker cell (never a lighter one), the legend
runs from the lightest to the darkest shade the cells use and says what they mean, and it fits."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from services.demo import seed_demo
from tests.e2e.test_every_page import ARTIFACTS, VIEWPORTS, log_in

#: Every cell's events (its hidden text, what a screen reader reads) and its painted background.
CELLS = """() => Array.from(document.querySelectorAll("table.heatmap tbody td")).map(td => ({
  events: Number(td.textContent.replace(/[^0-9]/g, "")), title: td.title,
  colour: getComputedStyle(td).backgroundColor}))"""
SWATCHES = """() => Array.from(document.querySelectorAll(".heat-legend .swatch"))
  .map(el => getComputedStyle(el).backgroundColor)"""


def luminance(colour: str) -> float:
    """Relative luminance (WCAG) of a CSS `rgb(r, g, b)` colour: 0 black, 1 white."""
    red, green, blue = (int(part) / 255 for part in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3])

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_busier_hours_are_darker_and_the_legend_explains_the_shades(app_ctx, live_server, chromium, viewport):
    seed_demo()
    width, height = VIEWPORTS[viewport]
    phone = viewport == "phone"
    context = chromium.new_context(viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        log_in(page, live_server.url, "seller")
        page.goto(live_server.url + "/studio/")
        page.get_by_role("link", name="Open @").first.click()
        page.get_by_role("navigation", name="Studio sections").get_by_role("link", name="Heatmap").click()
        # The shades are read from computed styles: wait for the stylesheet (the page's load), which
        # on a busy machine can come after the table is already laid out and visible.
        page.wait_for_url("**/heatmap")
        page.wait_for_load_state("load")
        grid = page.get_by_role("table", name="Activity of all viewers by weekday and hour")
        expect(grid).to_be_visible()
        expect(grid.get_by_role("row")).to_have_count(8)  # the hours, then Monday..Sunday

        cells = page.evaluate(CELLS)
        assert len(cells) == 7 * 24
        lit = [cell for cell in cells if cell["events"]]
        assert len(lit) >= 6, f"only {len(lit)} of 168 cells are lit in the demo"  # weeks of LIVEs
        shade = {cell["colour"]: luminance(cell["colour"]) for cell in cells}
        empty = {cell["colour"] for cell in cells if not cell["events"]}
        assert len(empty) == 1, empty  # every empty hour looks the same...
        assert all(shade[cell["colour"]] < shade[next(iter(empty))] for cell in lit)  # ...and lighter than any lit one
        # A busier hour is never lighter than a quieter one, and the busiest is clearly darker.
        by_events = sorted(cells, key=lambda cell: cell["events"])
        for quieter, busier in zip(by_events, by_events[1:], strict=False):
            if busier["events"] > quieter["events"]:
                assert shade[busier["colour"]] <= shade[quieter["colour"]], (quieter, busier)
        busiest, quietest = by_events[-1], min(lit, key=lambda cell: cell["events"])
        assert shade[busiest["colour"]] < shade[quietest["colour"]] / 2, (quietest, busiest)
        assert len(set(cell["colour"] for cell in lit)) >= 3  # a scale, not lit-or-not
        assert f"{busiest['events']:,} events" in busiest["title"]  # hovering a cell says its count

        # The legend: from "Fewer events" to "More events", the shades the cells use, lightest first.
        legend = page.locator(".heat-legend")
        expect(legend).to_be_visible()
        expect(legend).to_contain_text("Fewer events")
        expect(legend).to_contain_text("More events")
        expect(legend).to_contain_text(f"the busiest hour, {busiest['events']:,} events")
        swatches = page.evaluate(SWATCHES)
        assert [luminance(colour) for colour in swatches] == sorted((luminance(c) for c in swatches), reverse=True)
        assert len(set(swatches)) == len(swatches) == 6
        assert set(shade) <= set(swatches), "a cell has a shade the legend does not show"
        assert swatches[0] in empty and busiest["colour"] == swatches[-1]
        box = legend.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        (ARTIFACTS / "journeys").mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "journeys" / f"heatmap-{viewport}.png"), full_page=True, caret="initial")
        assert errors == [], errors
    finally:
        context.close()
