"""A shopper links their TikTok handle to a streamer's viewer profile with a one-time code."""

from __future__ import annotations

from flask import Blueprint, abort, flash, url_for
from flask_login import current_user, login_required

from extensions import utcnow
from forms.studio import LinkCodeForm
from services import tiktok
from services.errors import FieldError
from web import redirect_to, render

bp = Blueprint("tiktok_links", __name__, url_prefix="/account/tiktok")


def _page(form: LinkCodeForm, status: int = 200):
    return render("account/tiktok.html", codes=tiktok.pending_codes(current_user, utcnow()),
                  linked=tiktok.linked_profiles(current_user), form=form, minutes=tiktok.LINK_CODE_MINUTES,
                  status=status)


@bp.get("/")
@login_required
def index():
    return _page(LinkCodeForm())


@bp.post("/codes")
@login_required
def request_code():
    form = LinkCodeForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        code = tiktok.request_link_code(current_user, form.account.data, form.handle.data)
    except FieldError as error:
        getattr(form, error.field).errors = [error.message]
        return _page(form, status=422)
    flash(f"Type {code.code} in @{code.account.handle}'s LIVE chat as @{code.handle} within "
          f"{tiktok.LINK_CODE_MINUTES} minutes.", "success")
    return redirect_to(url_for("tiktok_links.index"))


@bp.post("/linked/<int:profile_id>/unlink")
@login_required
def unlink(profile_id: int):
    if not tiktok.unlink_profile_by_shopper(current_user, profile_id):
        abort(404)
    flash("Your TikTok profile is no longer linked to that streamer.", "success")
    return redirect_to(url_for("tiktok_links.index"))
