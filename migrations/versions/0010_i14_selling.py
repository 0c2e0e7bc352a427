"""selling formats: flash sales, cart holds and the waitlist, auctions and their bids, giveaways, TikTok chat claims

Revision ID: 0010_i14_selling
Revises: 0009_i13a_ingest
Create Date: 2026-12-01 03:15:04.693878

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_i14_selling'
down_revision = '0009_i13a_ingest'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('auctions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stream_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('start_price_cents', sa.Integer(), nullable=False),
    sa.Column('increment_cents', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=12), nullable=False),
    sa.Column('extend_seconds', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('current_price_cents', sa.Integer(), nullable=True),
    sa.Column('leader_id', sa.Integer(), nullable=True),
    sa.Column('leader_max_cents', sa.Integer(), nullable=True),
    sa.Column('bid_count', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("mode IN ('sudden_death', 'extend')", name=op.f('ck_auctions_mode_known')),
    sa.CheckConstraint("status IN ('open', 'closed', 'cancelled')", name=op.f('ck_auctions_status_known')),
    sa.CheckConstraint('increment_cents >= 1', name=op.f('ck_auctions_increment_positive')),
    sa.ForeignKeyConstraint(['leader_id'], ['users.id'], name=op.f('fk_auctions_leader_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_auctions_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_auctions_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['stream_id'], ['live_streams.id'], name=op.f('fk_auctions_stream_id_live_streams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auctions'))
    )
    with op.batch_alter_table('auctions', schema=None) as batch_op:
        batch_op.create_index('ix_auctions_status_ends', ['status', 'ends_at'], unique=False)
        batch_op.create_index('ix_auctions_stream_started', ['stream_id', 'started_at'], unique=False)

    op.create_table('chat_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stream_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('tiktok_user_id', sa.BigInteger(), nullable=False),
    sa.Column('handle', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('held', 'unlinked', 'redeemed', 'refused')", name=op.f('ck_chat_claims_status_known')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_chat_claims_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['stream_id'], ['live_streams.id'], name=op.f('fk_chat_claims_stream_id_live_streams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_chat_claims_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_claims')),
    sa.UniqueConstraint('code', name=op.f('uq_chat_claims_code'))
    )
    with op.batch_alter_table('chat_claims', schema=None) as batch_op:
        batch_op.create_index('ix_chat_claims_stream_created', ['stream_id', 'created_at'], unique=False)

    op.create_table('flash_sales',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stream_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('price_cents', sa.Integer(), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('units_sold', sa.Integer(), nullable=False),
    sa.Column('per_buyer_limit', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('per_buyer_limit >= 1', name=op.f('ck_flash_sales_per_buyer_limit_positive')),
    sa.CheckConstraint('units_sold >= 0 AND units_sold <= units', name=op.f('ck_flash_sales_units_sold_range')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_flash_sales_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['stream_id'], ['live_streams.id'], name=op.f('fk_flash_sales_stream_id_live_streams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flash_sales'))
    )
    with op.batch_alter_table('flash_sales', schema=None) as batch_op:
        batch_op.create_index('ix_flash_sales_open_ends', ['closed_at', 'ends_at'], unique=False)
        batch_op.create_index('ix_flash_sales_stream_started', ['stream_id', 'started_at'], unique=False)

    op.create_table('giveaways',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stream_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('require_comment', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('require_follow', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('seed_hash', sa.String(length=64), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('winner_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'drawn', 'cancelled')", name=op.f('ck_giveaways_status_known')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_giveaways_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_giveaways_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['stream_id'], ['live_streams.id'], name=op.f('fk_giveaways_stream_id_live_streams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['winner_id'], ['users.id'], name=op.f('fk_giveaways_winner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_giveaways'))
    )
    with op.batch_alter_table('giveaways', schema=None) as batch_op:
        batch_op.create_index('ix_giveaways_stream_started', ['stream_id', 'started_at'], unique=False)

    op.create_table('selling_settings',
    sa.Column('stream_id', sa.Integer(), nullable=False),
    sa.Column('hold_minutes', sa.Integer(), nullable=False),
    sa.Column('claim_word', sa.String(length=20), nullable=False),
    sa.CheckConstraint('hold_minutes BETWEEN 1 AND 120', name=op.f('ck_selling_settings_hold_minutes_range')),
    sa.ForeignKeyConstraint(['stream_id'], ['live_streams.id'], name=op.f('fk_selling_settings_stream_id_live_streams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('stream_id', name=op.f('pk_selling_settings'))
    )
    op.create_table('waitlist_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stream_id', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('served_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_waitlist_entries_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['stream_id'], ['live_streams.id'], name=op.f('fk_waitlist_entries_stream_id_live_streams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_waitlist_entries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries'))
    )
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.create_index('ix_waitlist_entries_product_waiting', ['product_id', 'served_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_waitlist_entries_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_waitlist_entries_one_waiting', ['product_id', 'user_id'], unique=True, sqlite_where=sa.text('served_at IS NULL'), postgresql_where=sa.text('served_at IS NULL'))

    op.create_table('auction_bids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('auction_id', sa.Integer(), nullable=False),
    sa.Column('bidder_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=6), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('price_after_cents', sa.Integer(), nullable=False),
    sa.Column('leader_after_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('bid', 'max', 'proxy')", name=op.f('ck_auction_bids_kind_known')),
    sa.ForeignKeyConstraint(['auction_id'], ['auctions.id'], name=op.f('fk_auction_bids_auction_id_auctions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['bidder_id'], ['users.id'], name=op.f('fk_auction_bids_bidder_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['leader_after_id'], ['users.id'], name=op.f('fk_auction_bids_leader_after_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auction_bids'))
    )
    with op.batch_alter_table('auction_bids', schema=None) as batch_op:
        batch_op.create_index('ix_auction_bids_auction_id', ['auction_id', 'id'], unique=False)

    op.create_table('giveaway_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('giveaway_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['giveaway_id'], ['giveaways.id'], name=op.f('fk_giveaway_entries_giveaway_id_giveaways'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_giveaway_entries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_giveaway_entries')),
    sa.UniqueConstraint('giveaway_id', 'user_id', name=op.f('uq_giveaway_entries_giveaway_id_user_id'))
    )
    with op.batch_alter_table('cart_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_cart_items_held_until'), ['held_until'], unique=False)

    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flash_sale_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_order_items_flash_sale_id'), ['flash_sale_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_order_items_flash_sale_id_flash_sales'), 'flash_sales', ['flash_sale_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_order_items_flash_sale_id_flash_sales'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_order_items_flash_sale_id'))
        batch_op.drop_column('flash_sale_id')

    with op.batch_alter_table('cart_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cart_items_held_until'))
        batch_op.drop_column('held_until')

    op.drop_table('giveaway_entries')
    with op.batch_alter_table('auction_bids', schema=None) as batch_op:
        batch_op.drop_index('ix_auction_bids_auction_id')

    op.drop_table('auction_bids')
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_waitlist_entries_one_waiting', sqlite_where=sa.text('served_at IS NULL'), postgresql_where=sa.text('served_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_waitlist_entries_user_id'))
        batch_op.drop_index('ix_waitlist_entries_product_waiting')

    op.drop_table('waitlist_entries')
    op.drop_table('selling_settings')
    with op.batch_alter_table('giveaways', schema=None) as batch_op:
        batch_op.drop_index('ix_giveaways_stream_started')

    op.drop_table('giveaways')
    with op.batch_alter_table('flash_sales', schema=None) as batch_op:
        batch_op.drop_index('ix_flash_sales_stream_started')
        batch_op.drop_index('ix_flash_sales_open_ends')

    op.drop_table('flash_sales')
    with op.batch_alter_table('chat_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_claims_stream_created')

    op.drop_table('chat_claims')
    with op.batch_alter_table('auctions', schema=None) as batch_op:
        batch_op.drop_index('ix_auctions_stream_started')
        batch_op.drop_index('ix_auctions_status_ends')

    op.drop_table('auctions')
