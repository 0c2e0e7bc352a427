"""i13 message ids keyed by (account, message id), without a key of their own or a foreign key

Revision ID: 0018_i13_message_claims
Revises: 0017_i13_viewer_row_keys
Create Date: 2026-12-03

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0018_i13_message_claims'
down_revision = '0017_i13_viewer_row_keys'
branch_labels = None
depends_on = None

# The writer inserts one row per event: the surrogate key's index and the foreign key's check were
# about half of each insert on PostgreSQL (docs/benchmarks.md). Recreated on SQLite (which cannot
# alter a table's keys), altered in place on PostgreSQL; the rows are kept.


def upgrade():
    with op.batch_alter_table('ingest_messages') as batch:
        batch.drop_constraint('fk_ingest_messages_account_id_tiktok_accounts', type_='foreignkey')
        batch.drop_constraint('uq_ingest_messages_account_id_message_id', type_='unique')
        batch.drop_constraint('pk_ingest_messages', type_='primary')
        batch.drop_column('id')
        batch.create_primary_key('pk_ingest_messages', ['account_id', 'message_id'])


def downgrade():
    with op.batch_alter_table('ingest_messages') as batch:
        batch.drop_constraint('pk_ingest_messages', type_='primary')
        batch.add_column(sa.Column('id', sa.Integer(), sa.Identity(), nullable=False))
        batch.create_primary_key('pk_ingest_messages', ['id'])
        batch.create_unique_constraint('uq_ingest_messages_account_id_message_id', ['account_id', 'message_id'])
        batch.create_foreign_key('fk_ingest_messages_account_id_tiktok_accounts', 'tiktok_accounts',
                                 ['account_id'], ['id'], ondelete='CASCADE')
