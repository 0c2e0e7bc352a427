"""Request-level helpers shared by every blueprint: page-or-fragment rendering, safe redirects,
login handling for htmx, navigation and security headers."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    get_template_attribute,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from werkzeug.routing import IntegerConverter

from extensions import login_manager
from models import MAX_ID, MAX_INT, User
from realtime.channels import seller_channel, stream_channel, studio_channel, user_channel
from services.accounts import user_for_session

#: The header navigation. An entry shows once a blueprint provides its endpoint, so a link never
#: leads to a page that does not exist yet.
NAV_ITEMS = (
    ("Live", "live.index", "everyone"),
    ("Shop", "shop.index", "everyone"),
    ("Orders", "orders.index", "user"),
    ("Seller", "seller.index", "seller"),
    ("Studio", "studio.index", "user"),
)


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_fragment() -> bool:
    """True for an htmx request that swaps part of a page; a boosted navigation wants the page."""
    return is_htmx() and request.headers.get("HX-Boosted") != "true"


def render(template: str, fragment: str | None = None, status: int = 200, **context: Any) -> Response:
    """Render `fragment` for an htmx partial request, else the full `template`, with `Vary` set.

    The page always includes the fragment, so both answers come from one piece of markup.
    """
    chosen = fragment if fragment and wants_fragment() else template
    response = make_response(render_template(chosen, **context), status)
    response.vary.add("HX-Request")
    response.vary.add("HX-Boosted")
    return response


def ask_first(question: str, label: str, back: str, **about: Any) -> Response | None:
    """For a route that destroys something: None when its form was confirmed (static/js/app.js asks
    the form's data-confirm question and adds confirmed=yes), else a page asking `question` (a
    macro of templates/_questions.html, given `about`) whose `label` button posts the same form
    again, confirmed, and whose other choice goes `back`. That is what a form posted before the
    page's script ran (a slow connection) or without it gets: nothing happens unasked."""
    if request.form.get("confirmed") == "yes":
        return None
    fields = [(name, value) for name, value in request.form.items(multi=True)
              if name not in ("csrf_token", "confirmed")]
    response = render("confirm.html", question=get_template_attribute("_questions.html", question)(**about),
                      label=label, back=back, action=request.path, fields=fields)
    if request.headers.get("HX-Request"):  # an hx-post form (htmx ran, app.js had not): the page takes the body
        response.headers["HX-Retarget"] = "body"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def optional_int(value: object) -> int | None:
    """A whole number from a form or query value, or None when it is blank, not a number, or larger
    than any column holds (so it never reaches a query)."""
    text = str(value) if value not in (None, "") else ""
    if not text or len(text) > 12:
        return None
    try:
        number = int(text)
    except ValueError:
        return None
    return number if -MAX_INT <= number <= MAX_INT else None


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in a URL: only numbers an id column can hold; a larger one is a 404, not a query."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:  # noqa: A002, ANN001
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


