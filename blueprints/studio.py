"""The streamer's studio: linked TikTok accounts, each with its overview, leaderboards, heatmap and
settings. The viewer table and profiles are in `studio_viewers`, the VIP tiers in `studio_tiers`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, g, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from extensions import utcnow
from forms.studio import LinkAccountForm, SettingsForm
from models import TikTokAccount
from realtime.channels import studio_channel
from services import studio, studio_activity, tiktok
from services.errors import FieldError
from services.local_time import local_time
from web import redirect_to, render, wants_fragment

bp = Blueprint("studio", __name__, url_prefix="/studio")


def owned_account_or_404() -> TikTokAccount:
    """The account named in the URL, if the current user owns it; else 404 (another streamer's
    account does not exist, as far as this user knows). Blueprints call it before every request."""
    account = tiktok.owned_account(current_user, int(request.view_args["account_id"]))
    if account is None:
        abort(404)
    return account


@bp.before_request
@login_required
def load_owned_account() -> None:
    """Every studio blueprint runs this first: log in, and 404 unless the account is the user's."""
    if request.view_args and "account_id" in request.view_args:
        g.studio_account = owned_account_or_404()


def account_page(template: str, fragment: str | None = None, status: int = 200, **context: Any) -> Response:
    """Render one of an account's studio pages: every one shows the account's status card and
    listens on its studio channel (notices, status, and the pulse that refreshes live regions)."""
    account = g.studio_account
    chosen = fragment if fragment and wants_fragment() else template
    # The status card's totals cost a pass over the account's profiles: only a whole page shows them.
    whole_page = not chosen.rsplit("/", 1)[-1].startswith("_")
    if whole_page and context.get("totals") is None:
        context["totals"] = tiktok.account_totals(account)
    return render(template, fragment=fragment, status=status, account=account,
                  page_channels=[studio_channel(account.id)], **context)


@bp.app_template_filter("duration")
def duration(seconds: int | None) -> str:
    """Watchtime as "3h 25m", "25m" or "0m"."""
    minutes = int(seconds or 0) // 60
    return f"{minutes // 60}h {minutes % 60}m" if minutes >= 60 else f"{minutes}m"


@bp.app_template_filter("local")
def local(moment: datetime | None, time_zone: str, pattern: str = "%d %b %Y %H:%M") -> str:
    """A stored UTC time shown in the account's time zone."""
    return local_time(moment, time_zone).strftime(pattern) if moment else "—"


def _link_form() -> LinkAccountForm:
    form = LinkAccountForm()
    form.time_zone.choices = tiktok.time_zones()
    return form


def _index(form: LinkAccountForm, status: int = 200) -> Response:
    accounts = tiktok.user_accounts(current_user)
    # The cards update live (a socket takes at most 8 channels; the user's own is one of them).
    return render("studio/index.html", accounts=accounts, totals={a.id: tiktok.account_totals(a) for a in accounts},
                  form=form, page_channels=[studio_channel(a.id) for a in accounts[:7]], status=status)


@bp.get("/")
def index():
    return _index(_link_form())


@bp.post("/accounts")
def link():
    form = _link_form()
    if not form.validate_on_submit():
        return _index(form, status=422)
    try:
        account = tiktok.link_account(current_user, form.handle.data, form.time_zone.data)
    except FieldError as error:
        getattr(form, error.field).errors = [error.message]
        return _index(form, status=422)
    flash(f"@{account.handle} is linked. Its LIVEs are recorded whenever it goes live.", "success")
    return redirect_to(url_for("studio.account", account_id=account.id))


@bp.get("/accounts/<int:account_id>")
def account(account_id: int):
    """The overview: five stats cards, who is in the LIVE, upcoming birthdays, live notices."""
    now = utcnow()
    account = g.studio_account
    stats = studio.overview(account, now)
    # The status card shows two of the cards' figures: no need to count them twice.
    return account_page("studio/overview.html", fragment="studio/_overview.html", overview=stats,
                        totals={"viewers": stats.viewers, "coins": stats.coins},
                        in_live=studio.in_the_live(account), birthdays=studio.upcoming_birthdays(account, now),
                        picture=studio_activity.live_picture(account), timedelta=timedelta)


@bp.get("/accounts/<int:account_id>/leaderboards")
def leaderboards(account_id: int):
    account = g.studio_account
    board = request.args.get("board") if request.args.get("board") in studio.BOARDS else "coins"
    period = request.args.get("period") if request.args.get("period") in studio.PERIODS else "all"
    return account_page("studio/leaderboards.html", fragment="studio/_leaderboard.html", board=board,
                        period=period, leaders=studio.leaderboard(account, board, period, utcnow()),
                        boards=studio.BOARDS, periods=studio.PERIODS)


@bp.get("/accounts/<int:account_id>/heatmap")
def heatmap(account_id: int):
    return account_page("studio/heatmap.html", fragment="studio/_heatmap.html",
                        heatmap=studio.account_heatmap(g.studio_account), weekdays=studio.WEEKDAYS)


def _settings_form() -> SettingsForm:
    account = g.studio_account
    form = SettingsForm(obj=account)
    form.time_zone.choices = tiktok.time_zones()
    return form


def _settings_page(form: SettingsForm, status: int = 200) -> Response:
    return account_page("studio/settings.html", form=form, linked=tiktok.account_linked_profiles(g.studio_account),
                        status=status)


@bp.get("/accounts/<int:account_id>/settings")
def settings(account_id: int):
    return _settings_page(_settings_form())


@bp.post("/accounts/<int:account_id>/settings")
def save_settings(account_id: int):
    account = g.studio_account
    form = _settings_form()
    if form.validate_on_submit():
        try:
            tiktok.update_settings(account, tiktok.AccountSettings(
                time_zone=form.time_zone.data, auto_vip=form.auto_vip.data,
                birthday_notices=form.birthday_notices.data, session_timeout=form.session_timeout.data,
                big_gift_threshold=form.big_gift_threshold.data))
        except FieldError as error:
            getattr(form, error.field).errors = [error.message]
        else:
            flash("Settings saved.", "success")
            return redirect_to(url_for("studio.settings", account_id=account.id))
    return _settings_page(form, status=422)


@bp.post("/accounts/<int:account_id>/pause")
def pause(account_id: int):
    account = g.studio_account
    paused = request.form.get("paused") == "1"
    tiktok.set_paused(account, paused)
    flash(f"@{account.handle} is paused." if paused else f"@{account.handle} is recording again.", "success")
    return redirect_to(url_for("studio.settings", account_id=account.id))


@bp.post("/accounts/<int:account_id>/unlink")
def unlink(account_id: int):
    account = g.studio_account
    if request.form.get("confirm", "").strip().lstrip("@").lower() != account.handle:
        flash("Type the handle to confirm: unlinking deletes every viewer profile of this account.", "error")
        return redirect_to(url_for("studio.settings", account_id=account.id))
    handle = account.handle
    tiktok.unlink_account(account)
    flash(f"@{handle} is unlinked and its viewer data deleted.", "success")
    return redirect_to(url_for("studio.index"))


@bp.post("/accounts/<int:account_id>/linked/<int:profile_id>/unlink")
def unlink_shopper(account_id: int, profile_id: int):
    account = g.studio_account
    if not tiktok.unlink_profile_by_streamer(account, profile_id):
        abort(404)
    flash("The shopper is no longer linked to that viewer.", "success")
    return redirect_to(url_for("studio.settings", account_id=account.id))
