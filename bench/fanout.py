"""Chat fan-out: N websockets watch one live show on one gunicorn gevent worker while chat
messages are posted at a steady rate; every socket times every message's arrival.

    python -m bench.fanout --sockets 1000 --rate 5 --seconds 20
    python -m bench.fanout --sockets 5000 --rate 5 --seconds 20

Messages are posted over HTTP by logged-in users (the real path: form, rate limit, database,
render once, hub, every socket), and latency is measured from just before each POST to its
arrival at each socket. The client sockets run in a few asyncio processes beside the server, on
the same machine, so the figures include that contention. The last line reads
`fanout: N sockets, M msgs/s -> p50 A ms, p99 B ms, lost L`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from itsdangerous import URLSafeSerializer  # noqa: E402

from services.presence import VISITOR_SALT  # noqa: E402
from tests.support import FAST_HASH, Browser, running_server  # noqa: E402

MARKER = re.compile(r"fanout-(\d+)-")
CHAT_USERS = 24


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _client_process(url: str, count: int, ready, start_at, results, stop_at) -> None:  # noqa: ANN001
    """Hold `count` sockets; report (connected, {message number: [arrival times]}).

    A deliberately thin client: after a real websocket handshake it only scans the bytes it
    receives for message markers (server frames are unmasked text, so a marker is visible in the
    stream). A full websocket library in the same 2 cores as the server would spend more time
    decoding than the server spends sending, and the figures would measure the client.
    """
    _raise_file_limit()
    import gc
    from urllib.parse import urlsplit

    gc.disable()  # the measuring clients must not add their own collection pauses
    parts = urlsplit(url)
    arrivals: dict[int, list[float]] = {}
    connected = 0
    marker = re.compile(rb"fanout-(\d+)-")

    def visitor_cookie(number: int) -> str:
        """A visitor cookie as the show page signs it (the server's SECRET_KEY is "bench")."""
        return URLSafeSerializer("bench", salt=VISITOR_SALT).dumps(f"bench-{os.getpid()}-{number}")

    class Watcher(asyncio.Protocol):
        def __init__(self, number: int, opened: asyncio.Future) -> None:
            self.number, self.opened, self.buffer, self.tail = number, opened, b"", b""

        def connection_made(self, transport: asyncio.Transport) -> None:
            transport.write(
                (f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                 f"Sec-WebSocket-Version: 13\r\nCookie: visitor_id={visitor_cookie(self.number)}\r\n\r\n").encode()
            )

        def data_received(self, data: bytes) -> None:
            now = time.time()
            if not self.opened.done():
                self.buffer += data
                if b"\r\n\r\n" not in self.buffer:
                    return
                head, _, data = self.buffer.partition(b"\r\n\r\n")
                self.opened.set_result(head.startswith(b"HTTP/1.1 101"))
            chunk = self.tail + data
            for found in marker.finditer(chunk):
                if found.end() > len(self.tail):  # not already counted in the previous chunk
                    arrivals.setdefault(int(found.group(1)), []).append(now)
            self.tail = chunk[-24:]

    async def hold(number: int) -> None:
        nonlocal connected
        loop = asyncio.get_running_loop()
        for attempt in range(5):
            opened = loop.create_future()
            try:
                transport, _ = await loop.create_connection(lambda opened=opened: Watcher(number, opened),
                                                            parts.hostname, parts.port)
                if await asyncio.wait_for(opened, 60):
                    connected += 1
                    while time.time() < stop_at.value:
                        await asyncio.sleep(0.5)
                    transport.close()
                    return
                transport.close()
            except (OSError, TimeoutError):
                pass
            await asyncio.sleep(0.5 * (attempt + 1))

    async def main() -> None:
        tasks = []
        for number in range(count):
            tasks.append(asyncio.create_task(hold(number)))
            if number % 100 == 99:
                await asyncio.sleep(0.2)  # a steady join wave, not one burst
        while connected < count and time.time() < start_at.value:
            await asyncio.sleep(0.2)
        ready.put(connected)
        await asyncio.gather(*tasks)

    asyncio.run(main())
    results.put((connected, arrivals))


def run(sockets: int, rate: float, seconds: float, processes: int) -> None:
    _raise_file_limit()
    from app import create_app
    from extensions import db
    from tests.factories import make_product, make_seller, make_stream, make_user

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        database_url = f"sqlite:///{tmp / 'fanout.db'}"
        config = {"STREAMSHOP_ENV": "testing", "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database_url,
                  "PASSWORD_HASH_METHOD": FAST_HASH, "INSTANCE_PATH": str(tmp)}
        app = create_app(config)
        with app.app_context():
            db.create_all()
            _, shop = make_seller("fanout-host")
            stream_id = make_stream(shop, [make_product(shop, "Bench Mug")]).id
            chatters = [make_user(f"chatter{n}").username for n in range(CHAT_USERS)]
            db.session.remove()
            db.engine.dispose()
        env = {"STREAMSHOP_ENV": "testing", "SECRET_KEY": "bench", "DATABASE_URL": database_url,
               "PASSWORD_HASH_METHOD": FAST_HASH, "INSTANCE_PATH": str(tmp), "ACCESS_LOG": "",
               "WORKER_CONNECTIONS": str(sockets + 1000), "LOG_LEVEL": "warning",
               # The thin clients do not answer pings; the run is far shorter than this.
               "WS_PING_INTERVAL": "600",
               # Every bench socket comes from this one address.
               "WS_MAX_SOCKETS_PER_ADDRESS": "0"}
        with running_server(env, workers=1) as server:
            url = server.url.replace("http://", "ws://") + f"/ws?channel=stream:{stream_id}"
            context = multiprocessing.get_context("spawn")
            ready, results = context.Queue(), context.Queue()
            start_at = context.Value("d", time.time() + 120)
            stop_at = context.Value("d", time.time() + 3600)
            shares = [sockets // processes + (1 if n < sockets % processes else 0) for n in range(processes)]
            workers = [context.Process(target=_client_process, args=(url, share, ready, start_at, results, stop_at))
                       for share in shares]
            began = time.time()
            for worker in workers:
                worker.start()
            connected = sum(ready.get(timeout=180) for _ in workers)
            connect_seconds = time.time() - began
            time.sleep(2)  # let the join wave's coalesced presence updates settle

            browsers = []
            for username in chatters:
                browser = Browser(server.url)
                browser.log_in(username)
                browser.token = browser.csrf(f"/live/{stream_id}")
                browsers.append(browser)
            sent: dict[int, float] = {}
            total = int(rate * seconds)
            interval = 1 / rate
            first = time.perf_counter()
            errors = 0

            def post(number: int) -> None:
                nonlocal errors
                browser = browsers[number % len(browsers)]
                sent[number] = time.time()
                response = browser.post(f"/live/{stream_id}/comments", data={"comment": f"fanout-{number}-hello"},
                                        headers={"HX-Request": "true", "X-CSRFToken": browser.token})
                if response.status_code != 200:
                    errors += 1

            posters = []
            for number in range(total):
                delay = first + number * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                thread = threading.Thread(target=post, args=(number,))
                thread.start()
                posters.append(thread)
            for thread in posters:
                thread.join()
            time.sleep(3)
            stop_at.value = time.time()
            gathered = [results.get(timeout=60) for _ in workers]
            for worker in workers:
                worker.join(timeout=30)
            for browser in browsers:
                browser.close()

    latencies = []
    received = 0
    for _, arrivals in gathered:
        for number, times in arrivals.items():
            received += len(times)
            latencies.extend((arrival - sent[number]) * 1000 for arrival in times if number in sent)
    per_message = {}
    for _, arrivals in gathered:
        for number, times in arrivals.items():
            per_message.setdefault(number, []).extend((arrival - sent[number]) * 1000 for arrival in times)
    slowest = sorted(per_message, key=lambda n: -max(per_message[n]))[:5]
    print("slowest messages (number: max ms):", ", ".join(f"{n}: {max(per_message[n]):.0f}" for n in slowest))
    expected = connected * (total - errors)
    latencies.sort()
    p50 = statistics.median(latencies) if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan")
    print(f"{connected} of {sockets} sockets connected in {connect_seconds:.1f} s; {total} messages posted "
          f"({errors} refused); {received} of {expected} deliveries; max {latencies[-1] if latencies else 0:.0f} ms")
    print(f"fanout: {sockets} sockets, {rate:g} msgs/s -> p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
          f"lost {expected - received + (sockets - connected) * total}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=5, help="chat messages per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--processes", type=int, default=2, help="client processes holding the sockets")
    args = parser.parse_args()
    run(args.sockets, args.rate, args.seconds, args.processes)


if __name__ == "__main__":
    main()
