"""N buyers race for a product with K units through a real gunicorn server.

    python -m bench.checkout --buyers 100 --units 10          # SQLite, one gevent worker
    DATABASE_URL=postgresql://postgres@127.0.0.1/postgres \\
        python -m bench.checkout --buyers 100 --units 10 --workers 2   # a fresh PostgreSQL database

Every buyer logs in and opens a "Buy now" checkout first; then all of them press "Place order"
at once. The last line reads
`checkout: N buyers, K units -> X orders, stock S, E errors, R orders/s`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fresh_database  # noqa: E402
from tests.support import FAST_HASH, TEST_PASSWORD, Browser, running_server  # noqa: E402

FORM_INPUT = re.compile(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"')


@dataclass
class RaceResult:
    statuses: list[int]
    latencies: list[float]
    seconds: float
    failures: list[str]

    @property
    def orders(self) -> int:
        return sum(1 for status in self.statuses if status == 303)

    @property
    def sold_out(self) -> int:
        return sum(1 for status in self.statuses if status == 422)

    @property
    def errors(self) -> int:
        return len(self.statuses) - self.orders - self.sold_out


def checkout_race(base_url: str, usernames: list[str], product_id: int) -> RaceResult:
    """Log every buyer in, open their checkout, then place every order at the same moment."""
    prepared: list[tuple[httpx.Client, dict[str, str]]] = []
    for username in usernames:
        browser = Browser(base_url)
        browser.follow_redirects = False
        _log_in(browser, username)
        page = browser.get(f"/checkout/?product_id={product_id}&quantity=1")
        form = dict(FORM_INPUT.findall(page.text))
        # The race goes out on a fresh connection: a kept-alive one from the preparation may have
        # idled past gunicorn's keep-alive and be closed by the server as the order goes out. And
        # a hundred simultaneous orders on a shared 2-core machine can queue for seconds; a client
        # timeout would count as an error the server never made.
        browser.close()
        racer = httpx.Client(base_url=base_url, cookies=browser.cookies, timeout=120)
        prepared.append((racer, form))

    statuses: list[int] = [0] * len(prepared)
    failures: list[str] = []
    latencies: list[float] = [0.0] * len(prepared)
    start_line = threading.Barrier(len(prepared) + 1)

    def place(index: int, browser: httpx.Client, form: dict[str, str]) -> None:
        start_line.wait()
        started = time.perf_counter()
        try:
            statuses[index] = browser.post("/checkout/", data=form).status_code
        except Exception as error:  # noqa: BLE001 - a dropped connection is an error to count, not a crash
            statuses[index] = -1
            failures.append(repr(error))
        latencies[index] = time.perf_counter() - started

    threads = [threading.Thread(target=place, args=(i, b, f)) for i, (b, f) in enumerate(prepared)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    for browser, _ in prepared:
        browser.close()
    return RaceResult(statuses, latencies, seconds, failures)


def _log_in(browser: Browser, username: str) -> None:
    response = browser.submit("/login", {"identifier": username, "password": TEST_PASSWORD})
    assert response.status_code == 303, f"login failed for {username}: {response.status_code}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buyers", type=int, default=100)
    parser.add_argument("--units", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    from app import create_app
    from extensions import db
    from models import Product
    from tests.factories import make_product, make_seller, make_user

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        database_url, drop_database = fresh_database(tmp)
        try:
            config = {"STREAMSHOP_ENV": "testing", "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database_url,
                      "PASSWORD_HASH_METHOD": FAST_HASH, "INSTANCE_PATH": str(tmp)}
            app = create_app(config)
            with app.app_context():
                db.create_all()
                product = make_product(make_seller("bench-seller")[1], "Limited Edition", 5000, stock=args.units)
                product_id = product.id
                usernames = [make_user(f"buyer{n}").username for n in range(args.buyers)]
            env = {"STREAMSHOP_ENV": "testing", "SECRET_KEY": "bench", "DATABASE_URL": database_url,
                   "PASSWORD_HASH_METHOD": FAST_HASH, "INSTANCE_PATH": str(tmp)}
            if os.environ.get("REDIS_URL"):
                env["REDIS_URL"] = os.environ["REDIS_URL"]
            with running_server(env, workers=args.workers) as server:
                result = checkout_race(server.url, usernames, product_id)
            with app.app_context():
                stock = db.session.scalar(sa.select(Product.stock).where(Product.id == product_id))
                db.session.remove()
                db.engine.dispose()
        finally:
            drop_database()

    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    latencies = sorted(result.latencies)
    print(f"backend {backend}, {args.workers} worker(s); {result.sold_out} told sold out; "
          f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms; "
          f"all {len(latencies)} answered in {result.seconds:.2f} s")
    print(f"checkout: {args.buyers} buyers, {args.units} units -> {result.orders} orders, stock {stock}, "
          f"{result.errors} errors, {result.orders / result.seconds:.1f} orders/s")


if __name__ == "__main__":
    main()
