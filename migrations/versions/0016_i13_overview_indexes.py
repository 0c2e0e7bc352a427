"""i13 the overview at a million profiles: the LIVE's gifts per viewer and a week's birthdays by handle, from indexes alone

Revision ID: 0016_i13_overview_indexes
Revises: 0015_i13_session_vip
Create Date: 2026-12-01

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016_i13_overview_indexes'
down_revision = '0015_i13_session_vip'
branch_labels = None
depends_on = None

# Plain CREATE / DROP INDEX, not a batch: a SQLite batch that recreated viewer_profiles would drop
# the search index's triggers (models/viewer_search.py).


def upgrade():
    op.drop_index('ix_viewer_profiles_account_birthday', table_name='viewer_profiles')
    op.create_index('ix_viewer_profiles_account_birthday_handle', 'viewer_profiles',
                    ['account_id', 'birthday_month', 'birthday_day', 'is_blocked', 'handle', 'id'], unique=False)
    op.create_index('ix_viewer_gift_history_account_room_viewer', 'viewer_gift_history',
                    ['account_id', 'room_id', 'viewer_id', 'coins'], unique=False)


def downgrade():
    op.drop_index('ix_viewer_gift_history_account_room_viewer', table_name='viewer_gift_history')
    op.drop_index('ix_viewer_profiles_account_birthday_handle', table_name='viewer_profiles')
    op.create_index('ix_viewer_profiles_account_birthday', 'viewer_profiles',
                    ['account_id', 'birthday_month', 'birthday_day'], unique=False)
