"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app`. Environment variables override."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
worker_class = "gevent"
# Without REDIS_URL the hub is in-process, so every socket must live in the one worker.
workers = int(os.environ.get("WEB_CONCURRENCY", "1" if not os.environ.get("REDIS_URL") else "2"))
# Each open websocket holds one greenlet and one connection slot.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "10000"))
timeout = 30
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "20"))
keepalive = 5
accesslog = os.environ.get("ACCESS_LOG", "-") or None  # ACCESS_LOG="" turns it off
# The path without its query string: query strings carry secrets (the media server's hook secret)
# that have no business in a log file.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s"'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")


# Run by `on_starting` in a child interpreter: importing the database driver in the master would
# fix its choice of wait function before the workers' gevent patching, and then a database that
# hangs would block whole workers instead of one greenlet (and /healthz could not time out).
_DATABASE_CHECK = """
import os, sys
from pathlib import Path
import sqlalchemy as sa
from config import DEFAULT_INSTANCE, load_config

config = load_config(Path(os.environ.get("INSTANCE_PATH") or DEFAULT_INSTANCE))
url = sa.engine.make_url(config["SQLALCHEMY_DATABASE_URI"])
print(url.render_as_string(hide_password=True))
engine = sa.create_engine(url, **config["SQLALCHEMY_ENGINE_OPTIONS"])
try:
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
except Exception as error:
    print(str(error).splitlines()[0][:300] if str(error) else type(error).__name__)
    sys.exit(1)
"""


def on_starting(server):
    """Refuse to start, with a clear message, when the database cannot be reached.

    Otherwise every worker would start, and every request hang or fail, until someone looked. The
    connect timeout is DATABASE_CONNECT_TIMEOUT (a database that accepts and never answers counts
    as unreachable).
    """
    import subprocess
    import sys

    check = subprocess.run([sys.executable, "-c", _DATABASE_CHECK], capture_output=True, text=True,
                           cwd=os.path.dirname(os.path.abspath(__file__)))
    if check.returncode == 0:
        _start_media_server()
        return
    lines = check.stdout.splitlines()
    if len(lines) < 2:  # the configuration itself is wrong (e.g. no SECRET_KEY): say that instead
        raise RuntimeError((check.stderr.strip().splitlines() or ["the database check failed"])[-1])
    raise RuntimeError(
        f"Streamshop cannot reach its database at {lines[0]} ({lines[1]}). "
        "Check DATABASE_URL and that the database is running; not starting."
    )


def post_worker_init(worker):
    """Keep what start-up loaded out of full garbage collections (`runtime.py`), and close this
    worker's websockets as soon as it is told to stop.

    gunicorn waits `graceful_timeout` for open connections, and a websocket never finishes by
    itself; ending the socket loops, and refusing the sockets pages ask for again on connections
    they kept alive (`Hub.shut_down`), lets the worker exit within `keepalive` seconds, and
    browsers reconnect to the next worker.
    """
    import gevent

    from runtime import keep_start_up_objects_out_of_full_collections

    keep_start_up_objects_out_of_full_collections()

    def close_sockets_when_stopping():
        while worker.alive:
            gevent.sleep(0.25)
        hub = worker.wsgi.extensions.get("hub")
        if hub is not None:
            hub.shut_down()

    gevent.spawn(close_sockets_when_stopping)

_media_server = None


def _start_media_server():
    """Start the self-hosted media server (nginx-rtmp) with gunicorn; see services/media_server.py."""
    global _media_server
    from services.media_server import start_beside_gunicorn

    _media_server = start_beside_gunicorn(os.environ.get("PORT", "8000"), os.environ.get("HOST", "127.0.0.1"))


_demo_publisher = None


def when_ready(server):
    """`make run`: once the app answers the media server's hooks, the demo show's camera starts."""
    global _demo_publisher
    if _media_server is not None:
        from services.media_server import start_demo_publisher

        _demo_publisher = start_demo_publisher(os.environ.get("DEMO_VIDEO"), os.environ.get("RTMP_PORT", "1935"))


def on_exit(server):
    if _demo_publisher is not None:
        _demo_publisher.stop()
    if _media_server is not None:
        _media_server.stop()


# Several instances (tests, benchmarks) run side by side; the runtime control socket is unused.
control_socket_disable = True
