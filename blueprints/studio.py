"""The streamer's studio: linked TikTok accounts, their settings, status and linked shoppers."""

from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user, login_required

from models import TikTokAccount
from services import tiktok
from services.accounts import FieldError
from web import optional_int, redirect_to, render

bp = Blueprint("studio", __name__, url_prefix="/studio")


def _account_or_404(account_id: int) -> TikTokAccount:
    account = tiktok.owned_account(current_user, account_id)
    if account is None:
        abort(404)  # another streamer's account does not exist, as far as this user knows
    return account


@bp.get("/")
@login_required
def index():
    accounts = tiktok.user_accounts(current_user)
    # The cards update live (a socket takes at most 8 channels; the user's own is one of them).
    return render("studio/index.html", accounts=accounts, totals={a.id: tiktok.account_totals(a) for a in accounts},
                  time_zones=tiktok.time_zones(), errors={}, form={},
                  page_channels=[f"studio:{a.id}" for a in accounts[:7]])


@bp.post("/accounts")
@login_required
def link():
    form = {"handle": request.form.get("handle", ""), "time_zone": request.form.get("time_zone", "UTC")}
    try:
        account = tiktok.link_account(current_user, form["handle"], form["time_zone"])
    except FieldError as error:
        accounts = tiktok.user_accounts(current_user)
        return render("studio/index.html", accounts=accounts,
                      totals={a.id: tiktok.account_totals(a) for a in accounts}, time_zones=tiktok.time_zones(),
                      errors={error.field: error.message}, form=form, status=422)
    flash(f"@{account.handle} is linked. Its LIVEs are recorded whenever it goes live.", "success")
    return redirect_to(url_for("studio.account", account_id=account.id))


@bp.get("/accounts/<int:account_id>")
@login_required
def account(account_id: int):
    account = _account_or_404(account_id)
    return render("studio/account.html", account=account, totals=tiktok.account_totals(account),
                  linked=tiktok.account_linked_profiles(account), time_zones=tiktok.time_zones(), errors={},
                  page_channels=[f"studio:{account.id}"])


@bp.post("/accounts/<int:account_id>/settings")
@login_required
def settings(account_id: int):
    account = _account_or_404(account_id)
    form = request.form
    timeout = optional_int(form.get("session_timeout"))
    threshold = optional_int(form.get("big_gift_threshold"))
    errors = {}
    if timeout is None:
        errors["session_timeout"] = "Enter a number of seconds."
    if threshold is None:
        errors["big_gift_threshold"] = "Enter a number of coins."
    if not errors:
        try:
            tiktok.update_settings(account, tiktok.AccountSettings(
                time_zone=form.get("time_zone", ""), auto_vip=form.get("auto_vip") == "on",
                birthday_notices=form.get("birthday_notices") == "on", session_timeout=timeout,
                big_gift_threshold=threshold))
        except FieldError as error:
            errors[error.field] = error.message
    if errors:
        return render("studio/account.html", account=account, totals=tiktok.account_totals(account),
                      linked=tiktok.account_linked_profiles(account), time_zones=tiktok.time_zones(),
                      errors=errors, page_channels=[f"studio:{account.id}"], status=422)
    flash("Settings saved.", "success")
    return redirect_to(url_for("studio.account", account_id=account.id))


@bp.post("/accounts/<int:account_id>/pause")
@login_required
def pause(account_id: int):
    account = _account_or_404(account_id)
    paused = request.form.get("paused") == "1"
    tiktok.set_paused(account, paused)
    flash(f"@{account.handle} is paused." if paused else f"@{account.handle} is recording again.", "success")
    return redirect_to(url_for("studio.account", account_id=account.id))


@bp.post("/accounts/<int:account_id>/unlink")
@login_required
def unlink(account_id: int):
    account = _account_or_404(account_id)
    if request.form.get("confirm") != account.handle:
        flash("Type the handle to confirm: unlinking deletes every viewer profile of this account.", "error")
        return redirect_to(url_for("studio.account", account_id=account.id))
    handle = account.handle
    tiktok.unlink_account(account)
    flash(f"@{handle} is unlinked and its viewer data deleted.", "success")
    return redirect_to(url_for("studio.index"))


@bp.post("/accounts/<int:account_id>/linked/<int:profile_id>/unlink")
@login_required
def unlink_shopper(account_id: int, profile_id: int):
    account = _account_or_404(account_id)
    if not tiktok.unlink_profile_by_streamer(account, profile_id):
        abort(404)
    flash("The shopper is no longer linked to that viewer.", "success")
    return redirect_to(url_for("studio.account", account_id=account.id))
