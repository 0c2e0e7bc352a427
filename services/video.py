"""Live video: one interface over the self-hosted media server and external players.

Two drivers, chosen per show:

- **self-hosted** (the default): nginx with the RTMP module takes RTMP from OBS (or from ffmpeg,
  for the browser path and the demo), asks this app whether each publisher may publish
  (`on_publish`, with a shared secret), packages HLS with 1 s segments and records the show.
  ffmpeg turns the recording into a fast-start MP4 for the replay and takes thumbnails.
- **external**: a show whose seller pasted a provider's HLS URL plays that URL; its origin must be
  listed in `MEDIA_ORIGINS` (it goes into the CSP's connect-src and media-src).

The app writes nginx's config under the instance folder and starts nginx beside gunicorn (see
`gunicorn.conf.py`); tests start it the same way. A hosted provider (Mux, IVS, Cloudflare Stream)
would plug in here: `ingest_url` and the key from the provider's API, the publish hooks from its
webhooks, `playback_url` from its playback ID, `finish_recording` from its asset API.
"""

from __future__ import annotations

import hmac
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import gevent
from flask import current_app, url_for

from extensions import db, utcnow
from models import LiveStream, Product, StreamEvent
from models.live import new_stream_key
from realtime import publish
from realtime.channels import seller_channel, stream_channel
from realtime.fragments import render_oob
from services.errors import Forbidden
from services.media_server import RTMP_APPLICATION, SHOW_APPLICATION, UPDATE_SECONDS, ffmpeg, hook_secret, missing_tools

log = logging.getLogger(__name__)

THUMBNAIL_EVERY_SECONDS = 30
EMPTY_LIVE_PLAYLIST = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"


def video_on(config: dict[str, Any] | None = None) -> bool:
    config = config if config is not None else current_app.config
    return bool(config["VIDEO_ENABLED"]) and not missing_tools()


def valid_hook_secret(given: str | None) -> bool:
    return hmac.compare_digest((given or "").encode(), hook_secret(current_app.config).encode())


# --- paths and names -------------------------------------------------------------------------------


def media_root(config: dict[str, Any] | None = None) -> Path:
    config = config if config is not None else current_app.config
    return Path(config["MEDIA_PATH"])


def stream_name(stream: LiveStream) -> str:
    """The name the media server publishes a show under (never its key, which is secret)."""
    return f"show-{stream.id}"


def stream_id_from_name(name: str) -> int | None:
    prefix, _, number = name.partition("-")
    return int(number) if prefix == "show" and number.isdigit() and len(number) < 12 else None


# --- what pages show ---------------------------------------------------------------------------------


def ingest_url(host: str | None = None) -> str:
    """The RTMP server URL an encoder (OBS: Settings → Stream → Server) publishes to."""
    config = current_app.config
    if config["RTMP_PUBLIC_URL"]:
        return config["RTMP_PUBLIC_URL"]
    hostname = (host or config["RTMP_HOST"]).split(":")[0]
    return f"rtmp://{hostname}:{config['RTMP_PORT']}/{RTMP_APPLICATION}"


def playback_url(stream: LiveStream) -> str | None:
    """What the show page plays: the seller's external HLS URL, or our own HLS while live."""
    if stream.playback_url:
        return stream.playback_url
    if not video_on():
        return None
    return url_for("video.hls", name=stream_name(stream), filename="index.m3u8")


def replay_url(stream: LiveStream) -> str | None:
    """What the replay page plays: the show's own recording, else the external URL it had."""
    if stream.recording_file:
        return url_for("video.media", kind="recordings", filename=stream.recording_file)
    return stream.saved.video_url if stream.saved is not None else stream.playback_url


@dataclass(frozen=True)
class Moment:
    """A point of the replay's timeline: a product pinned (a chapter) or an order, at `seconds`."""

    kind: str
    label: str
    seconds: int


def video_seconds(stream: LiveStream, when: datetime) -> int:
    """How far into the replay's video `when` is: from the recording's start when there is one
    (video may arrive before the show goes live), else from going live."""
    start = stream.recording_started_at if stream.recording_file else None
    start = start or stream.started_at or stream.created_at
    return max(0, int((when - start).total_seconds()))


