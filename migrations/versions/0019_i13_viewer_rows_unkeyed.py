"""i13 a viewer's rows without a foreign key to the profile (the account's row lock stands in for it)

Revision ID: 0019_i13_viewer_rows_unkeyed
Revises: 0018_i13_message_claims
Create Date: 2026-12-03

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019_i13_viewer_rows_unkeyed'
down_revision = '0018_i13_message_claims'
branch_labels = None
depends_on = None

#: The tables of a viewer's rows (models.tiktok.VIEWER_ROWS).
TABLES = ("viewer_sessions", "viewer_gift_streaks", "viewer_gift_history", "viewer_interactions",
          "viewer_activity_heatmap")

# PostgreSQL checked each row's key one by one: about a sixth of the server's work for a batch
# (docs/benchmarks.md). The profile's unique index on (id, account_id) existed only for those keys.
# As in 0017, the tables are recreated on SQLite (which cannot drop a key), altered in place on
# PostgreSQL, and the profile's index is a plain DROP / CREATE INDEX (a SQLite batch that recreated
# viewer_profiles would drop the search index's triggers). The rows are kept.


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f'fk_{table}_viewer_id_viewer_profiles', type_='foreignkey')
    op.drop_index('uq_viewer_profiles_id_account', table_name='viewer_profiles')


def downgrade():
    op.create_index('uq_viewer_profiles_id_account', 'viewer_profiles', ['id', 'account_id'], unique=True)
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(f'fk_{table}_viewer_id_viewer_profiles', 'viewer_profiles',
                                     ['viewer_id', 'account_id'], ['id', 'account_id'], ondelete='CASCADE')
