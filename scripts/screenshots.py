"""Screenshots for the README, made again with `make screenshots`: the show page on a phone, the
seller's console on a laptop and the studio overview while the demo LIVE replays.

It builds a throwaway instance (SQLite, the demo data, a short generated TikTok LIVE), serves it
with gunicorn on a free port, drives Debian's Chromium with Playwright like a user would, and writes
docs/screenshots/*.png."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
LAPTOP = {"viewport": {"width": 1366, "height": 768}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(instance: Path) -> dict[str, str]:
    """A fresh database with the demo, and a 20-minute demo LIVE to replay; the server's environment."""
    env = {**os.environ, "STREAMSHOP_ENV": "development", "INSTANCE_PATH": str(instance),
           "DATABASE_URL": f"sqlite:///{instance / 'screens.db'}", "FLASK_APP": "app:create_app"}
    env.pop("REDIS_URL", None)
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "seed-demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    replay = instance / "demo-live.jsonl"
    subprocess.run([*flask, "ingest", "demo-file", str(replay)], cwd=ROOT, env=env, check=True, capture_output=True)
    # The demo show's camera, as `make run` has it: a looping test pattern through the real ingest
    # (nginx-rtmp on a free port of its own). Without nginx and ffmpeg the pages say video is off.
    subprocess.run([*flask, "demo-video"], cwd=ROOT, env=env, check=True, capture_output=True)
    return {**env, "INGEST_ENABLED": "1", "DEMO_REPLAY": str(replay), "DEMO_REPLAY_SPEED": "10",
            "DEMO_VIDEO": str(instance / "demo-video.txt"), "RTMP_PORT": str(free_port())}


def serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                               env={**env, "PORT": str(port), "WEB_CONCURRENCY": "1", "ACCESS_LOG": ""},
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    process.terminate()
    raise SystemExit(f"the server did not start:\n{log.read_text()}")


def log_in(page, url: str, username: str) -> None:  # noqa: ANN001
    page.goto(url + "/login")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill("streamshop-demo")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out", exact=True, include_hidden=True)).to_be_attached()


def playing(page) -> None:  # noqa: ANN001
    """Wait (minutes at most) until the page's video has played a couple of seconds."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if page.locator("video").first.evaluate("video => video.currentTime") > 2:
            return
        time.sleep(0.5)
    raise SystemExit("the demo show's video did not play")


def shoot(url: str) -> None:
    from services.demo import DEMO_TIKTOK_HANDLE

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            phone = browser.new_context(**PHONE).new_page()
            phone.set_default_timeout(30_000)
            log_in(phone, url, "demo-shopper")
            phone.goto(url + "/live/")
            phone.get_by_role("link", name="Spring Pottery Drop").first.click()
            expect(phone.locator("body")).to_have_class(__import__("re").compile(r"\bsocket-up\b"))
            playing(phone)
            for text in ("Hi Maya! Is the print framed?", "The beanie colour is lovely 😍"):
                phone.get_by_label("Comment").fill(text)
                phone.get_by_role("button", name="Send").click()
                expect(phone.get_by_text(text)).to_be_visible()
                time.sleep(1.2)  # the chat's rate limit
            phone.get_by_label("Comment").blur()
            phone.screenshot(path=str(OUT / "show-phone.png"), caret="initial")
            phone.get_by_role("button", name="Buy now:").first.click()
            expect(phone.get_by_role("dialog", name="Checkout")).to_be_visible()
            phone.screenshot(path=str(OUT / "show-phone-checkout.png"), caret="initial")

            # The demo seller is also the streamer: their studio, and the console of the live show
            # linked to their TikTok account, where the LIVE's chat and gifts join the site's chat.
            studio = browser.new_context(**LAPTOP).new_page()
            studio.set_default_timeout(30_000)
            log_in(studio, url, "demo-seller")
            studio.goto(url + "/studio/")
            studio.get_by_role("link", name=f"Open @{DEMO_TIKTOK_HANDLE}").click()
            time.sleep(20)  # let the replayed LIVE fill the overview
            studio.screenshot(path=str(OUT / "studio-overview.png"), caret="initial", full_page=True)

            seller = studio.context.new_page()
            seller.set_default_timeout(30_000)
            seller.goto(url + "/seller/shows/")
            seller.get_by_role("link", name="Spring Pottery Drop").click()
            expect(seller.get_by_role("button", name="End stream")).to_be_visible()
            expect(seller.locator(".source-tiktok").first).to_be_visible()
            expect(seller.get_by_role("status").filter(has_text="Receiving video")).to_be_visible(timeout=120_000)
            # A shopper asks on the site too: their line joins the TikTok chat, labelled "Site".
            shopper = phone.context.new_page()
            shopper.goto(url + "/live/")
            shopper.get_by_role("link", name="Spring Pottery Drop").first.click()
            expect(shopper.locator("body")).to_have_class(__import__("re").compile(r"\bsocket-up\b"))
            shopper.get_by_label("Comment").fill("Is the walnut board food safe?")
            shopper.get_by_role("button", name="Send").click()
            asked = seller.locator(".feed-site", has_text="Is the walnut board food safe?")
            expect(asked).to_be_visible()
            asked.scroll_into_view_if_needed()  # the busy TikTok chat has moved on below it
            seller.screenshot(path=str(OUT / "seller-console.png"), caret="initial")
        finally:
            browser.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="streamshop-screens-") as folder:
        instance = Path(folder)
        env = prepare(instance)
        process, url = serve(env, instance / "gunicorn.log")
        try:
            shoot(url)
        finally:
            process.terminate()
            process.wait(timeout=60)
    print(f"wrote {', '.join(sorted(path.name for path in OUT.glob('*.png')))} in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
