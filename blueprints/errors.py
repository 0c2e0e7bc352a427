"""Error pages, as full pages or (for htmx) as a fragment shown in the flash area."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, g, has_request_context
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from extensions import db
from services.errors import DomainError, FieldError, Forbidden, Invalid, NotFound
from web import render, wants_fragment

bp = Blueprint("errors", __name__)

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "You do not have access to this page."),
    404: ("Not found", "There is nothing at this address."),
    405: ("Not allowed", "This address does not accept that kind of request."),
    413: ("Too large", "The upload is too large."),
    422: ("Cannot process", "Some of what was sent is not valid."),
    429: ("Too many attempts", "Too many attempts. Wait a few minutes and try again."),
    500: ("Something went wrong", "Something went wrong on our side. Nothing was saved; please try again."),
}


#: The 500 message once the request has committed something: "nothing was saved" would be a lie,
#: and a buyer who believed it would buy twice.
SAVED_THEN_FAILED = ("Something went wrong on our side after your change was saved. "
                     "Reload the page to see it; there is no need to do it again.")


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _remember_commit(session: sa.orm.Session) -> None:
    """Note that this request committed, so a later failure does not claim nothing was saved."""
    if has_request_context():
        g.committed = True


def _error_response(status: int, detail: str | None = None):  # noqa: ANN202
    title, message = MESSAGES.get(status, ("Error", "Something went wrong."))
    response = render(
        "errors/error.html", fragment="errors/_error.html",
        status=status, code=status, title=title, message=detail or message,
    )
    if wants_fragment():
        # Show the error in the flash area instead of inside whatever the request targeted.
        response.headers["HX-Retarget"] = "#flashes"
        response.headers["HX-Reswap"] = "beforeend"
    return response


@bp.app_errorhandler(CSRFError)
def csrf_error(error: CSRFError):  # noqa: ANN201
    return _error_response(400, "The form had expired or was sent from elsewhere. Reload the page and try again.")


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):  # noqa: ANN201
    if error.code is None or error.code < 400:
        return error
    detail = error.description if error.code in (400, 422) and error.description != type(error).description else None
    response = _error_response(error.code, detail)
    if isinstance(error, RateLimitExceeded):
        # The limit's whole window: at most that long before the next attempt counts again.
        response.headers["Retry-After"] = str(error.limit.limit.get_expiry())
    return response


#: How each domain error a service raises answers over HTTP (the most specific class wins).
DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (FieldError, 422), (Invalid, 400), (Forbidden, 403), (NotFound, 404),
)


@bp.app_errorhandler(DomainError)
def domain_error(error: DomainError):  # noqa: ANN201
    """A service refused: answer with its status, and its message where it is meant for the user."""
    status = next((code for kind, code in DOMAIN_STATUS if isinstance(error, kind)), 400)
    return _error_response(status, error.message if status in (400, 422) and error.message else None)


@bp.app_errorhandler(InternalServerError)
def server_error(error: InternalServerError):  # noqa: ANN201
    db.session.rollback()
    return _error_response(500, SAVED_THEN_FAILED if g.get("committed") else None)
