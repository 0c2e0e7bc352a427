"""Live shows over real websockets on real gunicorn gevent workers: presence, likes, chat, and
(with Redis) a like posted through one worker reaching a socket held by another."""

from __future__ import annotations

import time

import pytest

from tests.conftest import requires_redis, server_env
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import Browser, running_server
from tests.test_realtime import connect

pytestmark = pytest.mark.server


def receive_until(ws, needle: str, timeout: float = 5) -> str:  # noqa: ANN001
    """Messages until one contains `needle` (fail after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        message = ws.receive(timeout=max(0.05, deadline - time.monotonic()))
        if message is None:
            continue
        seen.append(message)
        if needle in message:
            return message
    raise AssertionError(f"{needle!r} never arrived; got {seen!r}")


@pytest.fixture(name="show")
def show_fixture(app_ctx):  # noqa: ANN001, ANN201
    _, shop = make_seller("host")
    return make_stream(shop, [make_product(shop, "Blue Vase", 4200, stock=3)])


def test_presence_likes_and_chat_reach_the_sockets(app, show, live_server):
    make_user("fan", display_name="Fan Fiona")
    with Browser(live_server.url) as seller_tab, Browser(live_server.url) as fan_tab, \
            Browser(live_server.url) as guest_tab:
        seller_tab.log_in("host")
        seller_ws = connect(live_server, f"stream-seller:{show.id}", browser=seller_tab)
        guest_tab.get(f"/live/{show.id}")  # the page issues the guest's signed visitor cookie
        viewer_ws = connect(live_server, f"stream:{show.id}", browser=guest_tab)
        try:
            assert ">1 watching<" in receive_until(viewer_ws, f'id="viewer-count-{show.id}"')
            assert "Guest" in receive_until(seller_ws, f'id="viewer-list-{show.id}"')
            fan_tab.log_in("fan")
            token = fan_tab.csrf(f"/live/{show.id}")
            fan_tab.post(f"/live/{show.id}/react/like", headers={"HX-Request": "true", "X-CSRFToken": token})
            like = receive_until(viewer_ws, f'id="like-count-{show.id}"')
            assert f'<span id="like-count-{show.id}" class="count" hx-swap-oob="true">1</span>' in like
            fan_tab.post(f"/live/{show.id}/comments", data={"comment": "Love that blue"},
                         headers={"HX-Request": "true", "X-CSRFToken": token})
            chat = receive_until(viewer_ws, "Love that blue")
            assert f'hx-swap-oob="beforeend:#chat-log-{show.id}"' in chat and "Fan Fiona" in chat
            assert "Love that blue" in receive_until(seller_ws, f"#comment-feed-{show.id}")
        finally:
            viewer_ws.close()
        assert "Nobody is watching yet." in receive_until(seller_ws, f'id="viewer-list-{show.id}"')
        seller_ws.close()


@requires_redis()
def test_a_like_posted_through_one_worker_reaches_a_socket_on_another(app, show):
    make_user("fan")
    env = server_env(app)
    with running_server(env) as first, running_server(env) as second, Browser(second.url) as fan_tab, \
            Browser(first.url) as guest_tab:
        guest_tab.get(f"/live/{show.id}")  # a signed visitor cookie: the guest counts, and is told so
        viewer_ws = connect(first, f"stream:{show.id}", browser=guest_tab)
        try:
            receive_until(viewer_ws, f'id="viewer-count-{show.id}"')
            fan_tab.log_in("fan")
            token = fan_tab.csrf(f"/live/{show.id}")
            fan_tab.post(f"/live/{show.id}/react/like", headers={"HX-Request": "true", "X-CSRFToken": token})
            like = receive_until(viewer_ws, f'id="like-count-{show.id}"')
        finally:
            viewer_ws.close()
    assert f'<span id="like-count-{show.id}" class="count" hx-swap-oob="true">1</span>' in like
