"""i13 the profile's birthday, tier and linked-shopper indexes hold only the profiles that have one

Revision ID: 0020_i13_partial_profile_indexes
Revises: 0019_i13_viewer_rows_unkeyed
Create Date: 2026-12-03

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0020_i13_partial_profile_indexes'
down_revision = '0019_i13_viewer_rows_unkeyed'
branch_labels = None
depends_on = None

#: Each index: its columns and the condition of its partial form.
INDEXES = {
    'ix_viewer_profiles_account_birthday_handle': (
        ['account_id', 'birthday_month', 'birthday_day', 'is_blocked', 'handle', 'id'], 'birthday_month IS NOT NULL'),
    'ix_viewer_profiles_account_vip': (['account_id', 'vip_tier_id'], 'vip_tier_id IS NOT NULL'),
    'ix_viewer_profiles_linked_user_id': (['linked_user_id'], 'linked_user_id IS NOT NULL'),
}

# Plain DROP / CREATE INDEX on both engines (a SQLite batch that recreated viewer_profiles would drop
# the search index's triggers: models/viewer_search.py).


def upgrade():
    for name, (columns, condition) in INDEXES.items():
        op.drop_index(name, table_name='viewer_profiles')
        op.create_index(name, 'viewer_profiles', columns, unique=False,
                        postgresql_where=sa.text(condition), sqlite_where=sa.text(condition))


def downgrade():
    for name, (columns, _) in INDEXES.items():
        op.drop_index(name, table_name='viewer_profiles')
        op.create_index(name, 'viewer_profiles', columns, unique=False)
