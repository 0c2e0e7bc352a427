"""How long a refused login takes for a known and an unknown account (account enumeration).

    python -m bench.login_timing --tries 20

Uses the production password hash (scrypt) on a throwaway SQLite file, through the test client.
The last line reads `login timing: known X ms, unknown Y ms (median of N)`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from extensions import db  # noqa: E402
from tests.support import TEST_PASSWORD, csrf_from  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({
            "STREAMSHOP_ENV": "testing", "SECRET_KEY": "bench", "INSTANCE_PATH": folder,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'bench.db'}",
            "LOGIN_LIMIT_PER_ACCOUNT": "10000 per minute", "LOGIN_LIMIT_PER_ADDRESS": "10000 per minute",
        })
        with app.app_context():
            db.create_all()
            from services.accounts import register_user

            register_user("known@example.com", "known", "Known", TEST_PASSWORD)
        client = app.test_client()
        token = csrf_from(client.get("/login").get_data(as_text=True))
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        for attempt in range(args.tries):
            for kind in ("known", "unknown"):
                started = time.perf_counter()
                response = client.post("/login", data={"csrf_token": token, "identifier": kind,
                                                       "password": f"wrong {attempt}"})
                timings[kind].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 401, response.status_code
        known, unknown = (statistics.median(timings[kind]) for kind in ("known", "unknown"))
        print(f"login timing: known {known:.1f} ms, unknown {unknown:.1f} ms (median of {args.tries})")


if __name__ == "__main__":
    main()