def replay_moments(stream: LiveStream) -> list[Moment]:
    """Product moments (chapters that seek the video) and orders, in video time."""
    events = db.session.scalars(
        db.select(StreamEvent).where(StreamEvent.stream_id == stream.id, StreamEvent.kind.in_(("pinned", "order")))
        .order_by(StreamEvent.created_at, StreamEvent.id)
    ).all()
    titles = dict(db.session.execute(
        db.select(Product.id, Product.title).where(Product.id.in_([e.payload.get("product_id") for e in events]))
    ).all())
    moments = []
    for event in events:
        seconds = video_seconds(stream, event.created_at)
        if event.kind == "pinned" and event.payload.get("product_id") in titles:
            moments.append(Moment("chapter", f"Pinned: {titles[event.payload['product_id']]}", seconds))
        elif event.kind == "order":
            moments.append(Moment("order", f"Order #{event.payload.get('order_id')}", seconds))
    return moments


def clock(seconds: int) -> str:
    """12:31, or 1:02:03 past an hour."""
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def thumbnail_url(stream: LiveStream) -> str | None:
    if stream.thumbnail_file and (media_root() / "thumbnails" / stream.thumbnail_file).exists():
        return url_for("video.media", kind="thumbnails", filename=stream.thumbnail_file)
    return None


def relay_url(name: str) -> str:
    """Where nginx relays an accepted publisher: the show application on this machine."""
    return f"rtmp://127.0.0.1:{current_app.config['RTMP_PORT']}/{SHOW_APPLICATION}/{name}"


def hls_dir(stream_id: int) -> Path:
    return media_root() / "hls" / f"show-{stream_id}"


#: How long after the end viewers may still fetch the live HLS: their players stop when the end
#: reaches them (pushed, or the next poll), and fetches already under way must not fail meanwhile.
LIVE_AFTER_END_SECONDS = 30


def may_watch_live(viewer: Any, stream: LiveStream) -> bool:
    """Anyone while the show is live (and just after its end); before, only its seller (the preview)."""
    if stream.discarded_at is not None:
        return False
    if stream.is_live:
        return True
    if stream.ended_at is not None and (utcnow() - stream.ended_at).total_seconds() < LIVE_AFTER_END_SECONDS:
        return True
    return bool(viewer.is_authenticated and viewer.shop and viewer.shop.id == stream.shop_id)


def may_open_media(viewer: Any, stream: LiveStream, kind: str) -> bool:
    if stream.discarded_at is not None:
        return False
    if kind == "thumbnails" or stream.saved is not None:
        return True
    return bool(viewer.is_authenticated and viewer.shop and viewer.shop.id == stream.shop_id)


# --- the seller's actions ----------------------------------------------------------------------------


def rotate_key(stream: LiveStream) -> str:
    """A new stream key; the old one is refused from now on, and its publisher is dropped at the
    next update (the key may have leaked)."""
    stream.stream_key = new_stream_key()
    if stream.video_state == "receiving":
        _video_stopped(stream, utcnow())
    else:
        db.session.commit()
    return stream.stream_key


def set_auto_go_live(stream: LiveStream, on: bool) -> None:
    stream.auto_go_live = on
    db.session.commit()
    if on and stream.status == "scheduled" and stream.video_state == "receiving":
        from services import live

        live.go_live(stream)


# --- the media server's hooks --------------------------------------------------------------------------


def _by_name(name: str) -> LiveStream | None:
    """The show a hook is about: nginx names it by its key in some calls and by the published name
    (show-<id>) in others."""
    stream_id = stream_id_from_name(name)
    if stream_id is not None:
        return db.session.get(LiveStream, stream_id)
    return db.session.scalar(db.select(LiveStream).where(LiveStream.stream_key == name)) if name else None


def publish_started(key: str, publisher: str, now: datetime | None = None) -> str:
    """`on_publish`: may this encoder publish with this key? Returns the name to publish under.

    Refused: an unknown or rotated key, an ended or deleted show, a second publisher while one is
    already sending video.
    """
    stream = db.session.scalar(db.select(LiveStream).where(LiveStream.stream_key == key)) if key else None
    if stream is None:
        raise Forbidden("Unknown stream key.")
    if stream.status == "ended" or stream.discarded_at is not None:
        raise Forbidden("This show has ended.")
    now = now or utcnow()
    if (stream.video_state == "receiving" and stream.video_publisher not in (None, publisher)
            and not _publisher_stale(stream, now)):
        raise Forbidden("Another encoder is already publishing to this show.")
    stream.video_state, stream.video_publisher, stream.video_changed_at = "receiving", publisher, now
    stream.video_seen_at = now
    stream.recording_started_at = stream.recording_started_at or now
    db.session.commit()
    if stream.auto_go_live and stream.status == "scheduled":
        from services import live

        live.go_live(stream, now)
    # After going live: the seller's state then no longer asks them to press Go live.
    publish_video_state(stream)
    return stream_name(stream)


