"""Public live pages: the index (live now, upcoming, replays), a show, a replay; the audience's
reactions and chat."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, make_response, redirect, request, session, url_for
from flask_login import current_user

from extensions import db, limiter, login_manager
from forms.live import CommentForm
from models import SavedStream
from services import live, presence
from services.errors import FieldError
from services.presence import VISITOR_COOKIE
from web import redirect_to, render, wants_fragment

bp = Blueprint("live", __name__, url_prefix="/live")


def _comment_rate_key() -> str:
    return f"comment:{current_user.id}" if current_user.is_authenticated else f"comment:{request.remote_addr}"


#: What a logged-out viewer did on a show (a like, a typed message): kept through the login, so
#: they come back to the show with it done (the like) or ready to send (the message).
INTENT_KEY = "show_intent"


def _login_keeping(stream_id: int, **intent: str):  # noqa: ANN202
    session[INTENT_KEY] = {"stream_id": stream_id, **intent}
    return login_manager.unauthorized()


def _resume_intent(stream) -> CommentForm:  # noqa: ANN001
    """Apply a like kept through the login, and give back the comment form with a kept message."""
    intent = session.get(INTENT_KEY)
    if not current_user.is_authenticated or not intent or intent.get("stream_id") != stream.id:
        return CommentForm()
    session.pop(INTENT_KEY)
    kind = intent.get("reaction")
    if kind in live.REACTIONS and stream.status == "live" and live.reaction_of(stream, current_user) != kind:
        live.react(stream, current_user, kind)
        flash(f"You {'liked' if kind == 'like' else 'disliked'} “{stream.title}”.", "success")
    if intent.get("comment") and stream.status == "live":
        flash("Your message is ready: press Send to post it.", "info")
        return CommentForm(data={"comment": intent["comment"]})
    return CommentForm()


@bp.get("/")
def index():
    return render("live/index.html", **live.listing())


@bp.get("/<int:stream_id>")
def show(stream_id: int):
    stream = live.get_public_stream(stream_id)
    if stream.saved is not None:
        return redirect(url_for("live.replay", saved_id=stream.saved.id))
    form = _resume_intent(stream)
    response = render("live/show.html", stream=stream, stats=live.stats(stream), comments=live.comments(stream),
                      reaction=live.reaction_of(stream, current_user), form=form)
    if not current_user.is_authenticated and not presence.visitor_from_cookie(request.cookies.get(VISITOR_COOKIE)):
        # One anonymous person, many tabs: the cookie makes them one viewer (signed: see presence).
        response.set_cookie(VISITOR_COOKIE, presence.new_visitor_cookie(), max_age=365 * 86400, httponly=True,
                            samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


@bp.get("/<int:stream_id>/refresh")
def refresh(stream_id: int):
    """Every live region of the public page as out-of-band fragments (the poll while the socket is down)."""
    stream = live.get_public_stream(stream_id)
    response = make_response(render("live/_refresh.html", stream=stream, stats=live.stats(stream),
                                    comments=live.comments(stream), oob=True))
    return response


@bp.post("/<int:stream_id>/react/<kind>")
# Every reaction is pushed to every viewer: a generous limit, but not a way to flood the show.
@limiter.limit("10 per 10 seconds", key_func=lambda: f"react:{getattr(current_user, 'id', request.remote_addr)}")
def react(stream_id: int, kind: str):
    if not current_user.is_authenticated:
        return _login_keeping(stream_id, reaction=kind)
    stream = live.get_public_stream(stream_id)
    try:
        reaction = live.react(stream, current_user, kind)
    except FieldError as error:
        flash(error.message, "error")
        return redirect_to(url_for("live.show", stream_id=stream.id))
    if wants_fragment():
        return render("live/_reactions.html", stream=stream, stats=live.stats(stream), reaction=reaction)
    return redirect_to(url_for("live.show", stream_id=stream.id))


@bp.post("/<int:stream_id>/comments")
@limiter.limit("3 per 2 seconds;8 per 10 seconds", key_func=_comment_rate_key)
def comment(stream_id: int):
    if not current_user.is_authenticated:
        return _login_keeping(stream_id, comment=request.form.get("comment", "").strip()[:600])
    stream = live.get_public_stream(stream_id)
    form = CommentForm()
    error = None
    if form.validate():
        try:
            live.post_comment(stream, current_user, form.comment.data)
            form = CommentForm(formdata=None)
        except FieldError as problem:
            error = problem.message
    else:
        error = "The form had expired. Reload the page and try again."
    if wants_fragment():
        if error:
            return render("live/_comment_form.html", stream=stream, form=form, error=error, status=422)
        # Sent: the form is left as the viewer has it, since they may already be typing the next
        # message (app.js clears what was sent); the line itself arrives by push, as for everyone.
        return "", 204
    if error:
        flash(error, "error")
    return redirect_to(url_for("live.show", stream_id=stream.id))


@bp.get("/replays/<int:saved_id>")
def replay(saved_id: int):
    saved = db.get_or_404(SavedStream, saved_id)
    stream = saved.stream
    return render("live/replay.html", saved=saved, stream=stream, comments=live.comments(stream, limit=None))
