"""The self-hosted media server's process: nginx with the RTMP module, configured and started by
the app (gunicorn.conf.py starts it beside the server; tests start it the same way).

Standard library only: gunicorn's master imports this before any worker patches gevent in.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NGINX = "/usr/sbin/nginx"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
RTMP_APPLICATION = "live"
SHOW_APPLICATION = "show"
#: Seconds between nginx's `on_update` calls: how soon an ended show's or a rotated key's
#: publisher is dropped, and how often a live show's thumbnail may be refreshed.
UPDATE_SECONDS = 4
HLS_FRAGMENT_SECONDS = 1


def ffmpeg() -> str | None:
    """The ffmpeg binary, or None where it is not installed."""
    return shutil.which("ffmpeg")


@functools.cache
def missing_tools() -> list[str]:
    """What the self-hosted driver needs and this machine lacks (empty when video can run)."""
    missing = []
    if not (os.access(NGINX, os.X_OK) or shutil.which("nginx")):
        missing.append("nginx")
    if not Path(RTMP_MODULE).exists():
        missing.append("libnginx-mod-rtmp")
    if ffmpeg() is None:
        missing.append("ffmpeg")
    return missing


def hook_secret(config: dict[str, Any]) -> str:
    """The shared secret nginx sends with every hook: derived from SECRET_KEY, so every worker and
    the config writer agree without another setting."""
    return hmac.new(config["SECRET_KEY"].encode(), b"streamshop video hooks", hashlib.sha256).hexdigest()[:40]


# --- the media server process -----------------------------------------------------------------------------


def nginx_config(config: dict[str, Any], hook_url: str, work_dir: Path) -> str:
    """nginx.conf for the RTMP ingest: hooks to the app, 1 s HLS segments, the whole show recorded."""
    media = Path(config["MEDIA_PATH"]).resolve()
    secret = f"?secret={hook_secret(config)}"
    hooks = hook_url.rstrip("/")
    user = "user root;\n" if os.geteuid() == 0 else ""  # root's workers would otherwise run as nobody
    return f"""# Written by Streamshop (services/video.py) at start-up; edits are overwritten.
