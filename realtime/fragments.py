"""Rendering fragments for out-of-band swaps pushed over the hub."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, render_template
from werkzeug.local import LocalProxy


def render_oob(template_name: str, **context: Any) -> str:
    """Render a fragment template with `oob=True`, ready to publish.

    Rendered in a fresh, anonymous request context: a broadcast goes to many people, so it must
    never carry the publisher's session, CSRF token or identity. Fragments take what they show as
    explicit arguments instead of reading `current_user`.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # `current_user` passed as a value would be re-read in the new context (as anonymous).
    context = {
        name: value._get_current_object() if isinstance(value, LocalProxy) else value
        for name, value in context.items()
    }
    # A new app context too: `g`, where Flask-Login keeps the current user, belongs to it.
    with app.app_context(), app.test_request_context("/"):
        g.broadcast = True
        return render_template(template_name, oob=True, **context)
