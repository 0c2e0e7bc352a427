"""ingest workers: the processes that run TikTok clients, so the accounts are spread over them

Revision ID: 0007_i13b_ingest_workers
Revises: 0006_i12b_sessions
Create Date: 2026-12-01

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007_i13b_ingest_workers'
down_revision = '0006_i12b_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ingest_workers',
    sa.Column('holder', sa.String(length=120), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('holder', name=op.f('pk_ingest_workers'))
    )
    with op.batch_alter_table('ingest_workers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ingest_workers_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('ingest_workers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ingest_workers_expires_at'))
    op.drop_table('ingest_workers')
