"""Helpers for the video tests: a real gunicorn with its real nginx-rtmp, and ffmpeg publishers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from services.media_server import missing_tools
from tests.conftest import server_env
from tests.support import Server, end_process, free_port, start_process, wait_for


def require_video_tools() -> None:
    """Video tests never skip in CI: `make test` installs nginx, libnginx-mod-rtmp and ffmpeg."""
    missing = missing_tools()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {', '.join(missing)} missing: `make test` installs them")
        pytest.skip(f"{', '.join(missing)} not installed (`make test` installs them where it can)")


def video_env(app) -> dict[str, str]:  # noqa: ANN001
    """A server environment with the media server on, on a free RTMP port."""
    require_video_tools()
    port = free_port()
    app.config["RTMP_PORT"] = port
    return {**server_env(app), "VIDEO_ENABLED": "1", "RTMP_PORT": str(port), "MEDIA_PATH": app.config["MEDIA_PATH"],
            "VIDEO_GRACE_SECONDS": str(int(app.config["VIDEO_GRACE_SECONDS"]))}


@contextmanager
def video_server(app) -> Iterator[Server]:  # noqa: ANN001
    """gunicorn, which starts nginx-rtmp (gunicorn.conf.py); both stopped however the test ends."""
    env = video_env(app)
    server = Server(env)
    try:
        wait_for(lambda: "video ingest at rtmp://" in server.output() or "video is off" in server.output(), 60)
        assert "video ingest at rtmp://" in server.output(), server.output()
        yield server
    finally:
        server.stop()
        _kill_leftover_nginx(Path(app.instance_path) / f"nginx-{env['RTMP_PORT']}" / "nginx.pid")


def _kill_leftover_nginx(pid_file: Path) -> None:
    """A safety net: nginx is gunicorn's to stop, but a crashed gunicorn must not leave it running."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass


def rtmp_url(app, key: str) -> str:  # noqa: ANN001
    return f"rtmp://127.0.0.1:{app.config['RTMP_PORT']}/live/{key}"


@contextmanager
def publishing(url: str, size: str = "640x360", extra: list[str] | None = None) -> Iterator[subprocess.Popen]:
    """ffmpeg publishing a moving test pattern with a tone in real time, as an encoder would."""
    command = [shutil.which("ffmpeg") or "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
               "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
               "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
               "-c:a", "aac", "-b:a", "64k", *(extra or []), "-f", "flv", url]
    process = start_process(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        end_process(process, timeout=10)


