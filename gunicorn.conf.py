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
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")


def post_worker_init(worker):
    """Close this worker's websockets as soon as it is told to stop.

    gunicorn waits `graceful_timeout` for open connections, and a websocket never finishes by
    itself; ending the socket loops lets the worker exit in about a second, and browsers reconnect
    to the next worker.
    """
    import gc

    import gevent

    # A full (generation 2) collection walks every long-lived object, and thousands of open
    # sockets are a lot of them: each full pass stalls every socket for up to a second
    # (bench/fanout.py shows it). What was loaded at start-up lives as long as the worker, so it
    # is frozen out of the collector's sight, and full passes run a hundred times less often;
    # young garbage is still collected as usual.
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, int(os.environ.get("GC_FULL_THRESHOLD", "1000")))

    def close_sockets_when_stopping():
        while worker.alive:
            gevent.sleep(0.25)
        hub = worker.wsgi.extensions.get("hub")
        if hub is not None:
            hub.close_all("shutdown")

    gevent.spawn(close_sockets_when_stopping)

# Several instances (tests, benchmarks) run side by side; the runtime control socket is unused.
control_socket_disable = True