#: Form fields that take an upload; a file sent in any other field is refused.
FILE_FIELDS = frozenset({"image"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def refuse_malformed_input() -> None:
    """Refuse (400, with a message) what no field accepts: control characters such as NUL in any text
    (PostgreSQL cannot store NUL), and a file sent in a text field."""
    texts = [*request.args.keys(), *request.args.values(), *request.form.keys(), *request.form.values(),
             *(value for value in (request.view_args or {}).values() if isinstance(value, str))]
    if any(_CONTROL.search(text) for text in texts):
        abort(400, "Text cannot contain control characters (such as NUL). Remove them and try again.")
    if any(name not in FILE_FIELDS for name in request.files):
        abort(400, "A file was sent where text was expected.")


def redirect_to(location: str, status: int = 303) -> Response:
    """Redirect a plain request; tell htmx to navigate the whole page (a 3xx would be followed
    inside the swap target instead)."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=status)


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: no open redirects, no `//host` tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(char) < 32 for char in target):
        return None
    return target


def same_site_referrer() -> str | None:
    """The page that sent this request (path and query) if it is on this site, else None."""
    referrer = urlsplit(request.referrer or "")
    if referrer.scheme not in ("http", "https") or referrer.netloc != request.host:
        return None
    return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))


def _current_page_path() -> str:
    """The page the user is looking at: for htmx, the page that sent the request, not the fragment URL."""
    if is_htmx():
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        if current.netloc == request.host and current.path:
            return current.path + (f"?{current.query}" if current.query else "")
    if request.method != "GET":
        referrer = urlsplit(request.referrer or "")
        if referrer.netloc == request.host and referrer.path:
            return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return request.full_path.rstrip("?")


@login_manager.user_loader
def _load_user(cookie_id: str) -> User | None:
    return user_for_session(cookie_id)


@login_manager.unauthorized_handler
def _login_required() -> Response:
    """Send the user to log in and back to the page they were on (htmx gets `HX-Redirect`)."""
    flash("Please log in to continue.", "info")
    login_url = url_for("auth.login", next=safe_next(_current_page_path()))
    return redirect_to(login_url, status=302)


def _navigation(user: User | Any) -> list[tuple[str, str]]:
    """The header links `user` sees; takes the user explicitly so pushed headers render right."""
    links = []
    for label, endpoint, audience in NAV_ITEMS:
        if endpoint not in current_app.view_functions:
            continue
        if audience == "user" and not user.is_authenticated:
            continue
        if audience == "seller" and not (user.is_authenticated and user.is_seller):
            continue
        links.append((label, url_for(endpoint)))
    return links


def _template_context() -> dict[str, Any]:
    def socket_url(page_channels: list[str] | None = None) -> str | None:
        """The websocket URL for this page: its own channels plus the user's header channel."""
        channels = list(page_channels or [])
        if current_user.is_authenticated:
            channels.append(user_channel(current_user.id))
        return url_for("realtime.socket", channel=channels) if channels else None

    def cart_count(user: User | Any = None) -> int:
        """Units in `user`'s cart (default: the current user); pushed headers pass their user."""
        from services.cart import cart_count as count_for

        user = user if user is not None else current_user
        return count_for(user) if user.is_authenticated else 0

    return {"navigation": _navigation, "socket_url": socket_url, "cart_count": cart_count, "csrf_field": csrf_field,
            "stream_channel": stream_channel, "seller_channel": seller_channel, "studio_channel": studio_channel}


def csrf_field() -> Markup:
    """The hidden CSRF input for a form, except in a broadcast fragment: there it would be nobody's
    token (and Flask-WTF prefers a form token to the header htmx sends), so it is left out and the
    reader's own token travels in htmx's `X-CSRFToken` header."""
    if g.get("broadcast"):
        return Markup("")
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())


def content_security_policy(media_origins: list[str] | tuple[str, ...] = ()) -> str:
    """The CSP: our own scripts and styles only. MEDIA_ORIGINS (external HLS providers) are added
    to connect-src (hls.js fetches playlists and segments) and media-src, and nowhere else."""
    media = "".join(f" {origin}" for origin in media_origins)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: https:",
            f"media-src 'self' blob: https:{media}",
            f"connect-src 'self'{media}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", current_app.extensions["csp"])
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self)")
    if current_app.config["HSTS_SECONDS"]:
        response.headers.setdefault("Strict-Transport-Security", f"max-age={current_app.config['HSTS_SECONDS']}")
    if request.endpoint != "static" and "Cache-Control" not in response.headers and current_user.is_authenticated:
        # Someone's own page: never kept by a shared cache, or by the browser for the back button
        # after logout on a shared computer.
        response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app: Flask) -> None:
    from services.money import format_money

    login_manager.login_view = "auth.login"
    # Flask-Login's "basic" protection only marks a session not fresh, and nothing here asks for a
    # fresh login (a login is a revocable `login_sessions` row). Its cost was a session write on an
    # anonymous visitor's first request after the page, such as the show's catch-up poll: a cookie
    # that, answered after a logged-out Like, took back the Like kept through the login.
    login_manager.session_protection = None
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(refuse_malformed_input)
    app.extensions["csp"] = content_security_policy(app.config["MEDIA_ORIGINS"])
    app.add_template_filter(format_money, "money")
    app.context_processor(_template_context)
    app.after_request(_security_headers)
