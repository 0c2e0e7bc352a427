"""Live video in Chromium, with the CSP as the server sends it and no console errors: a shopper's
page plays the seller's live video (currentTime advances), says "Reconnecting…" when the encoder
drops; the seller goes live with the browser's (fake) camera and a second browser plays it; an
external HLS URL from a configured media origin plays."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import threading
from pathlib import Path

from playwright.sync_api import expect

from extensions import db, utcnow
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, server_env
from tests.e2e.test_live_flow import log_in
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import free_port, running_server, wait_for
from tests.video_support import publishing, require_video_tools, rtmp_url, video_server
from web import content_security_policy


def video_time(page, selector: str = "video[data-video-src]") -> float:  # noqa: ANN001
    return page.locator(selector).first.evaluate("video => video.currentTime")


def expect_playing(page, selector: str = "video[data-video-src]") -> None:  # noqa: ANN001
    """The video's clock moves: it is really playing, not just present."""
    wait_for(lambda: video_time(page, selector) > 0.5, timeout=120)
    first = video_time(page, selector)
    wait_for(lambda: video_time(page, selector) > first + 1, timeout=60)


def test_a_shopper_plays_the_live_video_and_sees_reconnecting(app_ctx, app, new_page):
    seller, shop = make_seller("maya")
    show = make_stream(shop, title="Glaze Night")  # live
    with video_server(app) as server, publishing(rtmp_url(app, show.stream_key)) as encoder:
        page = new_page()
        response = page.goto(f"{server.url}/live/{show.id}")
        assert response.headers["content-security-policy"] == content_security_policy()
        expect_playing(page)
        expect(page.get_by_role("button", name="Tap to unmute")).to_be_visible()
        page.get_by_role("button", name="Tap to unmute").click()
        expect(page.get_by_role("button", name="Tap to unmute")).to_be_hidden()
        assert page.locator("video[data-video-src]").evaluate("video => video.muted") is False

        studio = new_page()
        log_in(studio, server.url, "maya")
        studio.goto(f"{server.url}/seller/shows/{show.id}")
        expect(studio.get_by_role("status").filter(has_text="Receiving video")).to_be_visible()
        expect_playing(studio, f"#video-preview-{show.id}")

        encoder.terminate()
        expect(page.get_by_text("Reconnecting…")).to_be_visible(timeout=60_000)
        expect(studio.get_by_role("status").filter(has_text="Video lost")).to_be_visible(timeout=60_000)
        close(page, studio)  # before the server stops: a player losing its server logs errors


