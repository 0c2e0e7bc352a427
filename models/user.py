"""Accounts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db, utcnow

if TYPE_CHECKING:
    from models.shop import Shop


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, so uniqueness is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    username: Mapped[str] = mapped_column(sa.String(30), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(60))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    # A seller is a user who owns a shop; loaded with the user because the nav needs it on every page.
    shop: Mapped[Shop | None] = relationship(back_populates="owner", lazy="selectin", uselist=False)

    @property
    def is_seller(self) -> bool:
        return self.shop is not None

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(
            password, method=current_app.config["PASSWORD_HASH_METHOD"]
        )

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    #: The signed-in browser this instance was loaded for (set by `services.accounts`); see `get_id`.
    login_token = None  # str | None; a plain attribute, not a column

    def get_id(self) -> str:
        """What the session and remember cookies hold: the user and their browser's login session, so
        deleting that session (logout, "log out everywhere", a new password) makes the cookies worthless."""
        return f"{self.id}:{self.login_token or ''}"

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class LoginSession(db.Model):
    """One signed-in browser. Its cookies carry the token; only the token's hash is stored, so a
    copy of the database signs nobody in."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
