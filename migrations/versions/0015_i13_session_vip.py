"""i13 each session carries its viewer's VIP status, for the feed's "VIP joined the LIVE" (backfilled)

Revision ID: 0015_i13_session_vip
Revises: 0014_i13_last_seen_hours
Create Date: 2026-12-01

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_i13_session_vip'
down_revision = '0014_i13_last_seen_hours'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('viewer_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vip', sa.Boolean(), server_default=sa.false(), nullable=False))
    # A VIP is a profile with a tier (services/account_figures.py's rule at this revision).
    op.execute("UPDATE viewer_sessions SET vip = true WHERE viewer_id IN "
               "(SELECT id FROM viewer_profiles WHERE vip_tier_id IS NOT NULL)")
    with op.batch_alter_table('viewer_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_viewer_sessions_account_room_vip_started',
                              ['account_id', 'room_id', 'vip', 'started_at'], unique=False)


def downgrade():
    with op.batch_alter_table('viewer_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_viewer_sessions_account_room_vip_started')
        batch_op.drop_column('vip')
