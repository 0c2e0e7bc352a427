"""Live video through the real ingest: gunicorn starts nginx-rtmp, ffmpeg publishes a 720p test
pattern (encoded once, then sent with `-c copy` in real time, as an encoder's output would arrive).

Measures:
- publish -> playable: from the encoder connecting to a playlist with segments (median of 3);
- live latency in headless Chromium: hls.js's `latency` (live edge to playhead) sampled for 30 s;
- server CPU per live show (nginx + gunicorn, from /proc) while N shows publish;
- how many shows publish at once without dropping segments (1, 2, 4, ... up to --max-shows): a
  show drops when its playlist stops advancing or its segment numbers skip.

    .venv/bin/python -m bench.video [--max-shows 32] [--window 15]

Last line: `video: publish->playable A s, latency p50 B s, p99 C s, N shows, D % CPU per show`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import namedtuple
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench_app  # noqa: E402
from tests.support import FAST_HASH, Server, free_port, wait_for  # noqa: E402

Show = namedtuple("Show", "id stream_key")
SEGMENT = re.compile(r"^(\d+)\.ts$", re.M)
TICKS = os.sysconf("SC_CLK_TCK")


def encode_clip(path: Path) -> None:
    from services.video import encode_test_pattern

    assert encode_test_pattern(path, "Streamshop bench 720p", seconds=30, size="1280x720", container="flv")


@contextmanager
def publisher(clip: Path, url: str):  # noqa: ANN201
    command = [shutil.which("ffmpeg"), "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i",
               str(clip), "-c", "copy", "-f", "flv", url]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def segments(client: httpx.Client, stream_id: int) -> list[int]:
    response = client.get(f"/hls/show-{stream_id}/index.m3u8")
    return [int(n) for n in SEGMENT.findall(response.text)] if response.status_code == 200 else []


def process_tree(root: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(root)], capture_output=True, text=True).stdout.split()
    pids = [root]
    for child in children:
        pids += process_tree(int(child))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / TICKS


def server_pids(server: Server) -> list[int]:
    """gunicorn and the nginx it started; not the ffmpeg publishers (they are the encoders)."""
    return [pid for pid in process_tree(server.process.pid)
            if "ffmpeg" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]


def publish_to_playable(server: Server, clip: Path, rtmp: str, stream, runs: int = 3) -> float:  # noqa: ANN001
    times = []
    with httpx.Client(base_url=server.url, timeout=5) as client:
        for _ in range(runs):
            started = time.monotonic()
            with publisher(clip, f"{rtmp}/{stream.stream_key}"):
                wait_for(lambda: len(segments(client, stream.id)) >= 2)
                times.append(time.monotonic() - started)
            wait_for(lambda: not segments(client, stream.id), timeout=60)  # unpublished: the playlist is gone
    return statistics.median(times)


def latency_samples(server: Server, clip: Path, rtmp: str, stream, seconds: float) -> list[float]:  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    samples = []
    with publisher(clip, f"{rtmp}/{stream.stream_key}"), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        try:
            page = browser.new_page()
            page.goto(f"{server.url}/live/{stream.id}")
            wait_for(lambda: page.evaluate("() => { const v = document.querySelector('video[data-video-src]');"
                                           " return v && v.currentTime > 1; }"), timeout=120)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                latency = page.evaluate("() => { const v = document.querySelector('video[data-video-src]');"
                                        " return v.hlsPlayer ? v.hlsPlayer.latency : null; }")
                if latency:
                    samples.append(latency)
                time.sleep(0.5)
        finally:
            browser.close()
    return samples


def holds(server: Server, clip: Path, rtmp: str, streams: list, window: float) -> tuple[bool, float]:  # noqa: ANN001
    """All `streams` publish for `window` seconds: did every playlist advance without gaps? And
    the server's CPU (percent of one core) per show over the window."""
    with ExitStack() as stack, httpx.Client(base_url=server.url, timeout=5) as client:
        for stream in streams:
            stack.enter_context(publisher(clip, f"{rtmp}/{stream.stream_key}"))
        for stream in streams:
            wait_for(lambda stream=stream: len(segments(client, stream.id)) >= 2)
        pids = server_pids(server)
        seen = {stream.id: set(segments(client, stream.id)) for stream in streams}
        cpu_start, started = cpu_seconds(pids), time.monotonic()
        last_new = {stream.id: started for stream in streams}
        ok = True
        while time.monotonic() - started < window:
            for stream in streams:
                current = set(segments(client, stream.id))
                if current - seen[stream.id]:
                    last_new[stream.id] = time.monotonic()
                seen[stream.id] |= current
                if time.monotonic() - last_new[stream.id] > 4:  # 1 s segments: 4 s without one is a drop
                    ok = False
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        cpu = (cpu_seconds(pids) - cpu_start) / elapsed * 100 / len(streams)
        for numbers in seen.values():
            if numbers and max(numbers) - min(numbers) + 1 != len(numbers):
                ok = False  # a segment number was skipped
    return ok, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-shows", type=int, default=32)
    parser.add_argument("--window", type=float, default=15)
    parser.add_argument("--latency-seconds", type=float, default=30)
    args = parser.parse_args()

    from extensions import db
    from tests.factories import make_seller, make_stream

    with tempfile.TemporaryDirectory() as tmp_name, bench_app(Path(tmp_name)) as (app, database_url):
        tmp = Path(tmp_name)
        clip = tmp / "bench-720p.flv"
        encode_clip(clip)
        with app.app_context():
            _, shop = make_seller("bench-seller")
            streams = [Show(stream.id, stream.stream_key)
                       for stream in (make_stream(shop, title=f"Bench show {n}") for n in range(args.max_shows))]
            db.session.remove()
        port = free_port()
        env = {"STREAMSHOP_ENV": "testing", "SECRET_KEY": "bench", "DATABASE_URL": database_url,
               "PASSWORD_HASH_METHOD": FAST_HASH, "INSTANCE_PATH": str(tmp), "VIDEO_ENABLED": "1",
               "RTMP_PORT": str(port)}
        rtmp = f"rtmp://127.0.0.1:{port}/live"
        server = Server(env)
        try:
            wait_for(lambda: "video ingest at rtmp://" in server.output(), timeout=60)
            playable = publish_to_playable(server, clip, rtmp, streams[0])
            print(f"publish -> playable (2 segments in the playlist): median {playable:.2f} s of 3")
            latencies = sorted(latency_samples(server, clip, rtmp, streams[1], args.latency_seconds))
            p50 = statistics.median(latencies)
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(f"latency (hls.js): p50 {p50:.2f} s, p99 {p99:.2f} s over {len(latencies)} samples")
            held, cpu_per_show, count = 0, 0.0, 1
            while count <= args.max_shows:
                ok, cpu = holds(server, clip, rtmp, streams[:count], args.window)
                print(f"{count} shows at once: {'no dropped segments' if ok else 'segments dropped'}, "
                      f"server CPU {cpu:.1f} % of a core per show")
                if not ok:
                    break
                held, cpu_per_show = count, cpu
                count *= 2
        finally:
            server.stop()
    print(f"video: publish->playable {playable:.1f} s, latency p50 {p50:.1f} s, p99 {p99:.1f} s, "
          f"{held} shows, {cpu_per_show:.1f} % CPU per show")


if __name__ == "__main__":
    main()
