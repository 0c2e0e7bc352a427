"""i13 an open session's update can be HOT: the chart's index is by ended_at, not last_activity_at

Revision ID: 0021_i13_sessions_hot_updates
Revises: 0020_i13_partial_profile_indexes
Create Date: 2026-12-03

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021_i13_sessions_hot_updates'
down_revision = '0020_i13_partial_profile_indexes'
branch_labels = None
depends_on = None

#: As models.tiktok.SESSION_FILLFACTOR when this migration was written (a migration never imports the models).
FILLFACTOR = 80


def upgrade():
    op.drop_index('ix_viewer_sessions_account_room_last', table_name='viewer_sessions')
    op.create_index('ix_viewer_sessions_account_room_ended', 'viewer_sessions', ['account_id', 'room_id', 'ended_at'],
                    unique=False)
    if op.get_context().dialect.name == 'postgresql':
        # Pages written from now on keep the room; existing ones get it when they are rewritten.
        op.execute(f'ALTER TABLE viewer_sessions SET (fillfactor = {FILLFACTOR})')


def downgrade():
    if op.get_context().dialect.name == 'postgresql':
        op.execute('ALTER TABLE viewer_sessions RESET (fillfactor)')
    op.drop_index('ix_viewer_sessions_account_room_ended', table_name='viewer_sessions')
    op.create_index('ix_viewer_sessions_account_room_last', 'viewer_sessions',
                    ['account_id', 'room_id', 'last_activity_at'], unique=False)
