"""Demo data for `make run`: idempotent, safe to run on every start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from extensions import db
from models import Shop, User
from services import accounts

DEMO_PASSWORD = "streamshop-demo"  # noqa: S105 - published in the README on purpose


@dataclass(frozen=True)
class KnownViewer:
    id: int
    handle: str
    nickname: str


#: Two viewers the demo streamer knows already; the demo LIVE (ingest/demo.py) features them.
KNOWN_BIRTHDAY = KnownViewer(7_100_000_001, "bella.bday", "Bella 🎂")
KNOWN_GIFTER = KnownViewer(7_100_000_002, "max.gifts", "Max Gifts")


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    username: str
    display_name: str
    password: str = DEMO_PASSWORD


#: The seller is also the streamer: Maya sells from her shop's live show while she is LIVE on TikTok
#: as @mayas.makers, so one login shows the console and the studio of the same LIVE.
DEMO_ACCOUNTS = (
    DemoAccount("seller", "seller@streamshop.example", "demo-seller", "Maya's Makers"),
    DemoAccount("shopper", "shopper@streamshop.example", "demo-shopper", "Sam Shopper"),
)
DEMO_SHOP = ("Maya's Makers", "mayas-makers")


def _ensure_user(account: DemoAccount) -> User:
    user = db.session.scalar(sa.select(User).where(User.username == account.username))
    if user is None:
        user = accounts.register_user(account.email, account.username, account.display_name, account.password)
    return user


#: The demo shop's catalogue: title, price in cents, stock, description.
DEMO_PRODUCTS = (
    ("Speckled Ceramic Mug", 2800, 24, "Wheel-thrown stoneware with a speckled oatmeal glaze. Holds 350 ml."),
    ("Linen Tote Bag", 3200, 30, "Heavy washed linen with long handles and an inside pocket."),
    ("Hand-poured Soy Candle", 2200, 40, "Cedar and fig, about 45 hours of burn time, in a reusable amber jar."),
    ("Beeswax Food Wraps, Set of 3", 1800, 50, "Small, medium and large wraps that replace cling film."),
    ("Macramé Plant Hanger", 2600, 15, "Knotted cotton cord, 90 cm long, fits pots up to 18 cm."),
    ("Walnut Serving Board", 5400, 10, "Solid black walnut finished with food-safe oil. 40 × 20 cm."),
    ("Hand-knit Beanie", 3400, 18, "Merino wool rib knit, one size, in forest green."),
    ("Botanical Print, A4", 1500, 60, "Giclée print of a pressed fern on 300 gsm cotton rag paper."),
    ("Enamel Pin Set", 1200, 80, "Three hard-enamel pins: a mug, a needle and a fern."),
    ("Leather Card Wallet", 3900, 20, "Vegetable-tanned leather, four card slots, hand stitched."),
    ("Stoneware Planter", 3600, 12, "Drainage hole and saucer; a matte white glaze outside, raw clay inside."),
    ("Lavender Soap Bar", 900, 100, "Cold-process olive oil soap with lavender from the garden."),
)


def _seed_products(shop: Shop) -> None:
    from services import catalog
    from services.demo_images import product_picture

    if catalog.shop_products(shop, include_hidden=True):
        return
    for title, price_cents, stock, description in DEMO_PRODUCTS:
        draft = catalog.ProductDraft(title, description, price_cents, "USD", stock)
        catalog.create_product(shop, draft, product_picture(title))


def _seed_shows(shop: Shop, shopper: User, account_id: int) -> None:
    """One saved replay with its chat, and one show live right now with a pinned product, linked
    to the seller's TikTok account (its LIVE's chat, gifts and claims reach the show)."""
    import uuid
    from datetime import timedelta

    from extensions import utcnow
    from models import LiveStream
    from services import catalog, checkout, live, presence

    if db.session.scalar(sa.select(LiveStream.id).where(LiveStream.shop_id == shop.id).limit(1)):
        return
    by_title = {product.title: product for product in catalog.shop_products(shop)}
    now = utcnow()
    aired = now - timedelta(days=2)
    replay = live.create_show(shop, live.ShowDraft(
        "Winter Candle Night", "Hand-poured candles and cosy things, made live.", None, None,
        [by_title[title].id for title in ("Hand-poured Soy Candle", "Speckled Ceramic Mug",
                                          "Beeswax Food Wraps, Set of 3", "Linen Tote Bag")]))
    live.go_live(replay, aired)
    # The replay's numbers match its story: the shopper and three guests watched, the shopper
    # chatted, liked and bought the mug during the show. A short show (under three minutes), so its
    # recording (`flask demo-video`) is small; the pinned products are its chapters.
    presence.join(replay.id, shopper.id, None, aired + timedelta(seconds=4 * 1))
    for guest in range(3):
        presence.join(replay.id, None, f"demo-guest-{guest}", aired + timedelta(seconds=4 * (5 + guest * 4)))
    for minute, text in ((2, "Hello from Leeds!"), (9, "That cedar and fig candle looks lovely"),
                         (17, "How long does one burn?"), (31, "Just bought the mug, thank you!")):
        live.post_comment(replay, shopper, text, aired + timedelta(seconds=4 * (minute)))
    live.react(replay, shopper, "like", aired + timedelta(seconds=4 * 3))
    mug = checkout.buy_now_checkout(by_title["Speckled Ceramic Mug"].id, 1, replay.id, "live")
    bought = aired + timedelta(seconds=4 * 30)
    for order in checkout.place_order(shopper, mug, uuid.uuid4().hex, mug.fingerprint(), bought).orders:
        order.paid_at = bought
    db.session.commit()
    for guest in range(3):
        presence.leave(replay.id, None, f"demo-guest-{guest}", aired + timedelta(seconds=4 * (25 + guest * 5)))
    presence.leave(replay.id, shopper.id, None, aired + timedelta(seconds=4 * 41))
    live.pin_product(replay, by_title["Hand-poured Soy Candle"].id, aired + timedelta(seconds=4 * 6))
    live.pin_product(replay, by_title["Speckled Ceramic Mug"].id, aired + timedelta(seconds=4 * 26))
    live.end_show(replay, aired + timedelta(seconds=4 * 42))
    live.save_show(replay, aired + timedelta(seconds=4 * 43))

    show = live.create_show(shop, live.ShowDraft(
        "Spring Pottery Drop", "New glazes straight from the kiln. Ask me anything in the chat!", None, None,
        [by_title[title].id for title in ("Speckled Ceramic Mug", "Stoneware Planter", "Walnut Serving Board",
                                          "Macramé Plant Hanger", "Hand-knit Beanie", "Botanical Print, A4")],
        tiktok_account_id=account_id))
    live.go_live(show, now - timedelta(minutes=12))
    live.pin_product(show, by_title["Speckled Ceramic Mug"].id)
    live.post_comment(show, shopper, "Those speckles are gorgeous", now - timedelta(minutes=5))


def seed_demo() -> list[DemoAccount]:
    """Create (or leave as they are) the demo seller, who is also the demo TikTok streamer, with a
    stocked shop and shows, and a shopper."""
    users = {account.role: _ensure_user(account) for account in DEMO_ACCOUNTS}
    seller = users["seller"]
    account = _seed_tiktok(seller)
    if seller.shop is None and not db.session.scalar(sa.select(Shop.id).where(Shop.slug == DEMO_SHOP[1])):
        accounts.open_shop(seller, *DEMO_SHOP)
    if seller.shop is not None:
        _seed_products(seller.shop)
        _seed_shows(seller.shop, users["shopper"], account.id)
    return list(DEMO_ACCOUNTS)


#: The demo seller's linked TikTok account; `make run` replays a generated LIVE into it.
DEMO_TIKTOK_HANDLE = "mayas.makers"


#: The big gifter's past gifts (name, units, coins a unit, TikTok's gift id as in ingest/gifts.py):
#: the rows behind the profile's totals.
GIFTER_GIFTS = (("Galaxy", 1, 1000, 11046), ("Money Gun", 1, 500, 7168), ("Money Gun", 1, 500, 7168),
                ("Money Gun", 1, 500, 7168), ("Money Gun", 1, 500, 7168), ("Corgi", 1, 299, 6267),
                ("Corgi", 1, 299, 6267), ("Hand Hearts", 5, 100, 5660), ("Doughnut", 3, 30, 5879),
                ("Rose", 12, 1, 5655))
#: When the known viewers come to the LIVEs (weekday, UTC hour): Friday and Saturday evenings,
#: Sunday afternoons, the odd Wednesday, so the heatmap has weeks of shape.
VISIT_SLOTS = ((4, 19), (4, 20), (5, 20), (5, 21), (6, 15), (6, 16), (2, 19), (4, 21))


def _seed_history(account, profile, now) -> None:  # noqa: ANN001
    """Past visits of a known viewer as the ingester would have stored them: heatmap buckets for
    each visit and, for the big gifter, the gift rows that add up to the profile's coins."""
    from datetime import timedelta

    from models import ViewerActivity, ViewerGift
    from services.local_time import local_time

    visits = []
    day = now - timedelta(days=3)
    while len(visits) < profile.total_visits:
        for weekday, hour in VISIT_SLOTS:
            if day.weekday() == weekday and len(visits) < profile.total_visits:
                visits.append(day.replace(hour=hour, minute=10, second=0, microsecond=0))
        day -= timedelta(days=1)
    gifts = GIFTER_GIFTS if profile.total_coins else ()
    buckets: dict[tuple[int, int], list[int]] = {}
    for index, visit in enumerate(visits):
        local = local_time(visit, account.time_zone)
        bucket = buckets.setdefault((local.weekday(), local.hour), [0, 0])
        bucket[0] += 4  # a join, a few comments and likes
        if index < len(gifts):
            name, units, coins, gift_id = gifts[index]
            db.session.add(ViewerGift(viewer_id=profile.id, account_id=account.id, room_id=None, gift_id=gift_id,
                                      gift_name=name, diamond_count=coins, quantity=units, coins=coins * units,
                                      sent_at=visit + timedelta(minutes=20)))
            bucket[1] += coins * units
    for (weekday, hour), (hits, coins) in buckets.items():
        db.session.add(ViewerActivity(viewer_id=profile.id, account_id=account.id, weekday=weekday, hour=hour,
                                      hits=hits, coins=coins))


