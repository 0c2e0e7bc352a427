"""The cart: view, add, change quantity, remove."""

from __future__ import annotations

from flask import Blueprint, abort, flash, url_for
from flask_login import current_user, login_required

from extensions import db
from forms.shop import AddToCartForm, QuantityForm
from models import Product
from services import cart as carts
from services.errors import FieldError
from web import optional_int, redirect_to, render, same_site_referrer, wants_fragment

bp = Blueprint("cart", __name__, url_prefix="/cart")


@bp.get("/")
@login_required
def index():
    return render("cart/index.html", fragment="cart/_cart.html", cart=carts.cart_for(current_user))


@bp.post("/add")
@login_required
def add():
    form = AddToCartForm()
    product_id = optional_int(form.product_id.data)
    product = db.get_or_404(Product, product_id) if product_id else abort(404)
    message, added = None, False
    if form.validate():
        try:
            carts.add_to_cart(current_user, product, form.quantity.data, optional_int(form.stream_id.data),
                              form.source.data or None)
            added = True
        except FieldError as error:
            message = error.message
    else:
        message = "; ".join(error for errors in form.errors.values() for error in errors)
    if wants_fragment():
        return render("shop/_buy_box.html", product=product, added=added, message=message,
                      quantity=form.quantity.data or 1, stream_id=optional_int(form.stream_id.data),
                      source=form.source.data, badge_count=carts.cart_count(current_user),
                      status=200 if added else 422)
    flash(f"Added “{product.title}” to your cart." if added else message, "success" if added else "error")
    back = same_site_referrer() if added else None
    return redirect_to(back or url_for("shop.product_page", product_id=product.id))


@bp.post("/items/<int:item_id>")
@login_required
def update(item_id: int):
    form = QuantityForm()
    if form.validate():
        try:
            carts.set_quantity(current_user, item_id, form.quantity.data)
        except FieldError as error:
            flash(error.message, "error")
    else:
        flash("Choose a quantity from 0 to 99.", "error")
    return _cart_answer()


@bp.post("/items/<int:item_id>/remove")
@login_required
def remove(item_id: int):
    carts.remove_item(current_user, item_id)
    return _cart_answer()


def _cart_answer():  # noqa: ANN202
    if wants_fragment():
        return render("cart/index.html", fragment="cart/_cart.html", cart=carts.cart_for(current_user))
    return redirect_to(url_for("cart.index"))
