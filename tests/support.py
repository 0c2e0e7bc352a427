"""Test helpers: real servers, real HTTP and websocket clients, form tokens."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
TEST_PASSWORD = "correct horse battery"
FAST_HASH = "pbkdf2:sha256:1000"  # hashing for every test user at full strength is slow

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "page has no csrf-token meta tag"
    return match.group(1)


#: How long a test waits for a process it started to be ready. Generous, because CI shares two
#: cores with whatever else runs; every wait polls and ends as soon as the process is ready.
READY_TIMEOUT = 180

#: Every process group a test started and has not ended yet (see `end_started_processes`).
_started: dict[int, subprocess.Popen] = {}


def start_process(args: list[str], **kwargs) -> subprocess.Popen:
    """Popen in a new process group of its own, so ending it also ends its children."""
    process = subprocess.Popen(args, start_new_session=True, **kwargs)
    _started[process.pid] = process
    return process


def end_process(process: subprocess.Popen, timeout: float = 30, sig: int = signal.SIGTERM) -> None:
    """Signal the process and wait up to `timeout`; then SIGKILL its whole group (workers included)."""
    if process.poll() is None:
        process.send_signal(sig)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with suppress(ProcessLookupError, PermissionError):  # the group is already gone
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait()
    _started.pop(process.pid, None)


def end_started_processes() -> list[str]:
    """End whatever a test started and left running (it failed before its own finaliser ran)."""
    leftovers = [" ".join(map(str, process.args)) for process in list(_started.values())]
    for process in list(_started.values()):
        end_process(process, timeout=10)
    return leftovers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: Ports whose server a test stopped on purpose: a page still open on one retries its socket and
#: Chromium logs each refused attempt, which is then expected (see `ConsoleErrors`). A port stays
#: here when its server is restarted, because Playwright may report the refusals only later.
STOPPED_PORTS: set[int] = set()


def wait_for(condition: Callable[[], Any], timeout: float = 120, interval: float = 0.2, message: str = "") -> Any:
    """`condition()` as soon as it is truthy, polling every `interval` seconds; an AssertionError
    after `timeout` seconds (deadlines are generous: CI shares two cores with other work)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message or condition}")


class Server:
    """A real `gunicorn -k gevent wsgi:app` process on a free loopback port (or on `port`, to
    restart a stopped server where its pages expect it)."""

    def __init__(self, env: dict[str, str], workers: int = 1, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(env.get("INSTANCE_PATH", "/tmp")) / f"gunicorn-{self.port}.log"
        # No media server unless a video test asks for one (tests/video_support.py), on a port of its own.
        full_env = {**os.environ, "VIDEO_ENABLED": "0", **env, "PORT": str(self.port), "WEB_CONCURRENCY": str(workers),
                    "ACCESS_LOG": "", "PYTHONUNBUFFERED": "1"}
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = start_process(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except Exception:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not become ready:\n{self.output()}")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def stop(self, timeout: float = 30) -> float:
        """SIGTERM (a graceful stop) and wait; returns the seconds it took to exit."""
        started = time.monotonic()
        STOPPED_PORTS.add(self.port)
        end_process(self.process, timeout)
        took = time.monotonic() - started
        self.log.close()
        return took


@contextmanager
def running_server(env: dict[str, str], workers: int = 1) -> Iterator[Server]:
    server = Server(env, workers)
    try:
        yield server
    finally:
        server.stop()


#: What a page logs while its server is away: its socket retries (refused, or cut off by a server
#: that is stopping) and polls fail, and htmx reports each (a socket error prints "[object Event]").
_SERVER_AWAY = re.compile(r"ERR_CONNECTION_REFUSED|^WebSocket connection to 'ws://[^']*' failed|^\[object Event\]$"
                          r"|^htmx:(sendError|afterRequest), ")


class ConsoleErrors(list):
    """The console errors of the pages it watches that a test did not expect (their texts).

    Once a test stops a page's server on purpose, the page retries its socket and polls, and
    Chromium and htmx log each refused attempt: those are expected, for that page only, and so is
    whatever `also_expected` matches.
    """

    def __init__(self, also_expected: re.Pattern | None = None) -> None:
        super().__init__()
        self.also_expected = also_expected

    def watch(self, page) -> None:  # noqa: ANN001 - a Playwright Page
        def console(message) -> None:  # noqa: ANN001 - a Playwright ConsoleMessage
            if message.type != "error":
                return
            text = message.text
            if self.also_expected and self.also_expected.search(text):
                return
            if urlsplit(page.url).port in STOPPED_PORTS and _SERVER_AWAY.search(text):
                return
            self.append(text)

        page.on("console", console)
        page.on("pageerror", lambda error: self.append(str(error)))


class Browser(httpx.Client):
    """An HTTP client that behaves like a browser session: cookies, CSRF tokens from pages."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url=base_url, follow_redirects=True, timeout=10)

    def csrf(self, path: str = "/login") -> str:
        return csrf_from(self.get(path).text)

    def submit(self, path: str, data: dict[str, str], page: str | None = None, **kwargs) -> httpx.Response:
        """POST a form the way the page at `page` (default `path`) would, with its CSRF token."""
        return self.post(path, data={"csrf_token": self.csrf(page or path), **data}, **kwargs)

    def log_in(self, identifier: str, password: str = TEST_PASSWORD) -> httpx.Response:
        response = self.submit("/login", {"identifier": identifier, "password": password})
        assert response.status_code == 200 and "Log out" in response.text, response.text[:500]
        return response

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())


def log_in_test_client(client, username: str) -> str:  # noqa: ANN001
    """Log a Flask test client in as `username`; returns a CSRF token valid for its next posts.
    (The app-context `g` is cleared around it because the test client shares it between requests.)"""
    from flask import g

    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"csrf_token": csrf_from(page), "identifier": username, "password": TEST_PASSWORD})
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    return csrf_from(client.get("/account/").get_data(as_text=True))