def _seed_tiktok(streamer: User):  # noqa: ANN202 - a TikTokAccount, imported late like the rest
    """Link the demo seller's TikTok account, and two viewers it knows already: one whose
    birthday is today and a regular whose next big gift makes them a Silver VIP."""
    from datetime import timedelta

    from extensions import utcnow
    from models import TikTokAccount, ViewerProfile
    from services import account_figures, tiktok, vip
    from services.local_time import local_time

    account = db.session.scalar(sa.select(TikTokAccount).where(TikTokAccount.handle == DEMO_TIKTOK_HANDLE))
    if account is None:
        account = tiktok.link_account(streamer, DEMO_TIKTOK_HANDLE, "Europe/London")
    now = utcnow()
    today = local_time(now, account.time_zone).date()
    known = {
        KNOWN_BIRTHDAY.id: (KNOWN_BIRTHDAY, {"birthday_month": today.month, "birthday_day": today.day,
                                               "birthday_year": today.year - 25, "total_visits": 3,
                                               "total_watch_seconds": 5400}),
        KNOWN_GIFTER.id: (KNOWN_GIFTER, {"total_visits": 30, "total_watch_seconds": 25 * 3600,
                                         "total_coins": sum(coins * units for _, units, coins, _ in GIFTER_GIFTS),
                                         "total_gifts": sum(units for _, units, _, _ in GIFTER_GIFTS)}),
    }
    for user_id, (viewer, values) in known.items():
        profile = db.session.scalar(sa.select(ViewerProfile).where(
            ViewerProfile.account_id == account.id, ViewerProfile.tiktok_user_id == user_id))
        if profile is None:
            profile = ViewerProfile(account_id=account.id, tiktok_user_id=user_id, handle=viewer.handle,
                                    handle_folded=viewer.handle, nickname=viewer.nickname,
                                    nickname_folded=viewer.nickname.casefold(), first_seen_at=now - timedelta(days=40),
                                    last_seen_at=now - timedelta(days=3), **values)
            db.session.add(profile)
            db.session.flush()
            _seed_history(account, profile, now)
        elif "birthday_month" in values:
            # The demo's birthday viewer has their birthday on the day the demo runs.
            profile.birthday_month, profile.birthday_day = values["birthday_month"], values["birthday_day"]
    db.session.flush()
    ids = db.session.scalars(sa.select(ViewerProfile.id).where(ViewerProfile.account_id == account.id))
    vip.reevaluate_vip(account, ids, now)
    account_figures.recount(account.id)  # the known viewers were written here, not by the writer
    db.session.commit()
    return account


