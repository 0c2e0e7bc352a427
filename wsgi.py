"""Entry point for gunicorn: `gunicorn -c gunicorn.conf.py wsgi:app`."""

# Patch before anything imports socket, ssl or threading, or those modules keep blocking calls.
from gevent import monkey

monkey.patch_all()

from app import create_app  # noqa: E402

app = create_app()
