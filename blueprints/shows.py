"""The seller's shows: list, create, and the stream interface (owner only; others get 403)."""

from __future__ import annotations

from flask import Blueprint, flash, request, url_for
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from forms.live import ShowForm
from services import catalog, console_chat, live, tiktok
from services.errors import FieldError
from web import ask_first, optional_int, redirect_to, render, wants_fragment

bp = Blueprint("shows", __name__, url_prefix="/seller/shows")


@bp.before_request
@login_required
def require_seller():  # noqa: ANN201
    # A show's own pages answer 403 to anyone but its owner (see live.owned_stream).
    if not current_user.is_seller and "stream_id" not in (request.view_args or {}):
        flash("Open a shop to start selling.", "info")
        return redirect_to(url_for("account.index"))
    return None


@bp.get("/")
def index():
    shows = live.shop_shows(current_user.shop)
    return render("shows/index.html", shows=[(show, live.stats(show)) for show in shows])


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = ShowForm()
    products = catalog.shop_products(current_user.shop, include_hidden=True)
    form.product_ids.choices = [SelectChoice(product.id, product.title) for product in products]
    form.tiktok_account_id.choices = [SelectChoice(0, "None")] + [
        SelectChoice(account.id, f"@{account.handle}") for account in tiktok.user_accounts(current_user)
    ]
    if form.validate_on_submit():
        draft = live.ShowDraft(form.title.data, form.description.data or "", form.starts_at(),
                               form.playback_url.data, form.product_ids.data, form.tiktok_account_id.data or None)
        try:
            stream = live.create_show(current_user.shop, draft)
        except FieldError as error:
            form.product_ids.errors = [*form.product_ids.errors, error.message]
        else:
            flash(f"“{stream.title}” is ready. Go live when you are.", "success")
            return redirect_to(url_for("shows.studio", stream_id=stream.id))
    return render("shows/new.html", form=form, has_products=bool(products), status=422 if form.errors else 200)


def _studio_context(stream) -> dict:  # noqa: ANN001
    return {"stream": stream, "stats": live.stats(stream),
            "feed": console_chat.console_feed(stream, live.comments(stream, limit=console_chat.FEED_LIMIT)),
            "viewers": live.active_viewers(stream), "orders": live.stream_orders(stream)}


@bp.get("/<int:stream_id>")
def studio(stream_id: int):
    stream = live.owned_stream(current_user, stream_id)
    return render("shows/studio.html", **_studio_context(stream))


@bp.get("/<int:stream_id>/refresh")
def refresh(stream_id: int):
    """Every live region of the stream interface, out of band (the 5 s poll while the socket is down)."""
    stream = live.owned_stream(current_user, stream_id)
    return render("shows/_refresh.html", oob=True, **_studio_context(stream))


@bp.post("/<int:stream_id>/<any('go-live', 'end', 'save', 'delete'):action>")
def change(stream_id: int, action: str):
    stream = live.owned_stream(current_user, stream_id)
    try:
        if action == "go-live":
            live.go_live(stream)
            flash("You are live.", "success")
        elif action == "end":
            live.end_show(stream)
        elif action == "save":
            saved = live.save_show(stream)
            flash(f"“{stream.title}” is saved for on-demand viewing.", "success")
            return redirect_to(url_for("live.replay", saved_id=saved.id))
        else:
            if stream.awaiting_decision and (asked := ask_first(
                    "delete_show", "Delete stream", url_for("shows.studio", stream_id=stream.id))):
                return asked
            live.delete_show(stream)
            flash(f"“{stream.title}” has ended and was not saved.", "info")
            return redirect_to(url_for("shows.index"))
    except FieldError as error:
        flash(error.message, "error")
    return redirect_to(url_for("shows.studio", stream_id=stream.id))


@bp.post("/<int:stream_id>/pin")
def pin(stream_id: int):
    stream = live.owned_stream(current_user, stream_id)
    try:
        live.pin_product(stream, optional_int(request.form.get("product_id")))
    except FieldError as error:
        flash(error.message, "error")
    return redirect_to(url_for("shows.studio", stream_id=stream.id))


@bp.post("/<int:stream_id>/comments/<int:comment_id>/delete")
def delete_comment(stream_id: int, comment_id: int):
    stream = live.owned_stream(current_user, stream_id)
    live.delete_comment(stream, comment_id)
    if wants_fragment():
        return "", 204  # the pushed removal takes it off every page, this one included
    return redirect_to(url_for("shows.studio", stream_id=stream.id))


@bp.post("/<int:stream_id>/mute/<int:user_id>")
def mute(stream_id: int, user_id: int):
    stream = live.owned_stream(current_user, stream_id)
    try:
        live.mute_user(stream, user_id)
        flash("Muted for this show: their comments are refused.", "success")
    except FieldError as error:
        flash(error.message, "error")
    return redirect_to(url_for("shows.studio", stream_id=stream.id))
