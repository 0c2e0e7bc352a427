"""Domain errors: what a service raises when a request cannot be carried out.

Services are called from routes, the ingester and CLI commands alike, so they never speak HTTP.
One place (`blueprints/errors.py`) maps these to answers: `NotFound` is 404, `Forbidden` 403,
`Invalid` 400 and an unhandled `FieldError` 422, each with the error's message.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose; `message` is fit to show the user."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """There is no such thing, or its existence is private to someone else."""


class Forbidden(DomainError):
    """The thing exists, and the user may see that it does, but may not do this to it."""


class Invalid(DomainError):
    """The request is malformed or names something unacceptable."""


class FieldError(Invalid):
    """A value the user typed is unacceptable; `field` names the form field to show it on."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
