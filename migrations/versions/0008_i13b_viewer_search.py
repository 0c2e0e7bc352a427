"""viewer search: a trigram index for the studio's substring search (SQLite FTS5, PostgreSQL pg_trgm)

Revision ID: 0008_i13b_viewer_search
Revises: 0007_i13b_ingest_workers
Create Date: 2026-12-01

The same objects as models/viewer_search.py creates with the schema, written out here so this
migration stays what it was when the model changes.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_i13b_viewer_search'
down_revision = '0007_i13b_ingest_workers'
branch_labels = None
depends_on = None

SQLITE = (
    "CREATE VIRTUAL TABLE viewer_search USING fts5(handle_folded, nickname_folded, "
    "content='viewer_profiles', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER viewer_search_insert AFTER INSERT ON viewer_profiles BEGIN "
    "INSERT INTO viewer_search(rowid, handle_folded, nickname_folded) "
    "VALUES (new.id, new.handle_folded, new.nickname_folded); END",
    "CREATE TRIGGER viewer_search_delete AFTER DELETE ON viewer_profiles BEGIN "
    "INSERT INTO viewer_search(viewer_search, rowid, handle_folded, nickname_folded) "
    "VALUES ('delete', old.id, old.handle_folded, old.nickname_folded); END",
    "CREATE TRIGGER viewer_search_update AFTER UPDATE OF handle_folded, nickname_folded ON viewer_profiles "
    "WHEN old.handle_folded IS NOT new.handle_folded OR old.nickname_folded IS NOT new.nickname_folded BEGIN "
    "INSERT INTO viewer_search(viewer_search, rowid, handle_folded, nickname_folded) "
    "VALUES ('delete', old.id, old.handle_folded, old.nickname_folded); "
    "INSERT INTO viewer_search(rowid, handle_folded, nickname_folded) "
    "VALUES (new.id, new.handle_folded, new.nickname_folded); END",
    # The profiles already there.
    "INSERT INTO viewer_search(viewer_search) VALUES ('rebuild')",
)
POSTGRESQL = (
    # A trusted extension: the database's owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_viewer_profiles_handle_trgm ON viewer_profiles USING gin (handle_folded gin_trgm_ops)",
    "CREATE INDEX ix_viewer_profiles_nickname_trgm ON viewer_profiles USING gin (nickname_folded gin_trgm_ops)",
)


def upgrade():
    for statement in (POSTGRESQL if op.get_bind().dialect.name == 'postgresql' else SQLITE):
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_viewer_profiles_nickname_trgm")
        op.execute("DROP INDEX IF EXISTS ix_viewer_profiles_handle_trgm")
        return
    for trigger in ('viewer_search_update', 'viewer_search_delete', 'viewer_search_insert'):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS viewer_search")
