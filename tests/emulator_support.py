"""Running the TikTok emulator (tests/tiktok_emulator/) and ingesting gunicorn servers in tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import server_env
from tests.support import READY_TIMEOUT, ROOT, end_process, free_port, start_process


class Emulator:
    """`python -m tests.tiktok_emulator` in its own process, serving the rooms given."""

    def __init__(self, tmp_path: Path, rooms: list[dict[str, Any]], delay: float = 0.05,
                 ping_interval: float = 1) -> None:
        """`ping_interval`: the seconds between the client's heartbeats the handshake asks for (short
        in tests, so a dead connection is noticed quickly; the emulator's own default is 10)."""
        config = tmp_path / f"emulator-{time.monotonic_ns()}.json"
        config.write_text(json.dumps({"rooms": rooms}))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"emulator-{self.port}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = start_process(
            [sys.executable, "-m", "tests.tiktok_emulator", "--port", str(self.port), "--config", str(config),
             "--delay", str(delay), "--handshake-options", f"ping-interval={ping_interval:g}"],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )
        # A busy machine takes a while to import the protobuf schema.
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(self.url + "/__emulator/state", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"emulator did not start:\n{self.log_path.read_text()}")

    @property
    def env(self) -> dict[str, str]:
        return {"TIKTOK_APP_URL": self.url, "TIKTOK_SIGN_URL": self.url, "TIKTOK_WEBCAST_URL": self.url + "/webcast",
                "NO_PROXY": "127.0.0.1,localhost"}

    def state(self) -> dict[str, Any]:
        return httpx.get(self.url + "/__emulator/state", timeout=30).json()

    def stop(self) -> None:
        end_process(self.process, timeout=10)
        self.log.close()


@contextmanager
def running_emulator(tmp_path: Path, rooms: list[dict[str, Any]], **kwargs: Any) -> Iterator[Emulator]:
    emulator = Emulator(tmp_path, rooms, **kwargs)
    try:
        yield emulator
    finally:
        emulator.stop()


def ingest_env(app, emulator: Emulator, lease_seconds: float = 15.0) -> dict[str, str]:  # noqa: ANN001
    """A gunicorn server on the test database that runs the ingester against the emulator.

    The lease is production's 15 s: a short one lapses whenever a busy machine stalls a worker for
    longer than a fifth of it, and the LIVE is then reconnected or handed to the other worker, which
    is right but is not what a test of steady ingest expects."""
    return {
        **server_env(app), **emulator.env,
        "INGEST_ENABLED": "1",
        "INGEST_LEASE_SECONDS": str(lease_seconds),
        "INGEST_SWEEP_SECONDS": "1",
        "INGEST_BACKOFF_BASE_SECONDS": "0.2",
        "INGEST_OFFLINE_RECHECK_SECONDS": "1",
    }


def user(user_id: int, handle: str, nickname: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": user_id, "unique_id": handle, "nickname": nickname or handle.title(), **extra}
