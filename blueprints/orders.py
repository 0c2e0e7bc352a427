"""The buyer's orders."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user, login_required

from services import orders
from web import render

bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.get("/")
@login_required
def index():
    return render("orders/index.html", orders=orders.buyer_orders(current_user))


@bp.get("/<int:order_id>")
@login_required
def detail(order_id: int):
    return render("orders/detail.html", order=orders.buyer_order(current_user, order_id))
