"""The payment step of checkout, behind a small interface so a real provider can be added.

A provider gets each new order inside the checkout transaction and either marks it paid or
raises `PaymentDeclined`, which rolls the whole checkout back (stock included). A card processor
that confirms asynchronously would leave the order `pending` here and mark it paid from its
webhook.
"""

from __future__ import annotations

from typing import Protocol

from flask import current_app

from extensions import utcnow
from models import Order


class PaymentDeclined(Exception):
    """The provider refused the payment; the message is shown to the buyer."""


class PaymentProvider(Protocol):
    name: str

    def charge(self, order: Order) -> None:
        """Take payment for `order` (set its status), or raise `PaymentDeclined`."""


class InstantPayment:
    """The built-in step: there is no card processor, so an order is paid as soon as it is placed."""

    name = "instant"

    def charge(self, order: Order) -> None:
        order.status = "paid"
        order.paid_at = utcnow()


PROVIDERS: dict[str, type[PaymentProvider]] = {"instant": InstantPayment}


def payment_provider() -> PaymentProvider:
    name = current_app.config["PAYMENT_PROVIDER"]
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise RuntimeError(f"unknown PAYMENT_PROVIDER {name!r}; known: {', '.join(PROVIDERS)}") from None
