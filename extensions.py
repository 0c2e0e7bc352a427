"""Extension singletons, created unbound and initialised in `create_app`."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sock import Sock
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase, registry


class UTCDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so the value is stored as naive UTC
    and given its zone back on load. Naive datetimes are refused rather than guessed at.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        value = utc_to_store(value)
        return value.replace(tzinfo=None) if value is not None and dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return utc_loaded(value)


def utc_to_store(value: datetime | None) -> datetime | None:
    """An aware datetime in UTC, as it is stored (None stays None; a naive one is refused rather
    than guessed at). The column type above and the ingest writer's plain statements both use it."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware UTC datetime")
    return value.astimezone(UTC)


def utc_loaded(value: datetime | None) -> datetime | None:
    """A stored time as the backend returns it (naive UTC on SQLite) made an aware UTC datetime."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the only kind we store)."""
    return datetime.now(UTC)


def render_migration_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Write `UTCDateTime` into migrations as the plain column type it creates."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_in_migrations(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic compares every table and index but the viewer search's (models/viewer_search.py)."""
    from models.viewer_search import include_name

    return include_name(name, type_, parent_names)


db = SQLAlchemy(model_class=Base)
# Batch mode lets later migrations alter SQLite tables (which cannot ALTER most things in place).
# A batch alter of viewer_profiles recreates it without the search triggers: recreate them after.
migrate = Migrate(render_as_batch=True, compare_type=True, render_item=render_migration_item,
                  include_name=include_in_migrations)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
sock = Sock()
