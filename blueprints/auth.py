"""Register, log in, log out (here or everywhere), change the password.

A login is a row in `login_sessions` named by the session and remember cookies (see
`User.get_id`), so logging out, "log out everywhere" and a new password make old cookies worthless.
Failed logins back off per account and client address together: whoever guesses is slowed down,
and the account's owner, from another address, can still log in.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from extensions import limiter
from forms.accounts import LoginForm, OpenShopForm, PasswordChangeForm, RegisterForm
from services import accounts
from services.errors import FieldError
from web import redirect_to, render, safe_next

bp = Blueprint("auth", __name__)


def sign_in(user, remember: bool = False) -> None:  # noqa: ANN001
    """Start a fresh login session for this browser: a new session cookie and a new CSRF token, so
    nothing issued before the login (a planted session, a token seen on the login page) carries over."""
    # What the user was doing when asked to log in (a like on a show) is all that carries over.
    intent = session.get("show_intent")
    session.clear()
    if intent:
        session["show_intent"] = intent
    g.pop("csrf_token", None)
    accounts.start_session(user)
    login_user(user, remember=remember)


def sign_out(everywhere: bool = False) -> None:
    """End this browser's login session, or every one of the user's, and forget the cookies."""
    if everywhere:
        accounts.end_all_sessions(current_user)
    else:
        accounts.end_session(current_user)
    logout_user()  # also tells the browser to drop the remember cookie
    session.pop("csrf_token", None)
    g.pop("csrf_token", None)


def _login_failed(response) -> bool:  # noqa: ANN001
    return response.status_code == 401


def _login_account_key() -> str:
    """The failed-login bucket: the account, however it is named, from this client address."""
    account = accounts.login_account_key(request.form.get("identifier", ""))
    return f"login-account:{account}:{get_remote_address()}"


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
            sign_in(user)
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
            _forget_failed_logins_for_account()
            sign_in(user, remember=form.remember.data)
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
        sign_out()
        flash("You are logged out.", "info")
    return redirect_to(url_for("main.index"))


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere():
    """End every login session of this account: other browsers and remembered devices too."""
    sign_out(everywhere=True)
    flash("You are logged out on every device.", "info")
    return redirect_to(url_for("main.index"))


@bp.post("/account/password")
@login_required
def change_password():
    """A new password ends every login session; this browser gets a new one and stays logged in."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.new_password.data)
        except FieldError as error:
            getattr(form, error.field).errors.append(error.message)
        else:
            user = current_user._get_current_object()  # type: ignore[attr-defined]
            sign_in(user, remember=current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies)
            flash("Your password is changed. Every other device is logged out.", "success")
            return redirect_to(url_for("account.index"))
    return render("account/index.html", fragment="account/_password.html", password_form=form,
                  form=OpenShopForm(), status=422)
