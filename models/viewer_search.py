"""The substring index behind the studio's viewer search (handle or display name contains the term).

No B-tree can seek a substring, so each engine's own trigram index does it:
- SQLite: an FTS5 table with the trigram tokenizer (`viewer_search`), over the folded columns of
  `viewer_profiles` as its external content, kept in step by triggers. A phrase query finds the
  profiles whose handle or name holds the term.
- PostgreSQL: `pg_trgm` (a trusted extension, which the database owner may create) and one GIN
  index per folded column; the planner uses them for `LIKE '%term%'`.

A trigram index needs a term of at least three characters; shorter terms are answered by a
bounded scan (services/studio.py). The objects are created with the schema (`create_all`, for
tests and benchmarks) and by migration 0008; Alembic's comparison leaves them alone
(`is_search_object`), since they are not SQLAlchemy tables or indexes.
"""

from __future__ import annotations

import sqlalchemy as sa

from models.tiktok import ViewerProfile

MIN_TERM = 3  # a trigram index cannot look up fewer characters

SQLITE_CREATE = (
    "CREATE VIRTUAL TABLE viewer_search USING fts5(handle_folded, nickname_folded, "
    "content='viewer_profiles', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER viewer_search_insert AFTER INSERT ON viewer_profiles BEGIN "
    "INSERT INTO viewer_search(rowid, handle_folded, nickname_folded) "
    "VALUES (new.id, new.handle_folded, new.nickname_folded); END",
    "CREATE TRIGGER viewer_search_delete AFTER DELETE ON viewer_profiles BEGIN "
    "INSERT INTO viewer_search(viewer_search, rowid, handle_folded, nickname_folded) "
    "VALUES ('delete', old.id, old.handle_folded, old.nickname_folded); END",
    # Only when a name changes: the ingest upsert sets the columns on every event.
    "CREATE TRIGGER viewer_search_update AFTER UPDATE OF handle_folded, nickname_folded ON viewer_profiles "
    "WHEN old.handle_folded IS NOT new.handle_folded OR old.nickname_folded IS NOT new.nickname_folded BEGIN "
    "INSERT INTO viewer_search(viewer_search, rowid, handle_folded, nickname_folded) "
    "VALUES ('delete', old.id, old.handle_folded, old.nickname_folded); "
    "INSERT INTO viewer_search(rowid, handle_folded, nickname_folded) "
    "VALUES (new.id, new.handle_folded, new.nickname_folded); END",
)
POSTGRESQL_CREATE = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_viewer_profiles_handle_trgm ON viewer_profiles USING gin (handle_folded gin_trgm_ops)",
    "CREATE INDEX ix_viewer_profiles_nickname_trgm ON viewer_profiles USING gin (nickname_folded gin_trgm_ops)",
)


def create(connection: sa.Connection) -> None:
    """Create the index for this connection's engine (after `viewer_profiles` exists)."""
    statements = POSTGRESQL_CREATE if connection.dialect.name == "postgresql" else SQLITE_CREATE
    for statement in statements:
        connection.exec_driver_sql(statement)


def is_search_object(name: str | None, type_: str, parent_names: dict | None = None) -> bool:
    """True for the names this module creates (FTS5 makes its own viewer_search_* tables)."""
    return bool(name) and (name.startswith("viewer_search") or name.endswith("_trgm"))


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's `include_name`: compare everything but the search index."""
    return not is_search_object(name, type_, parent_names)


def phrase(term: str) -> str:
    """An FTS5 phrase query for `term` taken literally (quotes doubled; % and _ are characters)."""
    return '"' + term.replace('"', '""') + '"'


def matching_ids(term: str) -> sa.Select:
    """SQLite: the ids of the profiles whose folded handle or name contains `term` (>= MIN_TERM)."""
    table = sa.table("viewer_search", sa.column("rowid"))
    return sa.select(table.c.rowid).where(sa.literal_column("viewer_search").op("MATCH")(phrase(term)))


def matches(term: str) -> tuple[sa.TableClause, sa.ColumnElement[bool]]:
    """SQLite: the FTS5 table (its `rowid` is the profile id) and the condition that it matches
    `term`, to read matches from the index in its order and join them to the profiles."""
    return sa.table("viewer_search", sa.column("rowid")), sa.literal_column("viewer_search").op("MATCH")(phrase(term))


def count_matches(term: str) -> sa.Select:
    """SQLite: how many profiles of every account match `term`, counted in the index alone."""
    return sa.select(sa.func.count()).select_from(sa.table("viewer_search")).where(
        sa.literal_column("viewer_search").op("MATCH")(phrase(term)))


def drop(connection: sa.Connection) -> None:
    """Drop what dropping `viewer_profiles` leaves behind (the FTS5 table; GIN indexes go with it)."""
    if connection.dialect.name != "postgresql":
        connection.exec_driver_sql("DROP TABLE IF EXISTS viewer_search")


sa.event.listen(ViewerProfile.__table__, "after_create", lambda target, connection, **kw: create(connection))
sa.event.listen(ViewerProfile.__table__, "before_drop", lambda target, connection, **kw: drop(connection))
