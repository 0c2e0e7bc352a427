"""Accounts and shops: registration, authentication, login sessions, passwords, opening a shop."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import cache

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db, utcnow
from models import LoginSession, Shop, User
from realtime import publish
from realtime.channels import user_channel
from realtime.fragments import render_oob
from services.errors import FieldError


def _could_be_a_login(identifier: str) -> bool:
    """Whether `identifier` could name an account at all (too long or control characters: no)."""
    return 0 < len(identifier) <= 254 and identifier.isprintable()


def find_user_by_login(identifier: str) -> User | None:
    """The user whose email or username is `identifier` (case-insensitive)."""
    identifier = identifier.strip().lower()
    if not _could_be_a_login(identifier):
        return None
    column = User.email if "@" in identifier else User.username
    return db.session.scalar(sa.select(User).where(column == identifier))


def login_account_key(identifier: str) -> str:
    """One name for the account `identifier` names, whether by email or username, so both share one
    rate bucket; an identifier that names no account is its own bucket (and costs the same)."""
    user = find_user_by_login(identifier)
    if user is not None:
        return f"user:{user.id}"
    return "name:" + hashlib.sha256(identifier.strip().lower().encode(errors="replace")).hexdigest()[:32]


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_hex(16), method=method)


def authenticate(identifier: str, password: str) -> User | None:
    """The user if the password is theirs. An unknown user costs the same hash check as a known one,
    so the answer's timing does not tell which accounts exist."""
    user = find_user_by_login(identifier)
    if user is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return None
    return user if user.check_password(password) else None


# --- login sessions -------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _session_lifetime() -> timedelta:
    return timedelta(days=current_app.config["LOGIN_SESSION_DAYS"])


def start_session(user: User) -> None:
    """Open a login session for one browser; `user.get_id()` then names it in the cookies."""
    token = secrets.token_urlsafe(32)
    db.session.execute(
        sa.delete(LoginSession).where(LoginSession.user_id == user.id,
                                      LoginSession.created_at < utcnow() - _session_lifetime())
    )
    db.session.add(LoginSession(user_id=user.id, token_hash=_token_hash(token)))
    db.session.commit()
    user.login_token = token


def user_for_session(cookie_id: str) -> User | None:
    """The user a cookie's id ("<user id>:<token>") names, if that login session is still open."""
    user_id, _, token = cookie_id.partition(":")
    if not user_id.isascii() or not user_id.isdigit() or len(user_id) > 18 or not token:
        return None
    user = db.session.scalar(
        # The shop in the same query: every request of a logged-in user comes through here.
        sa.select(User).options(sa.orm.joinedload(User.shop)).join(LoginSession, LoginSession.user_id == User.id)
        .where(User.id == int(user_id), LoginSession.token_hash == _token_hash(token),
               LoginSession.created_at >= utcnow() - _session_lifetime())
    )
    if user is not None:
        user.login_token = token
    return user


def end_session(user: User) -> None:
    """Close the login session `user` was loaded with: that browser's cookies stop working."""
    if user.login_token:
        db.session.execute(sa.delete(LoginSession).where(LoginSession.user_id == user.id,
                                                         LoginSession.token_hash == _token_hash(user.login_token)))
        db.session.commit()
    user.login_token = None


def end_all_sessions(user: User) -> int:
    """Close every login session of `user`, in every browser; returns how many there were."""
    ended = db.session.execute(sa.delete(LoginSession).where(LoginSession.user_id == user.id)).rowcount
    db.session.commit()
    user.login_token = None
    return ended


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Set a new password once the current one is proven; every login session ends (the caller
    starts a new one for the browser that made the change)."""
    if not user.check_password(current_password):
        raise FieldError("current_password", "That is not your current password.")
    user.set_password(new_password)
    db.session.execute(sa.delete(LoginSession).where(LoginSession.user_id == user.id))
    db.session.commit()
    user.login_token = None


def register_user(
    email: str, username: str, display_name: str, password: str, *, is_admin: bool = False
) -> User:
    """Create an account; raises `FieldError` when the email or username is taken."""
    email, username = email.strip().lower(), username.strip().lower()
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise FieldError("email", "An account with this email already exists.")
    if db.session.scalar(sa.select(User.id).where(User.username == username)):
        raise FieldError("username", "This username is taken.")
    user = User(email=email, username=username, display_name=display_name.strip(), is_admin=is_admin)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # Someone registered the same email or username between our check and our insert.
        db.session.rollback()
        raise FieldError("username", "This username or email was just taken.") from None
    return user


def open_shop(user: User, name: str, slug: str) -> Shop:
    """Make `user` a seller with a new shop; raises `FieldError` if they have one or the slug is taken."""
    if user.shop is not None:
        raise FieldError("name", "You already have a shop.")
    slug = slug.strip().lower()
    if db.session.scalar(sa.select(Shop.id).where(Shop.slug == slug)):
        raise FieldError("slug", "This address is taken; choose another.")
    shop = Shop(owner=user, name=name.strip(), slug=slug)
    db.session.add(shop)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise FieldError("slug", "This address was just taken; choose another.") from None
    publish_header(user)
    return shop


def publish_header(user: User) -> None:
    """Refresh the navigation in every open tab of `user` (it changes when they become a seller)."""
    publish(user_channel(user.id), render_oob("_nav.html", user=user))
