"""N bidders hammer the last seconds of an auction through real HTTP against gunicorn.

    DATABASE_URL=postgresql://postgres@127.0.0.1/postgres REDIS_URL=redis://127.0.0.1:6379/8 \\
        python -m bench.auction --bidders 200 --seconds 10 --workers 2    # a fresh PostgreSQL database

Every bidder logs in over HTTP and opens the show page's websocket (the show's and their own
channels, as the page does); then the seller starts a sudden-death auction of `--seconds` and all
bidders bid as fast as their answers come back (max bids with rising ceilings, each ceiling
unique), while one viewer's websocket on the show records when each new price arrives. The bids go
over the bidders' sockets, as the show page sends them while its socket is up (`--over socket`,
the default; the bidders' sockets share one asyncio loop), or as form posts, as the page sends
them while its socket is down (`--over http`, one thread and HTTP client per bidder). When the
clock runs out the server's selling clock closes the auction. Push latency is from a bid leaving
the bidder to the first push showing its price (or a higher one) on the viewer's socket. "price
correct" means the hammer price is what the proxy rule gives for the accepted bids in the audit
(the second-highest maximum plus the increment, capped at the highest) and the one order is the
top bidder's, at that price. The last line reads
`auction: N bidders -> B bids/s accepted, p99 push L ms, winners W, price correct|WRONG`.

The line before it splits that latency, on PostgreSQL: a trigger the benchmark adds to its own
database NOTIFYs each new price, and PostgreSQL delivers a notification when the transaction
commits, so a listener here sees each commit. "request->commit" is from a bid leaving the bidder
to the commit of its price (or a higher one): the wait for a worker and the bid's own work.
"commit->push" is from that commit to the viewer's socket receiving the price: the publish after
the commit (one reload, one render) and the hub's part (Redis, the worker's listener, the socket).
With the Redis hub, "publish->push" is the hub's part alone: from the benchmark's own subscriber
on the hub's Redis channel receiving the price to the viewer's socket receiving it. The CPU
seconds of the gunicorn workers and of this process (the bidders' clients) during the bidding
show how the two cores were shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_app  # noqa: E402
from tests.support import FAST_HASH, TEST_PASSWORD, Browser, csrf_from, running_server  # noqa: E402

INCREMENT = 100
PRICE = re.compile(r'class="auction-price">\$([\d,]+)\.(\d\d)<')
ANSWER = re.compile(r'<p id="bid-result-\d+"([^>]*)>(.*?)</p>', re.S)


def cents(match: re.Match) -> int:
    return int(match.group(1).replace(",", "")) * 100 + int(match.group(2))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process has used so far (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """All CPUs' (busy, total) clock ticks so far, from /proc/stat."""
    fields = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def watch_commits(database_url: str, stamps: list[tuple[float, int]], listening: threading.Event) -> threading.Thread:
    """Record (when, price) for each committed new price of an auction (PostgreSQL only): a trigger
    in the benchmark's own database NOTIFYs it, and a notification is delivered at the commit."""
    import psycopg
    import sqlalchemy as sa

    url = sa.engine.make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("""
            CREATE FUNCTION bench_auction_price() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_notify('bench_auction_price', NEW.current_price_cents::text); RETURN NEW; END $$""")
        setup.execute("""
            CREATE TRIGGER bench_auction_price AFTER UPDATE ON auctions FOR EACH ROW
            WHEN (NEW.current_price_cents IS DISTINCT FROM OLD.current_price_cents)
            EXECUTE FUNCTION bench_auction_price()""")
    connection = psycopg.connect(url, autocommit=True)
    connection.execute("LISTEN bench_auction_price")

    def listen() -> None:
        with connection:
            while listening.is_set():
                for notice in connection.notifies(timeout=0.5):
                    stamps.append((time.perf_counter(), int(notice.payload)))

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    return thread


def watch_publishes(prefix: str, channel: str, stamps: list[tuple[float, int]],
                    listening: threading.Event) -> threading.Thread:
    """Record (when, price) for each price published on the hub's Redis channel."""
    import redis

    pubsub = redis.Redis.from_url(os.environ["REDIS_URL"]).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(prefix + channel)
    while pubsub.get_message(timeout=1) is None and not pubsub.subscribed:
        pass

    def listen() -> None:
        while listening.is_set():
            message = pubsub.get_message(timeout=0.5)
            if message and message["type"] == "message":
                at = time.perf_counter()
                stamps.extend((at, cents(match)) for match in PRICE.finditer(message["data"].decode()))
        pubsub.close()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    return thread


def first_seen(stamps: list[tuple[float, int]]) -> dict[int, float]:
    """When each price was first seen."""
    seen: dict[int, float] = {}
    for at, price in stamps:
        seen.setdefault(price, at)
    return seen


