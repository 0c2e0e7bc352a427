"""Checkout: the confirmation page and placing the order."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, request, url_for
from flask_login import current_user, login_required

from forms.shop import AddToCartForm, CheckoutForm
from services import checkout as checkouts
from services.payments import PaymentDeclined
from web import optional_int, redirect_to, render, wants_fragment

bp = Blueprint("checkout", __name__, url_prefix="/checkout")


def _checkout_from(values) -> checkouts.Checkout:  # noqa: ANN001
    """A "Buy now" checkout when the values name a product, else the cart's."""
    product_id = optional_int(values.get("product_id"))
    if product_id is None:
        return checkouts.cart_checkout(current_user)
    return checkouts.buy_now_checkout(
        product_id, optional_int(values.get("quantity")) or 1, optional_int(values.get("stream_id")),
        values.get("source") or None, optional_int(values.get("flash_sale_id")),
    )


def _page(checkout: checkouts.Checkout, form: CheckoutForm, error: str | None = None, status: int = 200):  # noqa: ANN202
    """The checkout page, or (for htmx, as in a show's checkout sheet) just its checkout section."""
    form.fingerprint.data = checkout.fingerprint()
    return render("checkout/show.html", "checkout/_checkout.html", checkout=checkout, form=form, error=error,
                  status=status, in_sheet=wants_fragment())


@bp.get("/")
@login_required
def show():
    checkout = _checkout_from(request.args)
    form = CheckoutForm(data={**request.args.to_dict(), "idempotency_key": uuid.uuid4().hex})
    return _page(checkout, form)


@bp.post("/buy-now")
@login_required
def buy_now():
    """The "Buy now" button: open a checkout for just this product (and the show it came from)."""
    form = AddToCartForm()
    params = {
        "product_id": optional_int(form.product_id.data),
        "quantity": optional_int(form.quantity.data) or 1,
        "stream_id": optional_int(form.stream_id.data),
        "source": form.source.data or None,
        "flash_sale_id": optional_int(request.form.get("flash_sale_id")),
    }
    return redirect_to(url_for("checkout.show", **{key: value for key, value in params.items() if value}))


@bp.post("/")
@login_required
def place():
    form = CheckoutForm()
    checkout = _checkout_from(request.form)
    if not form.validate():
        return _page(checkout, form, "This checkout form is incomplete. Reload the page and try again.", 422)
    try:
        placed = checkouts.place_order(current_user, checkout, form.idempotency_key.data, form.fingerprint.data)
    except (checkouts.CheckoutError, PaymentDeclined) as error:
        return _page(checkouts.Checkout(checkout.lines, checkout.buy_now), form, str(error), 422)
    if wants_fragment():  # the sheet over a show: its success state, no page change
        return render("checkout/_placed.html", orders=placed.orders)
    numbers = ", ".join(f"#{order.id}" for order in placed.orders)
    word = "Order" if len(placed.orders) == 1 else "Orders"
    flash(f"{word} {numbers} {'is' if len(placed.orders) == 1 else 'are'} placed and paid. Thank you!", "success")
    if len(placed.orders) == 1:
        return redirect_to(url_for("orders.detail", order_id=placed.orders[0].id))
    return redirect_to(url_for("orders.index"))