load_module {RTMP_MODULE};
{user}worker_processes 1;
daemon off;
pid {work_dir}/nginx.pid;
error_log {work_dir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
rtmp {{
  server {{
    listen {config['RTMP_HOST']}:{config['RTMP_PORT']};
    chunk_size 4096;
    # Encoders publish here with their key. Nothing is packaged under the key: on_publish answers
    # with a redirect to rtmp://<this server>/{SHOW_APPLICATION}/show-<id>, which makes nginx relay
    # the stream there, under a name that can be shown to viewers.
    application {RTMP_APPLICATION} {{
      live on;
      deny play all;
      on_publish {hooks}/publish{secret};
      on_publish_done {hooks}/publish-done{secret};
      on_update {hooks}/update{secret};
      notify_update_timeout {UPDATE_SECONDS}s;
      notify_method post;
    }}
    # The relayed shows, from this machine only: 1 s HLS segments, and the whole show recorded.
    application {SHOW_APPLICATION} {{
      live on;
      allow publish 127.0.0.1;
      deny publish all;
      allow play 127.0.0.1;
      deny play all;
      hls on;
      hls_path {media}/hls;
      hls_nested on;
      hls_fragment {HLS_FRAGMENT_SECONDS}s;
      hls_playlist_length 6s;
      hls_cleanup on;
      record all;
      record_path {media}/raw;
      record_unique on;
    }}
  }}
}}
"""


@dataclass
class MediaServer:
    """A running nginx-rtmp, started beside gunicorn (or by a test)."""

    process: subprocess.Popen
    work_dir: Path

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finishes the recordings
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_media_server(config: dict[str, Any], hook_url: str, instance_path: Path | str,
                       timeout: float = 30) -> MediaServer:
    """Write the config under the instance folder and start nginx; waits until RTMP accepts."""
    missing = missing_tools()
    if missing:
        raise RuntimeError("video is off: missing " + ", ".join(missing))
    work_dir = Path(instance_path) / f"nginx-{config['RTMP_PORT']}"
    work_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("hls", "raw", "recordings", "thumbnails"):
        (Path(config["MEDIA_PATH"]) / sub).mkdir(parents=True, exist_ok=True)
    conf = work_dir / "nginx.conf"
    conf.write_text(nginx_config(config, hook_url, work_dir))
    log_file = open(work_dir / "nginx-out.log", "ab")  # noqa: SIM115 - nginx keeps it
    process = subprocess.Popen([shutil.which("nginx") or NGINX, "-p", str(work_dir), "-e",
                                str(work_dir / "nginx-error.log"), "-c", str(conf)],
                               stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    log_file.close()
    server = MediaServer(process, work_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error_log = work_dir / "nginx-error.log"
            raise RuntimeError("nginx exited: " + (error_log.read_text()[-2000:] if error_log.exists() else ""))
        try:
            with socket.create_connection((config["RTMP_HOST"], config["RTMP_PORT"]), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("nginx did not start listening for RTMP")


def local_hook_url(config: dict[str, Any], port: int | str, host: str = "127.0.0.1") -> str:
    """Where nginx calls the app's hooks: VIDEO_HOOK_URL, else gunicorn on this machine."""
    if config.get("VIDEO_HOOK_URL"):
        return config["VIDEO_HOOK_URL"]
    if host in ("", "0.0.0.0", "::", "[::]", "localhost"):  # noqa: S104 - reaching it, not binding
        host = "127.0.0.1"
    return f"http://{host}:{port}/video/hooks"


def start_beside_gunicorn(port: int | str, host: str) -> MediaServer | None:
    """gunicorn's `on_starting`: start nginx-rtmp for this server, or say why video is off."""
    from config import DEFAULT_INSTANCE, load_config

    instance_path = Path(os.environ.get("INSTANCE_PATH") or DEFAULT_INSTANCE)
    config = load_config(instance_path)
    if not config["VIDEO_ENABLED"]:
        print("Streamshop: video is off (VIDEO_ENABLED=0).", flush=True)
        return None
    missing = missing_tools()
    if missing:
        print(f"Streamshop: video is off: {', '.join(missing)} not installed (`make run` installs them where "
              "it can). Pages are served without live video.", flush=True)
        return None
    try:
        server = start_media_server(config, local_hook_url(config, port, host), instance_path)
    except (RuntimeError, OSError) as error:
        print(f"Streamshop: video is off: the media server did not start: {error}", flush=True)
        return None
    print(f"Streamshop: video ingest at rtmp://{config['RTMP_HOST']}:{config['RTMP_PORT']}/{RTMP_APPLICATION} "
          f"(nginx-rtmp, config in {server.work_dir})", flush=True)
    return server


class DemoPublisher:
    """`make run`'s demo camera: ffmpeg publishing the pre-encoded clip in a loop with `-c copy`
    (no re-encoding) to the ingest with the demo show's key, like an encoder would; restarted
    (with a growing pause) if it stops, until the server stops."""

    def __init__(self, clip: str, url: str) -> None:
        self.command = [shutil.which("ffmpeg") or "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
                        "-stream_loop", "-1", "-i", clip, "-c", "copy", "-f", "flv", url]
        self.process: subprocess.Popen | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-publisher", daemon=True)

    def start(self) -> DemoPublisher:
        self.thread.start()
        return self

    def _run(self) -> None:
        pause = 2.0
        while not self.stopping.is_set():
            started = time.monotonic()
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True)
            self.process.wait()
            pause = 2.0 if time.monotonic() - started > 60 else min(pause * 2, 60)
            self.stopping.wait(pause)

    def stop(self) -> None:
        self.stopping.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.thread.join(timeout=10)


def start_demo_publisher(listing: str | None, rtmp_port: int | str) -> DemoPublisher | None:
    """gunicorn's `when_ready`: publish the demo clip named in DEMO_VIDEO (`flask demo-video`)."""
    if not listing or not Path(listing).exists():
        return None
    clip, key = Path(listing).read_text().split()[:2]
    print("Streamshop: the demo show's camera is a looping test pattern (ffmpeg -c copy).", flush=True)
    return DemoPublisher(clip, f"rtmp://127.0.0.1:{rtmp_port}/{RTMP_APPLICATION}/{key}").start()
