"""The viewer table of one linked account, viewer profiles with their editor, exports and
per-viewer export and delete. Every route is the account owner's alone (404 for anyone else)."""

from __future__ import annotations

import json
from datetime import UTC

from flask import Blueprint, abort, flash, g, request, stream_with_context, url_for
from werkzeug.wrappers import Response

from extensions import utcnow
from forms.studio import ProfileForm
from models import ViewerProfile
from services import exports, studio
from services.errors import FieldError
from services.vip import account_tiers
from web import is_htmx, redirect_to

from .studio import account_page, load_owned_account

bp = Blueprint("studio_viewers", __name__, url_prefix="/studio/accounts/<int:account_id>/viewers")
bp.before_request(load_owned_account)


def _viewer_or_404(viewer_id: int) -> ViewerProfile:
    viewer = studio.account_viewer(g.studio_account, viewer_id)
    if viewer is None:
        abort(404)
    return viewer


@bp.get("")
def table(account_id: int):
    """The table page; an htmx request (search, filter, sort, page, live refresh) gets the table alone."""
    account = g.studio_account
    query = studio.ViewerQuery.from_args(request.args)
    return account_page("studio/viewers.html", fragment="studio/_viewer_table.html",
                        table=studio.viewer_page(account, query, utcnow()), tiers=account_tiers(account.id),
                        filters=studio.FILTERS, sorts=studio.SORTS, directions=studio.DIRECTIONS)


def _download_name(extension: str) -> str:
    return f"viewers-{g.studio_account.handle}-{utcnow().astimezone(UTC):%Y-%m-%d}.{extension}"


@bp.get("/export")
def export(account_id: int):
    """CSV or JSON of every viewer in the current search and filter, streamed."""
    account = g.studio_account
    query = studio.ViewerQuery.from_args(request.args)
    records = exports.export_records(account, query, utcnow())
    kind = request.args.get("format", "csv")
    if kind == "csv":
        body, mimetype = exports.csv_chunks(records), "text/csv"  # Werkzeug adds "; charset=utf-8"
    elif kind == "json":
        body, mimetype = _json_array(records), "application/json"
    else:
        abort(400, "The export format is csv or json.")
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{_download_name(kind)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _json_array(records):  # noqa: ANN001, ANN202
    yield "["
    for number, record in enumerate(records):
        yield ("," if number else "") + "\n" + json.dumps(record, ensure_ascii=False)
    yield "\n]\n"


def _profile_form(viewer: ViewerProfile, formdata: bool = True) -> ProfileForm:
    """The editor, filled from the request (a save) or from the stored profile."""
    account = g.studio_account
    stored = {
        "tts_voice": viewer.tts_voice or "", "discord_username": viewer.discord_username or "",
        "birthday_month": viewer.birthday_month or 0, "birthday_day": viewer.birthday_day,
        "birthday_year": viewer.birthday_year, "notes": viewer.notes, "tags": list(viewer.tags or []),
        "is_favorite": viewer.is_favorite, "is_moderator": viewer.is_moderator, "is_blocked": viewer.is_blocked,
        "vip": "auto" if viewer.vip_source != "manual" else str(viewer.vip_tier_id or "none"),
    }
    form = ProfileForm(data=stored) if formdata else ProfileForm(formdata=None, data=stored)
    tiers = account_tiers(account.id)
    current = next((tier.name for tier in tiers if tier.id == viewer.vip_tier_id), None)
    form.set_tier_choices(list(reversed(tiers)), current if viewer.vip_source != "manual" else None)
    return form


def _profile(viewer: ViewerProfile, form: ProfileForm, status: int = 200, saved: bool = False) -> Response:
    account = g.studio_account
    return account_page("studio/profile.html", fragment="studio/_profile.html", viewer=viewer, tier=viewer.vip_tier,
                        details=studio.profile_details(account, viewer), form=form, saved=saved,
                        weekdays=studio.WEEKDAYS, status=status)


@bp.get("/<int:viewer_id>")
def profile(account_id: int, viewer_id: int):
    """The profile page; from the table (htmx) the same profile fills the dialog."""
    viewer = _viewer_or_404(viewer_id)
    return _profile(viewer, _profile_form(viewer, formdata=False))


@bp.post("/<int:viewer_id>")
def save_profile(account_id: int, viewer_id: int):
    account = g.studio_account
    viewer = _viewer_or_404(viewer_id)
    form = _profile_form(viewer)
    if form.validate_on_submit():
        try:
            studio.update_profile(account, viewer, studio.ProfileChanges(
                tts_voice=form.tts_voice.data, discord_username=(form.discord_username.data or "").strip(),
                birthday=form.birthday(), notes=form.notes.data or "", tags=form.tags.data,
                is_favorite=form.is_favorite.data, is_moderator=form.is_moderator.data,
                is_blocked=form.is_blocked.data, vip=form.vip.data), utcnow())
        except FieldError as error:
            getattr(form, error.field).errors = [error.message]
        else:
            if not is_htmx():
                flash(f"@{viewer.handle}'s profile is saved.", "success")
                return redirect_to(url_for("studio_viewers.profile", account_id=account.id, viewer_id=viewer.id))
            # The table refetches itself (keeping its search, filter, sort and page).
            response = _profile(viewer, _profile_form(viewer, formdata=False), saved=True)
            response.headers["HX-Trigger"] = "studio-changed"
            return response
    return _profile(viewer, form, status=422)


@bp.post("/<int:viewer_id>/favorite")
def favorite(account_id: int, viewer_id: int):
    """Star or unstar; the table swaps in the row, a plain form goes back to the page it came from."""
    account = g.studio_account
    viewer = _viewer_or_404(viewer_id)
    studio.toggle_favorite(viewer, utcnow())
    if is_htmx():
        return account_page("studio/_viewer_row.html", viewer=viewer,
                            tiers={tier.id: tier for tier in account_tiers(account.id)})
    return redirect_to(url_for("studio_viewers.table", account_id=account.id))


@bp.get("/<int:viewer_id>/export")
def export_one(account_id: int, viewer_id: int):
    """Everything stored about one viewer, as a JSON download."""
    viewer = _viewer_or_404(viewer_id)
    response = Response(json.dumps(exports.viewer_everything(g.studio_account, viewer), indent=2, ensure_ascii=False),
                        mimetype="application/json")
    name = f"viewer-{g.studio_account.handle}-{viewer.handle or viewer.tiktok_user_id}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:viewer_id>/delete")
def confirm_delete(account_id: int, viewer_id: int):
    return account_page("studio/delete_viewer.html", viewer=_viewer_or_404(viewer_id))


@bp.post("/<int:viewer_id>/delete")
def delete(account_id: int, viewer_id: int):
    """Erase every row about the viewer, once the handle is typed to confirm."""
    account = g.studio_account
    viewer = _viewer_or_404(viewer_id)
    typed = request.form.get("confirm", "").strip().lstrip("@").casefold()
    if typed != (viewer.handle or str(viewer.tiktok_user_id)).casefold():
        flash("Type the viewer's handle to confirm the delete.", "error")
        return account_page("studio/delete_viewer.html", viewer=viewer, status=422)
    handle = viewer.handle
    studio.delete_viewer(viewer)
    flash(f"@{handle} and everything stored about them is deleted.", "success")
    return redirect_to(url_for("studio_viewers.table", account_id=account.id))
