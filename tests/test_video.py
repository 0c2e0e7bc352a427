"""Live video with the real media server: gunicorn starts nginx-rtmp, ffmpeg publishes like OBS.

The right key produces a playlist and the seller's page says "Receiving video" (pushed over the
seller's socket); a wrong key, a rotated key, an ended show's key and a second publisher are
refused; a dropped encoder is noticed ("Video lost"), and the show ends after the grace period.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from extensions import db, utcnow
from services import live, video
from tests.factories import make_product, make_seller, make_stream
from tests.support import Browser, wait_for
from tests.test_live_realtime import receive_until
from tests.test_realtime import connect, handshake_status
from tests.video_support import publishing, rtmp_url, video_server

pytestmark = pytest.mark.server


@pytest.fixture(name="shop")
def shop_fixture(app_ctx):  # noqa: ANN001, ANN201
    _, shop = make_seller("host")
    make_product(shop, "Blue Vase", 4200, stock=3)
    return shop


def refused(process, timeout: float = 60) -> bool:  # noqa: ANN001
    """ffmpeg gave up publishing: the media server refused it."""
    wait_for(lambda: process.poll() is not None, timeout)
    return process.returncode != 0


def fresh(stream):  # noqa: ANN001, ANN201
    db.session.expire_all()
    return db.session.get(type(stream), stream.id)


def playlist_status(tab: Browser, stream_id: int) -> tuple[int, str]:
    response = tab.get(f"/hls/show-{stream_id}/index.m3u8")
    return response.status_code, response.text


def test_the_right_key_plays_and_a_dropped_encoder_is_noticed(app, shop):
    app.config["VIDEO_GRACE_SECONDS"] = 4
    show = make_stream(shop, live=False, title="Glaze Night")
    with video_server(app) as server, Browser(server.url) as seller, Browser(server.url) as viewer:
        seller.log_in("host")
        assert "No video yet" in seller.get(f"/seller/shows/{show.id}").text
        seller_ws = connect(server, f"stream-seller:{show.id}", browser=seller)
        viewer_ws = connect(server, f"stream:{show.id}", Cookie="visitor_id=anon-1")
        try:
            with publishing(rtmp_url(app, show.stream_key)) as encoder:
                assert "Receiving video" in receive_until(seller_ws, f'id="seller-video-state-{show.id}"', timeout=120)
                assert 'data-video-state="receiving"' in receive_until(viewer_ws, f'id="video-state-{show.id}"')
                status, playlist = wait_for(lambda: (result := playlist_status(seller, show.id))[0] == 200
                                            and ".ts" in result[1] and result, timeout=120)
                assert playlist.startswith("#EXTM3U")
                studio = seller.get(f"/seller/shows/{show.id}").text
                assert "Receiving video" in studio and f'data-video-src="/hls/show-{show.id}/index.m3u8"' in studio
                # The key never appears in what viewers fetch; before going live they fetch nothing.
                assert show.stream_key not in playlist
                assert playlist_status(viewer, show.id)[0] == 404
                seller.submit(f"/seller/shows/{show.id}/go-live", {}, page=f"/seller/shows/{show.id}")
                assert playlist_status(viewer, show.id)[0] == 200
                assert encoder.poll() is None
            # The encoder stopped: the seller is told, viewers get "lost" (their player says Reconnecting…).
            assert "Video lost" in receive_until(seller_ws, f'id="seller-video-state-{show.id}"', timeout=60)
            assert fresh(show).video_state == "lost" and fresh(show).status == "live"
            # The grace period passes without video: the show ends by itself.
            wait_for(lambda: fresh(show).status == "ended", timeout=60)
        finally:
            seller_ws.close()
            viewer_ws.close()


def test_wrong_rotated_ended_and_second_publishers_are_refused(app, shop):
    show = make_stream(shop, live=False, title="Key Rules")
    other = make_stream(shop, live=False, title="Ended Already")
    live.end_show(other)
    with video_server(app) as server, Browser(server.url) as seller:
        seller.log_in("host")
        with publishing(rtmp_url(app, "sk_not-a-key")) as stranger:
            assert refused(stranger)
        with publishing(rtmp_url(app, other.stream_key)) as late:
            assert refused(late)

        old_key = show.stream_key
        seller.submit(f"/seller/shows/{show.id}/video/rotate-key", {"confirmed": "yes"},
                          page=f"/seller/shows/{show.id}")
        new_key = fresh(show).stream_key
        assert new_key != old_key and new_key in seller.get(f"/seller/shows/{show.id}").text
        with publishing(rtmp_url(app, old_key)) as leaked:
            assert refused(leaked)

        with publishing(rtmp_url(app, new_key)) as encoder:
            wait_for(lambda: fresh(show).video_state == "receiving", timeout=120)
            with publishing(rtmp_url(app, new_key)) as second:
                assert refused(second)
            assert encoder.poll() is None and fresh(show).video_state == "receiving"
            # Rotating while publishing drops the encoder that used the old key.
            seller.submit(f"/seller/shows/{show.id}/video/rotate-key", {"confirmed": "yes"},
                          page=f"/seller/shows/{show.id}")
            wait_for(lambda: encoder.poll() is not None, timeout=60)
        wait_for(lambda: fresh(show).video_state == "offline", timeout=60)


def test_only_the_seller_opens_the_camera_socket_from_our_own_pages(app, shop):
    make_seller("stranger")
    show = make_stream(shop, live=False, title="Camera")
    path = f"/seller/shows/{show.id}/video/ingest"
    with video_server(app) as server, Browser(server.url) as seller, Browser(server.url) as stranger:
        seller.log_in("host")
        stranger.log_in("stranger")
        assert handshake_status(server, path=path) == 403
        assert handshake_status(server, path=path, browser=stranger) == 403
        assert handshake_status(server, path=path, browser=seller, origin="https://elsewhere.example") == 403
        assert handshake_status(server, path=path, browser=seller, origin=server.url) == 101


# --- the hooks' rules, through the app alone (what nginx would send) --------------------------------


def hook(client, app, event: str, name: str, clientid: str = "7", secret: str | None = None):  # noqa: ANN001, ANN201
    from services.media_server import hook_secret

    secret = hook_secret(app.config) if secret is None else secret
    return client.post(f"/video/hooks/{event}?secret={secret}",
                       data={"app": "live", "name": name, "addr": "203.0.113.9", "clientid": clientid})


def test_hooks_need_the_shared_secret_and_follow_the_key_rules(app, client, shop):
    show = make_stream(shop, title="Rules")
    assert hook(client, app, "publish", show.stream_key, secret="guess").status_code == 403
    assert fresh(show).video_state == "offline"
    assert hook(client, app, "publish", "sk_wrong").status_code == 403

    accepted = hook(client, app, "publish", show.stream_key)
    assert accepted.status_code == 302
    assert accepted.headers["Location"] == f"rtmp://127.0.0.1:{app.config['RTMP_PORT']}/show/show-{show.id}"
    assert fresh(show).video_state == "receiving"
    assert hook(client, app, "publish", show.stream_key, clientid="8").status_code == 403  # a second encoder
    assert hook(client, app, "update", show.stream_key).status_code == 204
    assert hook(client, app, "update", show.stream_key, clientid="8").status_code == 403

    hook(client, app, "publish-done", show.stream_key, clientid="8")  # the refused one leaving changes nothing
    assert fresh(show).video_state == "receiving"
    hook(client, app, "publish-done", show.stream_key)
    assert fresh(show).video_state == "lost" and fresh(show).is_live

    live.end_show(fresh(show))
    assert hook(client, app, "publish", show.stream_key).status_code == 403


def test_viewers_fetching_the_live_video_as_the_show_ends_are_not_cut_off(app, client, shop):
    """A player stops when the end reaches it (pushed, or the next poll); what it fetches until then
    still answers, so the shopper's console shows no 404. Later the live video is gone."""
    show = make_stream(shop, title="Last Minute")
    live.end_show(fresh(show))
    assert client.get(f"/hls/show-{show.id}/index.m3u8").status_code == 200
    fresh(show).ended_at = utcnow() - timedelta(seconds=video.LIVE_AFTER_END_SECONDS + 1)
    db.session.commit()
    assert client.get(f"/hls/show-{show.id}/index.m3u8").status_code == 404


def test_media_origins_reach_connect_and_media_src_only(app):
    from config import media_origins
    from web import content_security_policy

    policy = content_security_policy(["https://cdn.example.com"])
    assert "connect-src 'self' https://cdn.example.com;" in policy
    assert "media-src 'self' blob: https: https://cdn.example.com;" in policy
    assert policy.count("cdn.example.com") == 2 and "script-src 'self';" in policy
    assert media_origins("https://a.example.com, http://127.0.0.1:9000") == ["https://a.example.com",
                                                                             "http://127.0.0.1:9000"]
    with pytest.raises(RuntimeError):
        media_origins("https://cdn.example.com; script-src *")
