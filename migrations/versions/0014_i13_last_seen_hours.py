"""i13 profiles per hour of their last visit, kept per account for "active in the last 30 days" (backfilled)

Revision ID: 0014_i13_last_seen_hours
Revises: 0013_i13_live_picture_indexes
Create Date: 2026-12-01

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014_i13_last_seen_hours'
down_revision = '0013_i13_live_picture_indexes'
branch_labels = None
depends_on = None

# The hour since the Unix epoch (UTC) of a profile's last visit, as services/account_figures.py
# counts it at this revision (written out here: a migration must not change when that module does).
LAST_SEEN_HOUR = {
    "sqlite": "CAST(strftime('%s', substr(last_seen_at, 1, 19)) AS INTEGER) / 3600",
    "postgresql": "CAST(floor(extract(epoch FROM last_seen_at) / 3600) AS BIGINT)",
}


def upgrade():
    op.create_table('viewer_last_seen_hours',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('hour', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('viewers', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['tiktok_accounts.id'],
                            name=op.f('fk_viewer_last_seen_hours_account_id_tiktok_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'hour', name=op.f('pk_viewer_last_seen_hours'))
    )
    hour = LAST_SEEN_HOUR[op.get_bind().dialect.name]
    op.execute(f"INSERT INTO viewer_last_seen_hours (account_id, hour, viewers) "  # noqa: S608 - our own SQL
               f"SELECT account_id, {hour}, count(*) FROM viewer_profiles GROUP BY 1, 2")


def downgrade():
    op.drop_table('viewer_last_seen_hours')
