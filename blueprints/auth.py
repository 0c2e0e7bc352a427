"""Register, log in, log out."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, request, url_for
from flask_login import current_user, login_user, logout_user

from extensions import limiter
from forms.accounts import LoginForm, RegisterForm
from services import accounts
from services.errors import FieldError
from web import redirect_to, render, safe_next

bp = Blueprint("auth", __name__)


def _login_failed(response) -> bool:  # noqa: ANN001
    return response.status_code == 401


def _login_account_key() -> str:
    return "login-account:" + request.form.get("identifier", "").strip().lower()


@bp.route("/register", methods=["GET", "POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = accounts.register_user(
                form.email.data, form.username.data, form.display_name.data, form.password.data
            )
        except FieldError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            login_user(user)
            flash(f"Welcome to Streamshop, {user.display_name}!", "success")
            return redirect_to(url_for("account.index"))
    status = 422 if form.errors else 200
    return render("auth/register.html", fragment="auth/_register_form.html", form=form, status=status)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_login_account_key,
    methods=["POST"],
    deduct_when=_login_failed,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"], deduct_when=_login_failed
)
def login():
    form = LoginForm(next=request.args.get("next"))
    status = 200
    if form.validate_on_submit():
        user = accounts.authenticate(form.identifier.data, form.password.data)
        if user is not None:
            login_user(user, remember=form.remember.data)
            _forget_failed_logins_for_account()
            flash(f"Welcome back, {user.display_name}.", "success")
            return redirect_to(safe_next(form.next.data) or url_for("main.index"))
        form.password.errors.append("That email or username and password do not match.")
        status = 401
    elif form.errors:
        status = 422
    return render("auth/login.html", fragment="auth/_login_form.html", form=form, status=status)


def _forget_failed_logins_for_account() -> None:
    """A successful login ends the account's run of failures (the per-address count stays)."""
    account_key = _login_account_key()
    for request_limit in limiter.current_limits:
        if account_key in request_limit.request_args:
            limiter.limiter.clear(request_limit.limit, *request_limit.request_args)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        logout_user()
        flash("You are logged out.", "info")
    return redirect_to(url_for("main.index"))
