"""Accounts and shops: registration, authentication, opening a shop."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import Shop, User
from realtime import publish
from realtime.channels import user_channel
from realtime.fragments import render_oob
from services.errors import FieldError


def find_user_by_login(identifier: str) -> User | None:
    """The user whose email or username is `identifier` (case-insensitive)."""
    identifier = identifier.strip().lower()
    column = User.email if "@" in identifier else User.username
    return db.session.scalar(sa.select(User).where(column == identifier))


def authenticate(identifier: str, password: str) -> User | None:
    user = find_user_by_login(identifier)
    if user is None or not user.check_password(password):
        return None
    return user


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
