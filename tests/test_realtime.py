"""The websocket endpoint on a real gunicorn gevent worker: subscribe, receive what a request
publishes, refusals at the handshake, and a graceful stop that closes sockets at once."""

from __future__ import annotations

import signal
import socket
from urllib.parse import urlencode

import pytest
import simple_websocket

from tests.factories import make_user
from tests.support import Browser, Server

pytestmark = pytest.mark.server


def socket_url(server: Server, *channels: str) -> str:
    return server.url.replace("http://", "ws://") + "/ws?" + urlencode([("channel", c) for c in channels])


def connect(server: Server, *channels: str, browser: Browser | None = None, **headers: str):  # noqa: ANN201
    if browser is not None:
        headers["Cookie"] = browser.cookie_header()
    return simple_websocket.Client.connect(socket_url(server, *channels), headers=headers)


def handshake_status(server: Server, *channels: str, browser: Browser | None = None, origin: str | None = None,
                     path: str | None = None) -> int:
    """The HTTP status the server answers a websocket handshake with (101 means accepted), on /ws
    with `channels` or on another socket's `path`."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as raw:
        raw.sendall(handshake_request(server, *channels, cookie=browser.cookie_header() if browser else None,
                                      origin=origin, path=path))
        status_line = raw.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


def handshake_request(server: Server, *channels: str, cookie: str | None = None, origin: str | None = None,
                      path: str | None = None) -> bytes:
    """A websocket handshake as a browser sends it, on /ws with `channels` or on another `path`."""
    lines = [
        f"GET {path or '/ws?' + urlencode([('channel', c) for c in channels])} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if origin:
        lines.append(f"Origin: {origin}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_fragment_published_by_a_request_reaches_the_subscribed_socket(app_ctx, live_server, browser_client):
    user = make_user("watcher", display_name="Watcher Wu")
    browser_client.log_in("watcher")
    ws = connect(live_server, f"user:{user.id}", browser=browser_client)
    try:
        response = browser_client.submit("/account/shop", {"name": "Wu Wares", "slug": "wu-wares"}, page="/account/")
        assert response.status_code == 200
        message = ws.receive(timeout=120)
    finally:
        ws.close()
    assert message is not None, "nothing arrived on the socket"
    assert 'id="site-nav"' in message and 'hx-swap-oob="true"' in message and "Watcher Wu" in message


def test_subscriptions_the_user_may_not_see_are_refused(app_ctx, live_server, browser_client):
    owner, other = make_user("owner"), make_user("other")
    assert handshake_status(live_server, f"user:{owner.id}") == 403  # anonymous
    browser_client.log_in("other")
    assert handshake_status(live_server, f"user:{owner.id}", browser=browser_client) == 403
    assert handshake_status(live_server, f"user:{other.id}", f"user:{owner.id}", browser=browser_client) == 403
    assert handshake_status(live_server, "nosuchkind:1", browser=browser_client) == 403
    assert handshake_status(live_server, f"user:{other.id}", browser=browser_client,
                            origin="https://evil.example") == 403
    assert handshake_status(live_server, f"user:{other.id}", browser=browser_client) == 101


def test_graceful_stop_closes_open_sockets_instead_of_waiting(app, app_ctx):
    from tests.conftest import server_env

    user = make_user("leaver")
    server = Server(server_env(app))
    with Browser(server.url) as browser:
        browser.log_in("leaver")
        sockets = [connect(server, f"user:{user.id}", browser=browser) for _ in range(3)]
    server.stop()
    # Closed by the stopping worker with 1012: had it waited for them instead, gunicorn would have
    # killed it after the graceful timeout and the sockets would have ended without a close frame.
    for ws in sockets:
        with pytest.raises(simple_websocket.ConnectionClosed):
            ws.receive(timeout=120)
        assert ws.close_reason == 1012  # service restart: pages reconnect


def test_a_stopping_worker_refuses_a_socket_asked_for_on_a_kept_alive_connection(app, app_ctx):
    """A page reconnects as soon as its socket closes, and the browser may send the handshake on a
    connection it kept alive to the stopping worker: that socket is refused (503: the page polls
    and retries) rather than held until gunicorn kills the worker at its graceful timeout."""
    from tests.conftest import server_env

    user = make_user("leaver")
    graceful_timeout = 90
    server = Server({**server_env(app), "GRACEFUL_TIMEOUT": str(graceful_timeout)})
    try:
        with Browser(server.url) as browser:
            browser.log_in("leaver")
            cookie = browser.cookie_header()
            first = connect(server, f"user:{user.id}", browser=browser)
        kept_alive = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        with kept_alive:
            request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
            kept_alive.sendall(request)
            assert _read_answer(kept_alive).startswith(b"HTTP/1.1 200")
            server.process.send_signal(signal.SIGTERM)
            # The worker has shut its hub once the socket it had is closed with 1012.
            with pytest.raises(simple_websocket.ConnectionClosed):
                first.receive(timeout=120)
            assert first.close_reason == 1012
            kept_alive.sendall(handshake_request(server, f"user:{user.id}", cookie=cookie))
            assert _read_answer(kept_alive).split(b"\r\n", 1)[0] == b"HTTP/1.1 503 SERVICE UNAVAILABLE"
        took = server.stop(timeout=graceful_timeout + 30)
        assert took < graceful_timeout / 2, f"the worker took {took:.0f} s to stop:\n{server.output()[-2000:]}"
    finally:
        server.stop()


def _read_answer(sock: socket.socket) -> bytes:
    """One whole HTTP answer (its head, and its body by Content-Length) from `sock`, however the
    network split it, so that the next answer on the connection starts with its status line."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed mid-answer: {answer!r}"
        answer += chunk
    head, body = answer.split(b"\r\n\r\n", 1)
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed mid-body: {answer!r}"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_failed_socket_action_says_whether_its_change_was_saved(app):
    """An action that raises is answered by its `failed` renderer, with the message a request would
    get: nothing saved, or saved before it failed (then the page must not say to do it again)."""
    from blueprints.realtime import run_action
    from tests.factories import make_user as commit_something

    def failure_message(fields: dict, message: str) -> str:
        return message

    def fails_before_saving(fields: dict) -> str:
        raise RuntimeError("kaput")

    def fails_after_saving(fields: dict) -> str:
        commit_something("saved")
        raise RuntimeError("kaput")

    with app.test_request_context("/ws"):
        assert "Nothing was saved" in run_action(fails_before_saving, failure_message, {})
        answer = run_action(fails_after_saving, failure_message, {})
        assert "after your change was saved" in answer and "Nothing was saved" not in answer
        # The socket's next action starts with nothing saved.
        assert "Nothing was saved" in run_action(fails_before_saving, failure_message, {})
