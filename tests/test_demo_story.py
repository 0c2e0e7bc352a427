"""The demo tells one story: the seller is the TikTok streamer and the live show is linked to their
TikTok account; the replay's numbers match its chat and its orders, the big gifter's coins are
gift rows, the heatmap has weeks of shape, the shopper's order is in their history."""

from __future__ import annotations

import sqlalchemy as sa

from extensions import db
from ingest.gifts import GIFTS
from models import LiveStream, SavedStream, TikTokAccount, User, ViewerGift, ViewerProfile
from services import live, orders, studio, video
from services.demo import DEMO_ACCOUNTS, DEMO_TIKTOK_HANDLE, GIFTER_GIFTS, KNOWN_GIFTER, seed_demo


def test_the_demo_history_hangs_together(app_ctx):
    seed_demo()
    seed_demo()  # idempotent: nothing doubles
    replay = db.session.scalar(sa.select(SavedStream))
    assert (replay.unique_viewers, replay.peak_viewers, replay.comments, replay.likes, replay.orders) == (4, 4, 4, 1, 1)
    assert replay.revenue_cents == 2800
    shopper = db.session.scalar(sa.select(User).where(User.username == "demo-shopper"))
    [order] = orders.buyer_orders(shopper)
    assert [item.title for item in order.items] == ["Speckled Ceramic Mug"] and order.status == "paid"
    # The order is marked on the replay's timeline where it was placed in the show (with the
    # thank-you comment just after it), not when the demo was seeded.
    show = db.session.get(LiveStream, replay.stream_id)
    [marker] = [moment for moment in video.replay_moments(show) if moment.kind == "order"]
    assert marker.seconds == video.video_seconds(show, order.created_at) == 120 < show.duration_seconds()
    assert order.created_at == order.paid_at < show.ended_at
    account = db.session.scalar(sa.select(TikTokAccount).where(TikTokAccount.handle == DEMO_TIKTOK_HANDLE))
    seller = db.session.scalar(sa.select(User).where(User.username == "demo-seller"))
    assert account.owner_id == seller.id  # the demo seller is the demo TikTok streamer
    assert {demo.username for demo in DEMO_ACCOUNTS} == {"demo-seller", "demo-shopper"}
    show = db.session.get(LiveStream, live.live_shows_for_tiktok_accounts([account.id])[account.id])
    assert (show.title, show.shop_id, show.status) == ("Spring Pottery Drop", seller.shop.id, "live")
    gifter = db.session.scalar(sa.select(ViewerProfile).where(ViewerProfile.tiktok_user_id == KNOWN_GIFTER.id))
    coins, units = db.session.execute(sa.select(sa.func.sum(ViewerGift.coins), sa.func.sum(ViewerGift.quantity))
                                      .where(ViewerGift.viewer_id == gifter.id)).one()
    assert (coins, units) == (gifter.total_coins, gifter.total_gifts) == (4200, 27)
    assert all(GIFTS[name][:2] == (gift_id, price) for name, _, price, gift_id in GIFTER_GIFTS)  # real prices
    heatmap = studio.account_heatmap(account)
    lit = sum(1 for row in heatmap.hits for hits in row if hits)
    assert lit >= 6
