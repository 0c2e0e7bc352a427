"""i13 the overview's LIVE picture at scale: one LIVE's sessions, gifts and interactions by index

Revision ID: 0013_i13_live_picture_indexes
Revises: 0012_i13_account_figures
Create Date: 2026-12-01

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013_i13_live_picture_indexes'
down_revision = '0012_i13_account_figures'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('viewer_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_viewer_sessions_account_started', ['account_id', 'started_at'], unique=False)
        batch_op.create_index('ix_viewer_sessions_account_room_started', ['account_id', 'room_id', 'started_at'],
                              unique=False)
        batch_op.create_index('ix_viewer_sessions_account_room_last', ['account_id', 'room_id', 'last_activity_at'],
                              unique=False)
    with op.batch_alter_table('viewer_gift_history', schema=None) as batch_op:
        batch_op.create_index('ix_viewer_gift_history_account_room_sent', ['account_id', 'room_id', 'sent_at'],
                              unique=False)
    with op.batch_alter_table('viewer_interactions', schema=None) as batch_op:
        batch_op.create_index('ix_viewer_interactions_account_room_occurred', ['account_id', 'room_id', 'occurred_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('viewer_interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_viewer_interactions_account_room_occurred')
    with op.batch_alter_table('viewer_gift_history', schema=None) as batch_op:
        batch_op.drop_index('ix_viewer_gift_history_account_room_sent')
    with op.batch_alter_table('viewer_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_viewer_sessions_account_room_last')
        batch_op.drop_index('ix_viewer_sessions_account_room_started')
        batch_op.drop_index('ix_viewer_sessions_account_started')