def _publisher_stale(stream: LiveStream, now: datetime) -> bool:
    """No update from the publisher for three update periods: the media server went away without
    saying (a crash, a restart), so a new publisher may take over."""
    seen = stream.video_seen_at or stream.video_changed_at
    return seen is None or (now - seen).total_seconds() > 3 * UPDATE_SECONDS


def publish_stopped(name: str, publisher: str, now: datetime | None = None) -> None:
    """`on_publish_done`: the encoder stopped or dropped. A live show says "Video lost" and stays
    live for VIDEO_GRACE_SECONDS; then it ends unless video came back."""
    stream = _by_name(name)
    if stream is None or stream.video_publisher != publisher:
        return  # a refused second publisher leaving, or an old one after a rotation
    _video_stopped(stream, now or utcnow())


def _video_stopped(stream: LiveStream, now: datetime) -> None:
    stream.video_state = "lost" if stream.is_live else "offline"
    stream.video_publisher, stream.video_changed_at = None, now
    db.session.commit()
    publish_video_state(stream)
    if stream.video_state == "lost":
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        gevent.spawn_later(current_app.config["VIDEO_GRACE_SECONDS"], _end_if_still_lost, app, stream.id, now)


def _end_if_still_lost(app: Any, stream_id: int, lost_at: datetime) -> None:
    from services import live

    with app.app_context():
        try:
            stream = db.session.get(LiveStream, stream_id)
            if (stream is not None and stream.is_live and stream.video_state == "lost"
                    and stream.video_changed_at == lost_at):
                live.end_show(stream)
        finally:
            db.session.remove()


def publish_continues(name: str, publisher: str) -> bool:
    """`on_update`: keep this publisher? No once the show ended or its key was rotated. nginx's
    own relay to the show application is asked about too; it follows its encoder."""
    stream = _by_name(name)
    if stream is None or stream.status == "ended" or stream.discarded_at is not None:
        return False
    relay = publisher.startswith(f"127.0.0.1:{current_app.config['RTMP_PORT']}/{SHOW_APPLICATION}/")
    if relay:
        return True
    if stream.video_publisher != publisher:
        return False
    stream.video_seen_at = utcnow()
    db.session.commit()
    if stream.is_live:
        refresh_thumbnail(stream)
    return True


def browser_publisher(stream: LiveStream) -> subprocess.Popen:
    """ffmpeg reading the browser's MediaRecorder chunks (WebM) on stdin and publishing them to our
    own RTMP ingest with the show's key: one path for keys, hooks, HLS and recording. The browser
    path goes live as soon as video arrives (the seller pressed "Go live with this camera")."""
    tool = ffmpeg()
    if tool is None or not video_on():
        raise Forbidden("Video is off on this server.")
    if stream.status == "ended":
        raise Forbidden("This show has ended.")
    if not stream.auto_go_live:
        stream.auto_go_live = True
        db.session.commit()
    target = f"rtmp://127.0.0.1:{current_app.config['RTMP_PORT']}/{RTMP_APPLICATION}/{stream.stream_key}"
    command = [tool, "-hide_banner", "-loglevel", "error", "-fflags", "+genpts", "-i", "pipe:0",
               "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "30", "-r", "30",
               "-pix_fmt", "yuv420p", "-c:a", "aac", "-ar", "44100", "-b:a", "96k", "-f", "flv", target]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)


def publish_video_state(stream: LiveStream) -> None:
    publish(seller_channel(stream.id), render_oob("shows/_video_state.html", stream=stream))
    publish(stream_channel(stream.id), render_oob("live/_video_state.html", stream=stream))


# --- thumbnails, recordings ------------------------------------------------------------------------------


