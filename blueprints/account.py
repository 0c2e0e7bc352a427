"""The account page and opening a shop."""

from __future__ import annotations

from flask import Blueprint, flash, url_for
from flask_login import current_user, login_required

from forms.accounts import OpenShopForm, PasswordChangeForm
from services import accounts
from services.errors import FieldError
from web import redirect_to, render

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.get("/")
@login_required
def index():
    return render("account/index.html", form=OpenShopForm(), password_form=PasswordChangeForm())


@bp.post("/shop")
@login_required
def open_shop():
    form = OpenShopForm()
    if form.validate_on_submit():
        try:
            shop = accounts.open_shop(current_user, form.name.data, form.slug.data)
        except FieldError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            flash(f"Your shop “{shop.name}” is open. You are now a seller.", "success")
            return redirect_to(url_for("account.index"))
    return render("account/index.html", fragment="account/_open_shop.html", form=form,
                  password_form=PasswordChangeForm(), status=422)
