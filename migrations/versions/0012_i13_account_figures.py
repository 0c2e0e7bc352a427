"""i13 account figures: the profiles' watchtime and the VIP count kept on the account row (backfilled)

Revision ID: 0012_i13_account_figures
Revises: 0011_i10_video
Create Date: 2026-12-01

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012_i13_account_figures'
down_revision = '0011_i10_video'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tiktok_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('total_watch_seconds', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('vip_viewers', sa.BigInteger(), server_default='0', nullable=False))
    # The backfill is the recount of services/account_figures.py as it stands at this revision,
    # written out here because a migration must not change when that module does. The two kept
    # by 0009 are recounted too, so every figure starts from the same moment.
    op.execute(
        "UPDATE tiktok_accounts SET "
        "total_viewers = (SELECT count(*) FROM viewer_profiles p WHERE p.account_id = tiktok_accounts.id), "
        "total_coins = (SELECT coalesce(sum(p.total_coins), 0) FROM viewer_profiles p "
        "WHERE p.account_id = tiktok_accounts.id), "
        "total_watch_seconds = (SELECT coalesce(sum(p.total_watch_seconds), 0) FROM viewer_profiles p "
        "WHERE p.account_id = tiktok_accounts.id), "
        "vip_viewers = (SELECT count(*) FROM viewer_profiles p "
        "WHERE p.account_id = tiktok_accounts.id AND p.vip_tier_id IS NOT NULL)"
    )


def downgrade():
    with op.batch_alter_table('tiktok_accounts', schema=None) as batch_op:
        batch_op.drop_column('vip_viewers')
        batch_op.drop_column('total_watch_seconds')