class SocketBidders:
    """The bidders' show sockets, all on one asyncio loop in a thread of its own: a thread per socket
    would spend the bidders' share of the CPU switching between hundreds of threads."""

    def __init__(self, sockets: list[tuple[str, str]]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sockets = self._run(self._connect_all(sockets))

    def _run(self, coroutine):  # noqa: ANN001, ANN202
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    @staticmethod
    async def _connect_all(sockets: list[tuple[str, str]]) -> list:
        from websockets.asyncio.client import connect

        handshakes = asyncio.Semaphore(20)

        async def one(url: str, cookie: str):  # noqa: ANN202
            async with handshakes:
                return await connect(url, additional_headers={"Cookie": cookie}, compression=None,
                                     max_size=None, ping_interval=None, open_timeout=120)

        return await asyncio.gather(*(one(url, cookie) for url, cookie in sockets))

    def bid(self, auction_id: int, ends: float, tokens: list[str], ceiling, count) -> None:  # noqa: ANN001
        """Every bidder bids until `ends`, each sending its next bid when the last is answered."""
        async def bidder(index: int, ws) -> None:  # noqa: ANN001
            round_ = 0
            while time.perf_counter() < ends:
                started = time.perf_counter()
                await ws.send(json.dumps({"action": "bid", "auction_id": auction_id, "kind": "max",
                                          "amount": ceiling(index, round_), "csrf_token": tokens[index]}))
                count(started, *await self._answer(ws))
                round_ += 1

        async def everyone() -> None:
            await asyncio.gather(*(bidder(index, ws) for index, ws in enumerate(self.sockets)))

        self._run(everyone())

    @staticmethod
    async def _answer(ws) -> tuple[str, int]:  # noqa: ANN001
        """The answer to the bid just sent: its text and the status the same answer has over HTTP.
        Not a push of the bidder's standing (those carry data-push-if-present); it may share a
        frame with pushes that queued up meanwhile."""
        # One deadline for the whole wait: `wait_for` on every message would start a task and a
        # timer per push, and the bidders' clients share the two cores with the server.
        try:
            async with asyncio.timeout(60):
                while True:
                    message = await ws.recv()
                    if 'id="bid-result-' not in message:
                        continue  # a price push for the whole show
                    for attributes, text in ANSWER.findall(message):
                        if "data-push-if-present" not in attributes:
                            return text, (200 if "notice-success" in text else 429 if "Too many bids" in text
                                          else 422 if "notice-error" in text else 0)
        except TimeoutError:
            return "", 0

    def close(self) -> None:
        async def close_all() -> None:
            await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)

        self._run(close_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bidders", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2 if os.environ.get("REDIS_URL") else 1)
    parser.add_argument("--over", choices=("socket", "http"), default="socket",
                        help="how bids are sent: over each bidder's show socket, as the show page does "
                             "while its socket is up (default), or as form posts, as it does while not")
    args = parser.parse_args()

    import simple_websocket
    import sqlalchemy as sa

    from extensions import db
    from models import Auction, AuctionBid, LiveStream, Order, User
    from services import auctions
    from tests.factories import make_product, make_seller, make_stream, make_user

    with tempfile.TemporaryDirectory() as tmp_name, bench_app(Path(tmp_name)) as (app, database_url):
        with app.app_context():
            _, shop = make_seller("bench-seller")
            product = make_product(shop, "Signed Print", 9000, stock=1)
            stream_id = make_stream(shop, [product]).id
            product_id = product.id
            bidders = [make_user(f"bidder{n}") for n in range(args.bidders)]
            usernames = [(user.username, user.id) for user in bidders]
        # Every bidder connects from this one address: no cap on sockets per address.
        env = {"STREAMSHOP_ENV": "testing", "SECRET_KEY": "bench", "DATABASE_URL": database_url,
               "PASSWORD_HASH_METHOD": FAST_HASH, "INSTANCE_PATH": tmp_name, "ACCESS_LOG": "",
               "WS_MAX_SOCKETS_PER_ADDRESS": "0"}
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"]
            env["REDIS_HUB_PREFIX"] = f"bench-auction-{os.getpid()}:"
        postgresql = database_url.startswith("postgresql")
        commits: list[tuple[float, int]] = []  # (when committed, price), PostgreSQL only
        published: list[tuple[float, int]] = []  # (when published on Redis, price), Redis hub only
        watching = threading.Event()
        watching.set()
        watchers = [watch_commits(database_url, commits, watching)] if postgresql else []
        with running_server(env, workers=args.workers) as server:
            clients: list[tuple[httpx.Client, str]] = []
            sockets: list[tuple[str, str]] = []  # (socket URL, cookie) per bidder
            for username, user_id in usernames:
                browser = Browser(server.url)
                response = browser.submit("/login", {"identifier": username, "password": TEST_PASSWORD})
                assert response.status_code == 200, f"login failed for {username}"
                token = csrf_from(browser.get(f"/live/{stream_id}").text)
                browser.close()
                # Fresh connections for the race; a slow answer on a shared machine is not an error.
                clients.append((httpx.Client(base_url=server.url, cookies=browser.cookies, timeout=60), token))
                if args.over == "socket":
                    # The channels the show page opens its socket with, for a logged-in viewer.
                    sockets.append((server.url.replace("http://", "ws://") + f"/ws?channel=stream:{stream_id}"
                                    f"&channel=user:{user_id}", browser.cookie_header()))
            bidders_sockets = SocketBidders(sockets) if sockets else None

            pushes: list[tuple[float, int]] = []
            viewer = simple_websocket.Client.connect(
                server.url.replace("http://", "ws://") + f"/ws?channel=stream:{stream_id}",
                headers={"Cookie": "visitor_id=bench-viewer"})
            listening = threading.Event()
            listening.set()

            def listen() -> None:
                while listening.is_set():
                    try:
                        message = viewer.receive(timeout=0.5)
                    except Exception:  # noqa: BLE001 - the socket closed at the end
                        return
                    if message:
                        at = time.perf_counter()
                        pushes.extend((at, cents(match)) for match in PRICE.finditer(message))

            listener = threading.Thread(target=listen, daemon=True)
            listener.start()
            if os.environ.get("REDIS_URL"):
                watchers.append(watch_publishes(env["REDIS_HUB_PREFIX"], f"stream:{stream_id}", published, watching))
            time.sleep(1)  # the viewer's subscription is in place (a socket handshake, not a race)

            with app.app_context():
                stream = db.session.get(LiveStream, stream_id)
                auction = auctions.start_auction(stream, auctions.AuctionDraft(
                    product_id, 1000, INCREMENT, args.seconds, "sudden_death"))
                auction_id, ends = auction.id, time.perf_counter() + args.seconds
                db.session.remove()

            sent: list[tuple[float, int]] = []  # (when sent, price after) for each accepted bid
            outcomes = {"accepted": 0, "refused": 0, "limited": 0, "errors": 0}
            lock = threading.Lock()

            def count(started: float, text: str, status: int) -> None:
                price = re.search(r"(?:lead at|now) \$([\d,]+)\.(\d\d)", text)
                with lock:
                    if status == 200 and price:
                        outcomes["accepted"] += 1
                        sent.append((started, cents(price)))
                    elif status == 422:
                        outcomes["refused"] += 1
                    elif status == 429:
                        outcomes["limited"] += 1
                    else:
                        outcomes["errors"] += 1

            def bidder(index: int, client: httpx.Client, token: str) -> None:
                round_ = 0
                while time.perf_counter() < ends:
                    started = time.perf_counter()
                    try:
                        answer = client.post(f"/live/auctions/{auction_id}/bid",
                                             data={"amount": ceiling(index, round_), "kind": "max"},
                                             headers={"X-CSRFToken": token, "HX-Request": "true"})
                    except httpx.HTTPError:
                        count(started, "", 0)
                    else:
                        count(started, answer.text, answer.status_code)
                    round_ += 1

            def ceiling(index: int, round_: int) -> str:
                """Unique ceilings, 2 increments apart: 10.00 + 2.00 x (round x N + index)."""
                return f"{(1000 + 2 * INCREMENT * (round_ * args.bidders + index)) / 100:.2f}"

            workers = children(server.process.pid)
            cpu_before = {pid: cpu_seconds(pid) for pid in [*workers, os.getpid()]}
            machine_before = machine_ticks()
            began = time.perf_counter()
            if bidders_sockets is not None:
                bidders_sockets.bid(auction_id, ends, [token for _, token in clients], ceiling, count)
            else:
                threads = [threading.Thread(target=bidder, args=(i, c, t)) for i, (c, t) in enumerate(clients)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            window = time.perf_counter() - began
            cpu = {pid: cpu_seconds(pid) - before for pid, before in cpu_before.items()}
            machine_after = machine_ticks()
            busy = (machine_after[0] - machine_before[0]) / max(machine_after[1] - machine_before[1], 1)

            # The server's selling clock closes the auction; wait for it (generously).
            with app.app_context():
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    status = db.session.scalar(sa.select(Auction.status).where(Auction.id == auction_id))
                    db.session.rollback()
                    if status == "closed":
                        break
                    time.sleep(0.2)
                time.sleep(1)
            listening.clear()
            watching.clear()
            for watcher in watchers:
                watcher.join(timeout=5)
            viewer.close()
            for client, _ in clients:
                client.close()
            if bidders_sockets is not None:
                bidders_sockets.close()

        with app.app_context():
            auction = db.session.get(Auction, auction_id)
            rows = db.session.scalars(sa.select(AuctionBid).where(AuctionBid.auction_id == auction_id)).all()
            ceilings: dict[int, int] = {}
            for row in rows:
                if row.kind in ("bid", "max"):
                    ceilings[row.bidder_id] = max(ceilings.get(row.bidder_id, 0), row.amount_cents)
            ranked = sorted(ceilings.items(), key=lambda item: item[1], reverse=True)
            (top_bidder, top), second = ranked[0], (ranked[1][1] if len(ranked) > 1 else None)
            expected = auction.start_price_cents if second is None else min(top, second + INCREMENT)
            orders = db.session.scalars(sa.select(Order)).all()
            winners = len({order.buyer_id for order in orders})
            correct = (auction.status == "closed" and auction.leader_id == top_bidder
                       and auction.current_price_cents == expected and len(orders) == 1
                       and orders[0].buyer_id == top_bidder and orders[0].total_cents == expected)
            winner_name = db.session.get(User, top_bidder).username
            db.session.remove()

    latencies = []
    for started, price in sent:
        seen = next((at for at, pushed in pushes if pushed >= price and at >= started), None)
        if seen is not None:
            latencies.append((seen - started) * 1000)
    p99, p50 = percentile(latencies, 0.99), percentile(latencies, 0.5)
    # The parts, price by price: each accepted bid's price (or a higher one) committed, published, pushed.
    pushed_at, committed_at, published_at = first_seen(pushes), first_seen(commits), first_seen(published)
    to_commit = []
    for started, price in sent:
        at = next((at for at, committed in commits if committed >= price and at >= started), None)
        if at is not None:
            to_commit.append((at - started) * 1000)
    commit_to_push = [(pushed_at[p] - at) * 1000 for p, at in committed_at.items() if p in pushed_at]
    publish_to_push = [(pushed_at[p] - at) * 1000 for p, at in published_at.items() if p in pushed_at]
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    hub = "redis" if os.environ.get("REDIS_URL") else "local"
    print(f"backend {backend}, {args.workers} worker(s), hub {hub}, bids over {args.over}; "
          f"{outcomes['accepted']} accepted, {outcomes['refused']} refused as too low, "
          f"{outcomes['limited']} rate-limited, {outcomes['errors']} errors in {window:.1f} s; "
          f"{len(rows)} audit rows; {len(pushes)} prices pushed; "
          f"push p50 {p50:.0f} ms over {len(latencies)} accepted bids; won by {winner_name} at "
          f"{auction.current_price_cents / 100:.2f} (expected {expected / 100:.2f})")
    worker_cpu = sum(seconds for pid, seconds in cpu.items() if pid != os.getpid())
    answered = sum(outcomes.values())
    parts = [f"request->commit p50 {percentile(to_commit, 0.5):.0f} p99 {percentile(to_commit, 0.99):.0f} ms "
             f"over {len(to_commit)} accepted bids" if postgresql else "request->commit n/a (SQLite)",
             f"commit->push p50 {percentile(commit_to_push, 0.5):.0f} p99 {percentile(commit_to_push, 0.99):.0f} ms "
             f"over {len(commit_to_push)} prices" if postgresql else "commit->push n/a (SQLite)",
             f"publish->push (the hub's part) p50 {percentile(publish_to_push, 0.5):.0f} "
             f"p99 {percentile(publish_to_push, 0.99):.0f} ms over {len(publish_to_push)} prices"
             if published_at else "publish->push n/a (local hub)"]
    print("parts of the push latency: " + "; ".join(parts))
    print(f"CPU while bidding ({window:.1f} s): gunicorn workers {worker_cpu:.1f} s "
          f"({' + '.join(f'{seconds:.1f}' for pid, seconds in cpu.items() if pid != os.getpid())}; "
          f"{worker_cpu / max(answered, 1) * 1000:.1f} ms per bid request), "
          f"bidders' clients (this process) {cpu[os.getpid()]:.1f} s; "
          f"all {os.cpu_count()} CPUs {busy:.0%} busy")
    print(f"auction: {args.bidders} bidders -> {outcomes['accepted'] / window:.0f} bids/s accepted, "
          f"p99 push {p99:.0f} ms, winners {winners}, price {'correct' if correct else 'WRONG'}")


if __name__ == "__main__":
    main()