# --- the demo's video (`flask demo-video`, run by `make run`) ---------------------------------------

DEMO_LIVE_TITLE = "Spring Pottery Drop"
DEMO_REPLAY_TITLE = "Winter Candle Night"


def prepare_demo_video(instance_path: Path) -> Path | None:
    """Encode the demo's video once: a looping clip for the live show (the show's title, a running
    timer and a tone; `make run` publishes it with `-c copy` through the real ingest, so it costs
    little CPU) and the replay's own recording. Writes `demo-video.txt` (clip, then the live
    show's stream key) for gunicorn.conf.py, and returns it; None when video is off or the demo
    shows are not there."""
    from models import LiveStream
    from services import video

    if not video.video_on():
        return None
    shows = {show.title: show for show in db.session.scalars(sa.select(LiveStream).where(
        LiveStream.title.in_((DEMO_LIVE_TITLE, DEMO_REPLAY_TITLE))))}
    show, replay = shows.get(DEMO_LIVE_TITLE), shows.get(DEMO_REPLAY_TITLE)
    if show is None or show.status != "live":
        return None
    media = video.media_root()
    clip = media / "demo" / "live-loop.flv"
    if not clip.exists():
        clip.parent.mkdir(parents=True, exist_ok=True)
        video.encode_test_pattern(clip, show.title, seconds=20, size="854x480", container="flv")
    if replay is not None and replay.recording_file is None:
        recording = media / "recordings" / f"show-{replay.id}.mp4"
        recording.parent.mkdir(parents=True, exist_ok=True)
        video.encode_test_pattern(recording, replay.title, seconds=replay.duration_seconds(), size="640x360",
                                  container="mp4")
        thumbnail = media / "thumbnails" / f"show-{replay.id}.jpg"
        thumbnail.parent.mkdir(parents=True, exist_ok=True)
        video.take_thumbnail(recording, thumbnail, at=5)
        replay.recording_file, replay.thumbnail_file = recording.name, thumbnail.name
        replay.recording_started_at = replay.started_at
        db.session.commit()
    listing = instance_path / "demo-video.txt"
    listing.write_text(f"{clip}\n{show.stream_key}\n")
    listing.chmod(0o600)
    return listing
