"""Honest presence on a real gunicorn gevent worker: made-up visitor cookies count as nobody,
sockets are capped per client and per address, a heartbeat flood costs no database writes, and
a 4 MB frame is refused."""

from __future__ import annotations

import time

import pytest
import simple_websocket
import sqlalchemy as sa

from extensions import db
from models import LiveStream, StreamViewer
from tests.conftest import server_env
from tests.factories import make_product, make_seller, make_stream
from tests.support import Browser, Server
from tests.test_realtime import connect, handshake_status

pytestmark = pytest.mark.server


def wait_for(condition, timeout: float = 120, message: str = "condition"):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"{message} did not happen within {timeout} s")


def counts(stream_id: int) -> tuple[int, int, int]:
    """(watching now, unique, peak), read fresh from the database."""
    db.session.remove()
    watching = db.session.scalar(sa.select(sa.func.count()).select_from(StreamViewer)
                                 .where(StreamViewer.stream_id == stream_id, StreamViewer.is_active))
    stream = db.session.get(LiveStream, stream_id)
    return watching, stream.unique_viewers, stream.peak_viewers


@pytest.fixture(name="show_id")
def show_fixture(app_ctx):  # noqa: ANN001, ANN201
    _, shop = make_seller("host")
    return make_stream(shop, [make_product(shop, "Blue Vase")]).id


@pytest.fixture(name="server")
def server_fixture(app):  # noqa: ANN001, ANN201
    server = Server({**server_env(app), "WS_MAX_SOCKETS_PER_CLIENT": "3", "WS_MAX_SOCKETS_PER_ADDRESS": "8"})
    yield server
    server.stop()


def test_made_up_visitor_cookies_count_as_nobody(server, show_id):
    forged = [connect(server, f"stream:{show_id}", Cookie=f"visitor_id=made-up-{n}") for n in range(5)]
    with Browser(server.url) as guest:
        guest.get(f"/live/{show_id}")
        real = connect(server, f"stream:{show_id}", browser=guest)
        try:
            wait_for(lambda: counts(show_id)[1] >= 1, message="the real visitor counted")
            assert counts(show_id) == (1, 1, 1)  # the five forged sockets are nobody
        finally:
            for ws in [*forged, real]:
                ws.close()


def test_sockets_are_capped_per_client_and_per_address(server, show_id):
    channel = f"stream:{show_id}"
    with Browser(server.url) as guest:
        guest.get(f"/live/{show_id}")
        mine = [connect(server, channel, browser=guest) for _ in range(3)]
        assert handshake_status(server, channel, browser=guest) == 429  # a fourth for one visitor
        others = [connect(server, channel) for _ in range(5)]  # cookieless: only the address cap
        assert handshake_status(server, channel) == 429  # nine from one address
        others.pop().close()
        wait_for(lambda: handshake_status(server, channel) == 101, message="a closed socket freeing its slot")
        for ws in mine + others:
            ws.close()


def test_a_heartbeat_flood_writes_nothing_and_a_huge_frame_is_refused(server, show_id):
    with Browser(server.url) as guest:
        guest.get(f"/live/{show_id}")
        ws = connect(server, f"stream:{show_id}", browser=guest)
        try:
            wait_for(lambda: counts(show_id)[0] == 1, message="the visitor counted")
            db.session.remove()
            joined = db.session.scalar(sa.select(StreamViewer.last_seen_at))
            for _ in range(3000):
                ws.send('{"heartbeat": true}')
            # The socket still works after the flood (it is read to the end), and wrote no heartbeat:
            # the first write is due only MIN_HEARTBEAT_GAP_SECONDS after joining.
            with Browser(server.url) as probe:
                assert probe.get(f"/live/{show_id}").status_code == 200
            db.session.remove()
            assert db.session.scalar(sa.select(StreamViewer.last_seen_at)) == joined
            assert ws.connected
            ws.send("x" * (4 * 1024 * 1024))
            with pytest.raises(simple_websocket.ConnectionClosed) as closed:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    ws.receive(timeout=1)
            assert closed.value.reason == 1009  # "message too big"
        finally:
            if ws.connected:
                ws.close()
