"""The VIP tiers editor of one linked account: add, edit, reorder and delete tiers. Every save
re-ranks the account's automatic VIPs; tiers set by hand stay as they are."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, request, url_for
from werkzeug.wrappers import Response

from extensions import utcnow
from forms.studio import TierForm
from models import VipTier
from services import vip
from services.errors import FieldError
from web import ask_first, redirect_to

from .studio import account_page, load_owned_account

bp = Blueprint("studio_tiers", __name__, url_prefix="/studio/accounts/<int:account_id>/tiers")
bp.before_request(load_owned_account)


def _tier_or_404(tier_id: int) -> VipTier:
    tier = vip.account_tier(g.studio_account, tier_id)
    if tier is None:
        abort(404)
    return tier


def _tier_form(tier: VipTier) -> TierForm:
    return TierForm(formdata=None, prefix=f"tier-{tier.id}", data={
        "name": tier.name, "min_coins": tier.min_coins, "min_watch_hours": tier.min_watch_seconds // 3600,
        "min_visits": tier.min_visits, "colour": tier.colour, "benefits": tier.benefits})


def _editor(new_form: TierForm | None = None, failed: tuple[int, TierForm] | None = None, status: int = 200
            ) -> Response:
    tiers = vip.tiers_in_order(g.studio_account)
    forms = {tier.id: _tier_form(tier) for tier in tiers}
    if failed:
        forms[failed[0]] = failed[1]
    return account_page("studio/tiers.html", tiers=tiers, forms=forms, new_form=new_form or TierForm(prefix="new"),
                        status=status)


def _draft(form: TierForm) -> vip.TierDraft:
    return vip.TierDraft(form.name.data.strip(), form.min_coins.data, form.min_watch_hours.data,
                            form.min_visits.data, form.colour.data.lower(), (form.benefits.data or "").strip())


@bp.get("")
def editor(account_id: int):
    return _editor()


@bp.post("")
def add(account_id: int):
    form = TierForm(prefix="new")
    if form.validate_on_submit():
        try:
            tier = vip.add_tier(g.studio_account, _draft(form), utcnow())
        except FieldError as error:
            getattr(form, error.field).errors = [error.message]
        else:
            flash(f"The {tier.name} tier is added; automatic VIPs are re-ranked.", "success")
            return redirect_to(url_for("studio_tiers.editor", account_id=account_id))
    return _editor(new_form=form, status=422)


@bp.post("/<int:tier_id>")
def edit(account_id: int, tier_id: int):
    tier = _tier_or_404(tier_id)
    form = TierForm(prefix=f"tier-{tier.id}")
    if form.validate_on_submit():
        try:
            vip.edit_tier(g.studio_account, tier, _draft(form), utcnow())
        except FieldError as error:
            getattr(form, error.field).errors = [error.message]
        else:
            flash(f"The {tier.name} tier is saved; automatic VIPs are re-ranked.", "success")
            return redirect_to(url_for("studio_tiers.editor", account_id=account_id))
    return _editor(failed=(tier.id, form), status=422)


@bp.post("/<int:tier_id>/move")
def move(account_id: int, tier_id: int):
    tier = _tier_or_404(tier_id)
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        abort(400, "Move a tier up or down.")
    if vip.move_tier(g.studio_account, tier, direction, utcnow()):
        flash(f"{tier.name} moved {direction}; automatic VIPs are re-ranked.", "success")
    return redirect_to(url_for("studio_tiers.editor", account_id=account_id))


@bp.post("/<int:tier_id>/delete")
def delete(account_id: int, tier_id: int):
    tier = _tier_or_404(tier_id)
    if asked := ask_first("delete_tier", "Delete tier", url_for("studio_tiers.editor", account_id=account_id),
                          tier=tier):
        return asked
    name = tier.name
    vip.delete_tier(g.studio_account, tier, utcnow())
    flash(f"The {name} tier is deleted; its viewers are re-ranked automatically.", "success")
    return redirect_to(url_for("studio_tiers.editor", account_id=account_id))