class _CorsFiles(http.server.SimpleHTTPRequestHandler):
    """A stand-in for a video provider's CDN: static HLS files, readable from other origins."""

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def test_an_external_hls_url_from_a_media_origin_plays(app_ctx, app, new_page, tmp_path: Path):
    require_video_tools()
    media = tmp_path / "cdn"
    media.mkdir()
    subprocess.run([shutil.which("ffmpeg"), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=640x360:rate=30:duration=20", "-c:v", "libx264", "-preset", "ultrafast",
                    "-g", "30", "-pix_fmt", "yuv420p", "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
                    str(media / "show.m3u8")], check=True, timeout=300)
    port = free_port()
    cdn = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(_CorsFiles, directory=str(media)))
    thread = threading.Thread(target=cdn.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{port}"
    try:
        _, shop = make_seller("maya")
        show = make_stream(shop, title="Provider Night", playback_url=f"{origin}/show.m3u8")
        with running_server({**server_env(app), "MEDIA_ORIGINS": origin}) as server:
            page = new_page()
            response = page.goto(f"{server.url}/live/{show.id}")
            assert response.headers["content-security-policy"] == content_security_policy([origin])
            assert f"connect-src 'self' {origin};" in response.headers["content-security-policy"]
            expect_playing(page)
            close(page)
    finally:
        cdn.shutdown()
        cdn.server_close()


def test_the_replay_plays_its_recording_with_the_chat_and_chapters_in_step(app_ctx, app, new_page):
    from services import live

    seller_user, shop = make_seller("maya")
    board = make_product(shop, "Walnut Serving Board", 5400, stock=4)
    fan = make_user("sam", display_name="Sam Shopper")
    show = make_stream(shop, [board], title="Woodwork Hour")
    doomed = make_stream(shop, title="Test Run")
    with video_server(app) as server:
        with publishing(rtmp_url(app, show.stream_key)), publishing(rtmp_url(app, doomed.stream_key)):
            wait_for(lambda: fresh(show).recording_started_at and fresh(doomed).recording_started_at, timeout=120)
            started = fresh(show).recording_started_at
            # Things happen a few seconds into the video, as they would during a show.
            wait_for(lambda: (utcnow() - started).total_seconds() >= 5, timeout=30)
            live.post_comment(fresh(show), fan, "Is it food safe?")
            wait_for(lambda: (utcnow() - started).total_seconds() >= 8, timeout=30)
            # On a busy machine the pin lands a little after 8 s: the chapter must say when it did.
            pinning = utcnow()
            live.pin_product(fresh(show), board.id)
            pinned = range(int((pinning - started).total_seconds()), int((utcnow() - started).total_seconds()) + 1)
            wait_for(lambda: (utcnow() - started).total_seconds() >= 12, timeout=30)

            seller = new_page()
            log_in(seller, server.url, "maya")
            seller.goto(f"{server.url}/seller/shows/{show.id}")
            seller.get_by_role("button", name="End stream").click()
            seller.get_by_role("dialog", name="The show has ended").get_by_role("button", name="Save stream").click()
            expect(seller.get_by_text("“Woodwork Hour” is saved for on-demand viewing.")).to_be_visible(timeout=60_000)

            seller.goto(f"{server.url}/seller/shows/{doomed.id}")
            seller.get_by_role("button", name="End stream").click()
            wait_for(lambda: fresh(doomed).video_state == "offline", timeout=60)
            assert raw_files(app, doomed.id)
            seller.once("dialog", lambda dialog: dialog.accept())
            seller.get_by_role("dialog", name="The show has ended").get_by_role("button", name="Delete stream").click()
            expect(seller.get_by_text("“Test Run” has ended and was not saved.")).to_be_visible()
            assert not raw_files(app, doomed.id) and not media_files(app, doomed.id)

        recording = Path(app.config["MEDIA_PATH"]) / "recordings" / f"show-{show.id}.mp4"
        assert recording.exists() and recording.stat().st_size > 10_000
        viewer = new_page()
        viewer.goto(f"{server.url}/live/{show.id}")
        video = viewer.locator("video[data-replay]")
        assert video.get_attribute("data-video-src") == f"/media/recordings/show-{show.id}.mp4"
        line = viewer.get_by_role("list", name="Chat replay").locator("li", has_text="Is it food safe?")
        expect(line).to_be_hidden()
        expect_playing(viewer, "video[data-replay]")
        wait_for(lambda: video_time(viewer, "video[data-replay]") >= 6.5, timeout=60)
        expect(line).to_be_visible()

        chapter = viewer.get_by_role("button", name=re.compile(r"^Pinned: Walnut Serving Board · 0:\d\d$"))
        seconds = int(chapter.get_attribute("data-seek"))
        assert seconds in pinned, (seconds, pinned)
        expect(chapter).to_have_text(f"Pinned: Walnut Serving Board · 0:{seconds:02d}")
        viewer.locator("video[data-replay]").evaluate("video => { video.pause(); video.currentTime = 0; }")
        expect(line).to_be_hidden()
        chapter.click()
        wait_for(lambda: abs(video_time(viewer, "video[data-replay]") - seconds) < 2, timeout=120)
        expect(line).to_be_visible()
        thumbnail = viewer.request.get(f"{server.url}/media/thumbnails/show-{show.id}.jpg")
        assert thumbnail.ok and thumbnail.headers["content-type"] == "image/jpeg"
        close(viewer, seller)


def browser_publishers(stream_key: str) -> list[int]:
    """The ffmpeg processes piping a browser's camera into the ingest with this show's key."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"pipe:0" in command and any(part.endswith(stream_key.encode()) for part in command):
            found.append(int(entry.name))
    return found


#: An init script that records every stream getUserMedia hands the page (window.cameraStreams).
CAMERA_STREAMS = """(() => {
  const devices = navigator.mediaDevices;
  if (!devices) return;
  const open = devices.getUserMedia.bind(devices);
  window.cameraStreams = [];
  devices.getUserMedia = (constraints) => open(constraints).then((stream) => {
    window.cameraStreams.push(stream);
    return stream;
  });
})();"""


def test_the_seller_goes_live_with_the_browser_camera_and_a_shopper_watches(app_ctx, app, chromium, new_page):
    _, shop = make_seller("maya")
    show = make_stream(shop, live=False, title="Camera Night")
    # A browser of its own, with Chromium's fake camera and microphone, permission granted.
    camera = chromium.browser_type.launch(executable_path=str(CHROMIUM), args=[
        *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    errors: list[str] = []
    try:
        with video_server(app) as server:
            seller = camera.new_context().new_page()
            seller.set_default_timeout(60_000)
            # Keep a hand on every camera stream the page opens, to see whether the camera goes off.
            seller.add_init_script(CAMERA_STREAMS)
            seller.on("console", lambda message: message.type == "error" and errors.append(message.text))
            seller.on("pageerror", lambda error: errors.append(str(error)))
            log_in(seller, server.url, "maya")
            response = seller.goto(f"{server.url}/seller/shows/{show.id}")
            assert response.headers["content-security-policy"] == content_security_policy()
            # The same console in a second tab, open before video arrives, so that the End stream
            # form it gets is the one pushed when the video made the show live.
            console = seller.context.new_page()
            console.set_default_timeout(60_000)
            console.on("console", lambda message: message.type == "error" and errors.append(message.text))
            console.goto(f"{server.url}/seller/shows/{show.id}")
            seller.get_by_role("button", name="Start camera and microphone preview").click()
            expect(seller.get_by_text("Camera and microphone are on")).to_be_visible()
            seller.get_by_role("button", name="Go live with this camera").click()
            expect(seller.get_by_role("button", name="Stop sending camera")).to_be_visible()
            expect(seller.get_by_role("status").filter(has_text="Receiving video")).to_be_visible(timeout=120_000)
            expect(seller.get_by_role("button", name="End stream")).to_be_visible()  # live by itself
            assert fresh(show).status == "live"
            seller.set_viewport_size({"width": 390, "height": 844})  # the console on a phone: no sideways scroll
            wait_for(lambda: seller.evaluate("document.scrollingElement.scrollWidth") <= 390, timeout=30)
            seller.set_viewport_size({"width": 1366, "height": 768})
            assert len(browser_publishers(show.stream_key)) == 1

            shopper = new_page()
            shopper_response = shopper.goto(f"{server.url}/live/{show.id}")
            assert shopper_response.headers["content-security-policy"] == content_security_policy()
            expect_playing(shopper)

            seller.get_by_role("button", name="Stop sending camera").click()
            expect(seller.get_by_role("button", name="Go live with this camera")).to_be_visible()
            expect(seller.get_by_role("status").filter(has_text="Video lost")).to_be_visible()
            wait_for(lambda: browser_publishers(show.stream_key) == [], timeout=60)

            # Sending again, then ending the show: the camera's ffmpeg ends with it.
            seller.get_by_role("button", name="Go live with this camera").click()
            expect(seller.get_by_role("status").filter(has_text="Receiving video")).to_be_visible(timeout=120_000)
            wait_for(lambda: len(browser_publishers(show.stream_key)) == 1, timeout=60)
            # Ended from the other tab while the camera sends: the sending tab learns it by push.
            expect(console.get_by_role("status").filter(has_text="Receiving video")).to_be_visible()
            console.get_by_role("button", name="End stream").click()  # a form pushed when video made it live
            expect(console.get_by_role("button", name="Save stream")).to_be_visible()
            expect(seller.get_by_role("button", name="Save stream")).to_be_visible()
            expect(seller.get_by_role("button", name="Go live with this camera")).to_have_count(0)
            wait_for(lambda: browser_publishers(show.stream_key) == [], timeout=60)
            # The show is over: the camera and microphone are off (the camera light goes out).
            assert seller.evaluate("window.cameraStreams.length") >= 1
            wait_for(lambda: seller.evaluate(
                "window.cameraStreams.every(s => s.getTracks().every(t => t.readyState === 'ended'))"), timeout=60)
            close(shopper, seller)  # the console tab is in the seller's context
    finally:
        camera.close()
    assert errors == [], f"console errors in the seller's browser: {errors}"


def close(*pages) -> None:  # noqa: ANN002
    for page in pages:
        page.context.close()


def fresh(stream):  # noqa: ANN001, ANN201
    db.session.expire_all()
    return db.session.get(type(stream), stream.id)


def raw_files(app, stream_id: int) -> list[Path]:  # noqa: ANN001
    return list((Path(app.config["MEDIA_PATH"]) / "raw").glob(f"show-{stream_id}-*"))


def media_files(app, stream_id: int) -> list[Path]:  # noqa: ANN001
    media = Path(app.config["MEDIA_PATH"])
    paths = (media / "recordings" / f"show-{stream_id}.mp4", media / "thumbnails" / f"show-{stream_id}.jpg",
             media / "hls" / f"show-{stream_id}")
    return [path for path in paths if path.exists()]
