"""i13 one foreign key per viewer row: (viewer_id, account_id) to the profile, instead of one on each

Revision ID: 0017_i13_viewer_row_keys
Revises: 0016_i13_overview_indexes
Create Date: 2026-12-03

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0017_i13_viewer_row_keys'
down_revision = '0016_i13_overview_indexes'
branch_labels = None
depends_on = None

#: The tables of a viewer's rows, each with a key to the profile and one to the account.
TABLES = ("viewer_sessions", "viewer_gift_streaks", "viewer_gift_history", "viewer_interactions",
          "viewer_activity_heatmap")

# The profile's unique index is a plain CREATE / DROP INDEX, not a batch: a SQLite batch that
# recreated viewer_profiles would drop the search index's triggers (models/viewer_search.py). The
# other tables are recreated on SQLite (which cannot alter a table's keys), altered in place on
# PostgreSQL.


def upgrade():
    op.create_index('uq_viewer_profiles_id_account', 'viewer_profiles', ['id', 'account_id'], unique=True)
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f'fk_{table}_account_id_tiktok_accounts', type_='foreignkey')
            batch.drop_constraint(f'fk_{table}_viewer_id_viewer_profiles', type_='foreignkey')
            batch.create_foreign_key(f'fk_{table}_viewer_id_viewer_profiles', 'viewer_profiles',
                                     ['viewer_id', 'account_id'], ['id', 'account_id'], ondelete='CASCADE')
            if table == "viewer_sessions":  # a prefix of its four other indexes on account_id
                batch.drop_index('ix_viewer_sessions_account_id')


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            if table == "viewer_sessions":
                batch.create_index('ix_viewer_sessions_account_id', ['account_id'], unique=False)
            batch.drop_constraint(f'fk_{table}_viewer_id_viewer_profiles', type_='foreignkey')
            batch.create_foreign_key(f'fk_{table}_viewer_id_viewer_profiles', 'viewer_profiles',
                                     ['viewer_id'], ['id'], ondelete='CASCADE')
            batch.create_foreign_key(f'fk_{table}_account_id_tiktok_accounts', 'tiktok_accounts',
                                     ['account_id'], ['id'], ondelete='CASCADE')
    op.drop_index('uq_viewer_profiles_id_account', table_name='viewer_profiles')
