"""live video: the ingest's state per show, go live when video arrives, the recording and thumbnail

Revision ID: 0011_i10_video
Revises: 0010_i14_selling
Create Date: 2026-12-01

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011_i10_video'
down_revision = '0010_i14_selling'
branch_labels = None
depends_on = None

def upgrade():
    with op.batch_alter_table('live_streams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('video_state', sa.String(length=10), server_default='offline', nullable=False))
        batch_op.add_column(sa.Column('video_publisher', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('video_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('video_seen_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('auto_go_live', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('recording_started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('recording_file', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('thumbnail_file', sa.String(length=200), nullable=True))

def downgrade():
    with op.batch_alter_table('live_streams', schema=None) as batch_op:
        for column in ('thumbnail_file', 'recording_file', 'recording_started_at', 'auto_go_live',
                       'video_seen_at', 'video_changed_at', 'video_publisher', 'video_state'):
            batch_op.drop_column(column)