def _run_ffmpeg(*args: str, timeout: float = 120) -> bool:
    tool = ffmpeg()
    if tool is None:
        return False
    try:
        result = subprocess.run([tool, "-hide_banner", "-loglevel", "error", "-y", *args],
                                capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return False
    if result.returncode != 0:
        log.warning("ffmpeg failed: %s", result.stderr.decode(errors="replace")[-500:])
    return result.returncode == 0


def refresh_thumbnail(stream: LiveStream) -> None:
    """Take a picture from the newest live segment, at most every THUMBNAIL_EVERY_SECONDS."""
    target = media_root() / "thumbnails" / f"show-{stream.id}.jpg"
    if target.exists() and time.time() - target.stat().st_mtime < THUMBNAIL_EVERY_SECONDS:
        return
    segments = sorted(hls_dir(stream.id).glob("*.ts"), key=lambda path: path.stat().st_mtime)
    if len(segments) < 2:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if take_thumbnail(segments[-2], target, at=0) and stream.thumbnail_file != target.name:
        stream.thumbnail_file = target.name
        db.session.commit()


def take_thumbnail(source: Path, target: Path, at: float) -> bool:
    partial = target.with_suffix(".part.jpg")
    if not _run_ffmpeg("-ss", str(at), "-i", str(source), "-frames:v", "1", "-vf", "scale=640:-2", str(partial)):
        return False
    partial.replace(target)
    return True


FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def encode_test_pattern(target: Path, title: str, seconds: int, size: str, container: str) -> bool:
    """A moving test pattern with `title`, a running timer and a tone, keyframes every second
    (1 s HLS segments), for the demo and the benchmark."""
    title_file = target.with_suffix(".title.txt")
    title_file.write_text(title)
    text = ""
    if FONT.exists():  # the pattern still moves without a font; the words need one
        style = f"fontfile={FONT}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=12:x=(w-tw)/2"
        text = (f",drawtext={style}:textfile={title_file}:fontsize=36:y=36"
                f",drawtext={style}:text='%{{pts\\:hms}}':fontsize=40:y=h-84")
    partial = target.with_suffix(".part" + target.suffix)
    ok = _run_ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}",
                     "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=44100:duration={seconds}",
                     "-vf", f"format=yuv420p{text}", "-c:v", "libx264", "-preset", "veryfast", "-g", "30",
                     "-keyint_min", "30", "-sc_threshold", "0", "-b:v", "1000k", "-c:a", "aac", "-b:a", "96k",
                     *(["-movflags", "+faststart"] if container == "mp4" else []), "-f", container, str(partial),
                     timeout=900)
    title_file.unlink(missing_ok=True)
    if ok:
        partial.replace(target)
    else:
        partial.unlink(missing_ok=True)
    return ok


def raw_recordings(stream_id: int) -> list[Path]:
    return sorted((media_root() / "raw").glob(f"show-{stream_id}-*.flv"))


def finish_recording(stream: LiveStream, wait_seconds: float = 20) -> bool:
    """Join what nginx recorded into one fast-start MP4 (no re-encoding) and take a thumbnail.

    Called when the seller saves the show: waits (up to `wait_seconds`) for the encoder to be
    dropped, so the recording is complete. Returns whether there is a recording.
    """
    deadline = time.monotonic() + wait_seconds
    while stream.video_state == "receiving" and time.monotonic() < deadline:
        gevent.sleep(0.5)
        db.session.refresh(stream)
    parts = [path for path in raw_recordings(stream.id) if path.stat().st_size > 0]
    if not parts:
        return stream.recording_file is not None
    recordings = media_root() / "recordings"
    recordings.mkdir(parents=True, exist_ok=True)
    target = recordings / f"show-{stream.id}.mp4"
    listing = recordings / f"show-{stream.id}.txt"
    listing.write_text("".join(f"file '{path}'\n" for path in parts))
    partial = recordings / f"show-{stream.id}.part.mp4"
    ok = _run_ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                     "-movflags", "+faststart", str(partial), timeout=600)
    listing.unlink(missing_ok=True)
    if not ok:
        partial.unlink(missing_ok=True)
        return False
    partial.replace(target)
    for path in parts:
        path.unlink(missing_ok=True)
    thumbnail = media_root() / "thumbnails" / f"show-{stream.id}.jpg"
    thumbnail.parent.mkdir(parents=True, exist_ok=True)
    take_thumbnail(target, thumbnail, at=2)
    stream.recording_file = target.name
    stream.thumbnail_file = thumbnail.name if thumbnail.exists() else stream.thumbnail_file
    return True


def delete_media(stream: LiveStream) -> None:
    """Remove every file the show's video left: recording, raw parts, thumbnail, live segments."""
    root = media_root()
    paths = [*raw_recordings(stream.id), root / "recordings" / f"show-{stream.id}.mp4",
             root / "thumbnails" / f"show-{stream.id}.jpg"]
    for path in paths:
        path.unlink(missing_ok=True)
    shutil.rmtree(hls_dir(stream.id), ignore_errors=True)
    stream.recording_file = stream.thumbnail_file = None
