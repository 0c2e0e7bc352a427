"""The seller's back office: products and the shop's orders (own shop only)."""

from __future__ import annotations

from flask import Blueprint, flash, request, url_for
from flask_login import current_user, login_required

from forms.shop import ProductForm
from services import catalog, orders
from services.errors import FieldError
from web import ask_first, redirect_to, render

bp = Blueprint("seller", __name__, url_prefix="/seller")


@bp.before_request
@login_required
def require_seller():  # noqa: ANN201
    if not current_user.is_seller:
        flash("Open a shop to start selling.", "info")
        return redirect_to(url_for("account.index"))
    return None


@bp.get("/")
def index():
    products = catalog.shop_products(current_user.shop, include_hidden=True)
    return render("seller/index.html", fragment="seller/_products.html", products=products)


def _draft(form: ProductForm) -> catalog.ProductDraft:
    return catalog.ProductDraft(
        title=form.title.data, description=form.description.data or "", price_cents=form.price_cents,
        currency=form.currency.data, stock=form.stock.data, is_active=form.is_active.data,
    )


def _image(form: ProductForm):  # noqa: ANN202
    return form.image.data.stream if form.image.data else None


@bp.route("/products/new", methods=["GET", "POST"])
def product_new():
    form = ProductForm()
    if form.validate_on_submit():
        try:
            product = catalog.create_product(current_user.shop, _draft(form), _image(form))
        except FieldError as error:
            form.image.errors = [*form.image.errors, error.message]
        else:
            flash(f"“{product.title}” is added to your shop.", "success")
            return redirect_to(url_for("seller.index"))
    return render("seller/product_form.html", form=form, product=None, status=422 if form.errors else 200)


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
def product_edit(product_id: int):
    product = catalog.owned_product(current_user, product_id)
    form = ProductForm(obj=product)
    if request.method == "GET":
        form.price.data = f"{product.price_cents / 100:.2f}"
    if form.validate_on_submit():
        try:
            catalog.update_product(product, _draft(form), _image(form))
        except FieldError as error:
            form.image.errors = [*form.image.errors, error.message]
        else:
            flash(f"“{product.title}” is saved.", "success")
            return redirect_to(url_for("seller.index"))
    return render("seller/product_form.html", form=form, product=product, status=422 if form.errors else 200)


@bp.post("/products/<int:product_id>/visibility")
def product_visibility(product_id: int):
    product = catalog.owned_product(current_user, product_id)
    catalog.set_visibility(product, request.form.get("visible") == "1")
    flash(f"“{product.title}” is {'visible in' if product.is_active else 'hidden from'} your shop.", "success")
    return redirect_to(url_for("seller.index"))


@bp.post("/products/<int:product_id>/delete")
def product_delete(product_id: int):
    product = catalog.owned_product(current_user, product_id)
    if asked := ask_first("delete_product", "Delete product", url_for("seller.index"), product=product):
        return asked
    title = product.title
    try:
        catalog.delete_product(product)
    except FieldError as error:
        flash(error.message, "error")
    else:
        flash(f"“{title}” is deleted.", "success")
    return redirect_to(url_for("seller.index"))


@bp.get("/orders")
def order_list():
    page_orders, pages = orders.shop_orders(current_user.shop, request.args.get("page", 1, type=int))
    return render("seller/orders.html", orders=page_orders, pages=pages,
                  page=min(max(request.args.get("page", 1, type=int), 1), pages))


@bp.post("/orders/<int:order_id>/<any(cancel, refund):action>")
def order_change(order_id: int, action: str):
    order = orders.shop_order(current_user, order_id)
    if asked := ask_first(f"{action}_order", "Cancel order" if action == "cancel" else "Mark refunded",
                          url_for("seller.order_list"), order=order):
        return asked
    try:
        (orders.cancel_order if action == "cancel" else orders.refund_order)(order)
    except FieldError as error:
        flash(error.message, "error")
    else:
        done = "cancelled; its stock is back on sale" if action == "cancel" else "refunded"
        flash(f"Order #{order.id} is {done}.", "success")
    return redirect_to(url_for("seller.order_list"))
