"""studio indexes: one covering index for the viewer search, the id as tie-breaker in the sort indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SORTS = {
    'coins': 'total_coins',
    'watchtime': 'total_watch_seconds',
    'visits': 'total_visits',
    'last_seen': 'last_seen_at',
    'first_seen': 'first_seen_at',
    'comments': 'total_comments',
    'likes': 'total_likes',
}


def upgrade():
    with op.batch_alter_table('viewer_profiles', schema=None) as batch_op:
        batch_op.drop_index('ix_viewer_profiles_account_handle')
        batch_op.drop_index('ix_viewer_profiles_account_nickname')
        batch_op.create_index('ix_viewer_profiles_account_search',
                              ['account_id', 'handle_folded', 'nickname_folded', 'id'], unique=False)
        for name, column in SORTS.items():
            batch_op.drop_index(f'ix_viewer_profiles_account_{name}')
            batch_op.create_index(f'ix_viewer_profiles_account_{name}', ['account_id', column, 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('viewer_profiles', schema=None) as batch_op:
        for name, column in SORTS.items():
            batch_op.drop_index(f'ix_viewer_profiles_account_{name}')
            batch_op.create_index(f'ix_viewer_profiles_account_{name}', ['account_id', column], unique=False)
        batch_op.drop_index('ix_viewer_profiles_account_search')
        batch_op.create_index('ix_viewer_profiles_account_nickname', ['account_id', 'nickname_folded'], unique=False)
        batch_op.create_index('ix_viewer_profiles_account_handle', ['account_id', 'handle_folded'], unique=False)
