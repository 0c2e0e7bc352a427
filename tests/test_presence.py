"""Honest presence on a real gunicorn gevent worker: made-up visitor cookies count as nobody,
sockets are capped per client and per address (across two workers with Redis, in each worker
while Redis is unreachable), a heartbeat flood costs no database writes, and a 4 MB frame is
refused."""

from __future__ import annotations

import os
import signal
import time
from contextlib import suppress
from pathlib import Path

import pytest
import simple_websocket
import sqlalchemy as sa

from extensions import db
from models import LiveStream, StreamViewer
from tests.conftest import server_env
from tests.factories import make_product, make_seller, make_stream
from tests.support import Browser, Server, free_port, running_server, wait_for
from tests.test_faults import redis_server_fixture  # noqa: F401 - the `redis_server` fixture
from tests.test_realtime import connect, handshake_status

pytestmark = pytest.mark.server


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


def worker_pids(server: Server, count: int, without: int | None = None) -> list[int]:
    """The gunicorn master's worker processes, once it runs `count` of them (none of them `without`)."""
    def children() -> list[int]:
        path = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
        pids = [int(pid) for pid in path.read_text().split()]
        return pids if len(pids) == count and without not in pids else []
    return wait_for(children, message=f"{count} workers")


def on_worker(pid: int, others: list[int], action):  # noqa: ANN001, ANN201
    """Run `action` while every other worker is paused (SIGSTOP), so `pid` accepts its connections.
    The pause is short: gunicorn's master would replace a worker silent for 30 s."""
    paused = [other for other in others if other != pid]
    for other in paused:
        os.kill(other, signal.SIGSTOP)
    try:
        return action()
    finally:
        for other in paused:
            os.kill(other, signal.SIGCONT)


def test_with_redis_the_socket_caps_hold_across_workers(app, show_id, redis_server):
    channel = f"stream:{show_id}"
    env = {**server_env(app), "REDIS_URL": redis_server.url,
           "WS_MAX_SOCKETS_PER_CLIENT": "3", "WS_MAX_SOCKETS_PER_ADDRESS": "5", "WS_SOCKET_SLOT_TTL_SECONDS": "30"}
    with running_server(env, workers=2) as server, Browser(server.url) as guest, Browser(server.url) as other:
        first, second = workers = worker_pids(server, 2)
        guest.get(f"/live/{show_id}")
        other.get(f"/live/{show_id}")
        opened = []
        try:
            # One visitor: two sockets on one worker and one on the other reach the cap of three...
            opened += on_worker(first, workers, lambda: [connect(server, channel, browser=guest) for _ in range(2)])
            opened += on_worker(second, workers, lambda: [connect(server, channel, browser=guest)])
            # ...so a fourth is refused, though this worker holds only one of theirs.
            assert on_worker(second, workers, lambda: handshake_status(server, channel, browser=guest)) == 429
            # One address: five sockets over both workers (three of the visitor's, one of another
            # visitor's, one cookieless) reach its cap; a sixth is refused on either worker.
            opened += on_worker(second, workers, lambda: [connect(server, channel, browser=other)])
            opened += on_worker(first, workers, lambda: [connect(server, channel)])
            assert on_worker(first, workers, lambda: handshake_status(server, channel)) == 429
            assert on_worker(second, workers, lambda: handshake_status(server, channel)) == 429
            # A socket closed on one worker frees its slot on the other.
            opened.pop(0).close()
            def fourth_on_second() -> int:
                return on_worker(second, workers, lambda: handshake_status(server, channel, browser=guest))
            wait_for(lambda: fourth_on_second() == 101, message="the closed socket's slot freed across workers")

            # A worker killed without closing its sockets: they count until their entries expire
            # (WS_SOCKET_SLOT_TTL_SECONDS), then no more. The visitor holds one socket on each.
            os.kill(first, signal.SIGKILL)
            workers = worker_pids(server, 2, without=first)
            opened.append(on_worker(second, workers, lambda: connect(server, channel, browser=guest)))
            assert on_worker(second, workers, lambda: handshake_status(server, channel, browser=guest)) == 429
            wait_for(lambda: fourth_on_second() == 101, message="the killed worker's sockets expiring")
        finally:
            for ws in opened:
                with suppress(simple_websocket.ConnectionClosed):  # the killed worker's are gone
                    ws.close()


def test_while_redis_is_unreachable_the_caps_count_in_this_worker(app_ctx, monkeypatch):
    from realtime.hub import RedisHub
    from services import presence

    # A Redis that nothing listens on: admission cannot be counted there, so it is counted here.
    monkeypatch.setitem(app_ctx.extensions, "hub", RedisHub(f"redis://127.0.0.1:{free_port()}/0"))
    monkeypatch.setitem(app_ctx.config, "WS_MAX_SOCKETS_PER_CLIENT", 2)
    slots = [presence.admit_socket("v:someone", "192.0.2.7") for _ in range(2)]
    try:
        assert all(slot is not None and not slot.redis_keys for slot in slots)
        assert presence.admit_socket("v:someone", "192.0.2.7") is None
        presence.release_socket(slots.pop())
        slots.append(presence.admit_socket("v:someone", "192.0.2.7"))
        assert slots[-1] is not None
    finally:
        for slot in slots:
            if slot is not None:
                presence.release_socket(slot)
