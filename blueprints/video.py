"""Live video: nginx-rtmp's hooks, the HLS and media files, and the seller's stream setup."""

from __future__ import annotations

import contextlib
import re
import subprocess
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, request, send_from_directory, url_for
from flask_login import current_user, login_required
from simple_websocket import ConnectionClosed

from extensions import csrf, db, sock
from models import LiveStream
from services import live, video
from services.errors import Forbidden
from web import ask_first, redirect_to

bp = Blueprint("video", __name__)

SAFE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")


# --- hooks (nginx-rtmp → app, on loopback, with the shared secret) ------------------------------


@bp.post("/video/hooks/<any('publish', 'publish-done', 'update'):event>")
@csrf.exempt
def hook(event: str):
    """nginx-rtmp's notify calls: 2xx allows, 3xx renames (on_publish), anything else refuses."""
    if not video.valid_hook_secret(request.args.get("secret")):
        abort(403)
    name = request.form.get("name", "")
    publisher = f"{request.form.get('addr', '')}#{request.form.get('clientid', '')}"
    if event == "publish":
        try:
            public_name = video.publish_started(name, publisher)
        except Forbidden as refusal:
            return refusal.message, 403
        # nginx relays the stream to the show application, under the show's name (never the key).
        return "", 302, {"Location": video.relay_url(public_name)}
    if event == "publish-done":
        video.publish_stopped(name, publisher)
        return "", 204
    return ("", 204) if video.publish_continues(name, publisher) else ("Stop.", 403)


# --- files ----------------------------------------------------------------------------------------------


@bp.get("/hls/<name>/<filename>")
def hls(name: str, filename: str):
    """The live HLS playlist and segments (nginx in front serves these directly in production)."""
    stream_id = video.stream_id_from_name(name)
    if stream_id is None or not SAFE_FILE.match(filename) or not filename.endswith((".m3u8", ".ts")):
        abort(404)
    stream = db.session.get(LiveStream, stream_id)
    if stream is None or not video.may_watch_live(current_user, stream):
        abort(404)
    if filename.endswith(".m3u8"):
        if not (video.hls_dir(stream_id) / filename).exists():
            # Video is on its way (or reconnecting): an empty live playlist makes players wait and
            # reload instead of failing on a 404.
            return video.EMPTY_LIVE_PLAYLIST, 200, {"Content-Type": "application/vnd.apple.mpegurl",
                                                    "Cache-Control": "no-cache"}
        response = send_from_directory(video.hls_dir(stream_id), filename, max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return response
    return send_from_directory(video.hls_dir(stream_id), filename, max_age=60)


@bp.get("/media/<any('recordings', 'thumbnails'):kind>/<filename>")
def media(kind: str, filename: str):
    """Recordings (with range requests, for seeking) and thumbnails."""
    match = re.match(r"^show-(\d{1,11})\.(mp4|jpg)$", filename)
    if not match:
        abort(404)
    stream = db.session.get(LiveStream, int(match.group(1)))
    if stream is None or not video.may_open_media(current_user, stream, kind):
        abort(404)
    return send_from_directory(video.media_root() / kind, filename, conditional=True, max_age=60)


# --- the seller's stream setup -----------------------------------------------------------------------


@bp.post("/seller/shows/<int:stream_id>/video/rotate-key")
@login_required
def rotate_key(stream_id: int):
    stream = live.owned_stream(current_user, stream_id)
    if asked := ask_first("rotate_key", "Rotate the key", url_for("shows.studio", stream_id=stream.id)):
        return asked
    video.rotate_key(stream)
    flash("New stream key. Paste it into your encoder; the old key no longer works.", "success")
    return redirect_to(url_for("shows.studio", stream_id=stream.id))


@bp.post("/seller/shows/<int:stream_id>/video/auto-go-live")
@login_required
def auto_go_live(stream_id: int):
    stream = live.owned_stream(current_user, stream_id)
    video.set_auto_go_live(stream, request.form.get("auto_go_live") == "on")
    return redirect_to(url_for("shows.studio", stream_id=stream.id))


@sock.route("/seller/shows/<int:stream_id>/video/ingest", bp=bp)
def browser_ingest(ws, stream_id: int) -> None:  # noqa: ANN001
    """"Go live with this camera": the browser's MediaRecorder chunks, piped into ffmpeg."""
    # flask-sock opened this socket with the pages' 1 KB frame limit (SOCK_SERVER_OPTIONS), which
    # closed it (1009) at the first camera chunk. simple-websocket reads the limit at each frame,
    # and none has been read yet: the page sends its first chunk half a second after the open.
    ws.max_message_size = current_app.config["WS_INGEST_MAX_MESSAGE_BYTES"]
    publisher = video.browser_publisher(live.owned_stream(current_user, stream_id))
    db.session.remove()  # the socket lives for the whole show: hold no pooled connection
    received = 0
    ended = "ffmpeg exited"
    try:
        while publisher.poll() is None:
            chunk = ws.receive(timeout=30)
            if chunk is None:
                continue
            if isinstance(chunk, str):
                ended = "page stopped"
                break  # the page says it stopped
            received += len(chunk)
            publisher.stdin.write(chunk)
            publisher.stdin.flush()
    except ConnectionClosed as closed:
        ended = f"socket closed ({closed.reason} {closed.message})"
    except (BrokenPipeError, OSError) as error:
        ended = f"pipe broken ({error})"
    finally:
        stop_browser_publisher(publisher)
        # How a camera stopped, for the server log (this is how the 1 KB frame limit was found).
        current_app.logger.info("browser camera for show %s: %s after %d bytes; ffmpeg exit %s",
                                stream_id, ended, received, publisher.returncode)


def stop_browser_publisher(publisher) -> None:  # noqa: ANN001
    with contextlib.suppress(OSError):
        publisher.stdin.close()
    try:
        publisher.wait(timeout=10)
    except subprocess.TimeoutExpired:
        publisher.kill()
        publisher.wait()


@bp.before_request
def same_origin_sockets() -> None:
    """The ingest socket is its seller's alone, and (like /ws) refused from another site's pages:
    both checked before the handshake, so a refusal is a plain 403."""
    if request.endpoint == "video.browser_ingest":
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            abort(403)
        live.owned_stream(current_user, request.view_args["stream_id"])


def init_app(app) -> None:  # noqa: ANN001
    """Template helpers for the player and the stream setup."""
    app.register_blueprint(bp)

    @app.context_processor
    def _video_context() -> dict:
        return {"video": video, "video_on": video.video_on(current_app.config)}
