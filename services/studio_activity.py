"""The studio overview's picture of the current (or last) LIVE: an activity feed of what viewers
did, per-minute series of viewers and coins drawn as SVG charts, and the top gifters. Read from
what the ingester stores (sessions, interactions, gifts), so it is the same after a reload."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from extensions import db
from models import TikTokAccount, ViewerGift, ViewerInteraction, ViewerProfile, ViewerSession
from services.local_time import age_on, is_birthday_today, local_time

#: The charts cover at most this many of the LIVE's latest minutes.
CHART_MINUTES = 60
#: Birthday arrivals the activity feed keeps pinned at its top for the whole LIVE.
BIRTHDAYS_KEPT = 5


@dataclass(frozen=True)
class ActivityItem:
    at: datetime
    kind: str  # comment, gift, follow, share, vip, birthday
    handle: str
    viewer_id: int
    text: str


@dataclass(frozen=True)
class Series:
    """One value per minute; `points` are "x,y" pairs scaled to a width x height chart."""

    label: str
    values: list[int]
    start: datetime | None
    width: int = 600
    height: int = 120

    @property
    def peak(self) -> int:
        return max(self.values, default=0)

    @property
    def total(self) -> int:
        return sum(self.values)

    @property
    def points(self) -> str:
        if not self.values:
            return ""
        top = max(self.peak, 1)
        step = self.width / max(len(self.values) - 1, 1)
        return " ".join(f"{round(i * step, 1)},{round(self.height - value * self.height / top, 1)}"
                        for i, value in enumerate(self.values))

    def bars(self) -> list[tuple[float, float, float, int]]:
        """(x, y, width, value) of one bar a minute."""
        top = max(self.peak, 1)
        width = self.width / max(len(self.values), 1)
        return [(round(i * width, 1), round(self.height - value * self.height / top, 1), round(max(width - 1, 1), 1),
                 value) for i, value in enumerate(self.values)]


@dataclass(frozen=True)
class Gifter:
    viewer_id: int
    handle: str
    coins: int


@dataclass(frozen=True)
class LivePicture:
    room_id: str | None
    feed: list[ActivityItem]
    viewers: Series
    coins: Series
    gifters: list[Gifter]


def _latest_room(account: TikTokAccount) -> str | None:
    if account.room_id:
        return account.room_id
    return db.session.scalar(sa.select(ViewerSession.room_id).where(ViewerSession.account_id == account.id)
                             .order_by(ViewerSession.started_at.desc()).limit(1))


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def live_picture(account: TikTokAccount, feed_limit: int = 30) -> LivePicture:
    """The feed, charts and top gifters of the account's current LIVE, or of its last one."""
    room = _latest_room(account)
    if room is None:
        return LivePicture(None, [], Series("Viewers", [], None), Series("Coins", [], None), [])
    return LivePicture(room, _feed(account, room, feed_limit), *_series(account, room), _gifters(account, room))


def _feed(account: TikTokAccount, room: str, limit: int) -> list[ActivityItem]:
    interactions = db.session.execute(
        sa.select(ViewerInteraction.occurred_at, ViewerInteraction.kind, ViewerInteraction.content,
                  ViewerProfile.handle, ViewerProfile.id)
        .join(ViewerProfile, ViewerProfile.id == ViewerInteraction.viewer_id)
        .where(ViewerInteraction.account_id == account.id, ViewerInteraction.room_id == room,
               ViewerInteraction.kind != "like")
        .order_by(ViewerInteraction.occurred_at.desc(), ViewerInteraction.id.desc()).limit(limit)
    ).all()
    gifts = db.session.execute(
        sa.select(ViewerGift.sent_at, ViewerGift.gift_name, ViewerGift.quantity, ViewerGift.coins,
                  ViewerProfile.handle, ViewerProfile.id)
        .join(ViewerProfile, ViewerProfile.id == ViewerGift.viewer_id)
        .where(ViewerGift.account_id == account.id, ViewerGift.room_id == room)
        .order_by(ViewerGift.sent_at.desc(), ViewerGift.id.desc()).limit(limit)
    ).all()
    # The LIVE's VIPs' sessions, by the VIP status each session carries (services/vip.py keeps
    # it): the newest entries of one index, however rare VIPs are among the LIVE's viewers.
    joins = db.session.execute(
        sa.select(ViewerSession.started_at, ViewerProfile.handle, ViewerProfile.id, ViewerProfile.vip_tier_id)
        .join(ViewerProfile, ViewerProfile.id == ViewerSession.viewer_id)
        .where(ViewerSession.account_id == account.id, ViewerSession.room_id == room,
               ViewerSession.vip == sa.true())
        .order_by(ViewerSession.started_at.desc()).limit(limit)
    ).all()
    texts = {"follow": "followed you", "share": "shared the LIVE"}
    items = [ActivityItem(at, kind, handle, viewer_id, content if kind == "comment" else texts.get(kind, kind))
             for at, kind, content, handle, viewer_id in interactions]
    items += [ActivityItem(at, "gift", handle, viewer_id, gift_text(name, quantity, coins))
              for at, name, quantity, coins, handle, viewer_id in gifts]
    items += [ActivityItem(at, "vip", handle, viewer_id, "VIP joined the LIVE") for at, handle, viewer_id, _ in joins]
    # Who came on their birthday is pinned at the top of the feed for the whole LIVE (the newest few
    # of them), so the streamer can greet them whenever they look: in time order, a busy chat would
    # push the arrival out (or down, out of sight) within seconds. The rest follow, newest first.
    birthdays = _birthdays(account, room, min(BIRTHDAYS_KEPT, limit))
    items.sort(key=lambda item: item.at, reverse=True)
    return birthdays + items[:limit - len(birthdays)]


def gift_text(name: str, quantity: int, coins: int) -> str:
    """How a gift reads in a feed: "sent Rose ×5 (5 coins)"."""
    return f"sent {name}{f' ×{quantity}' if quantity > 1 else ''} ({coins:,} coins)"


def _birthdays(account: TikTokAccount, room: str, limit: int) -> list[ActivityItem]:
    """Viewers who came to the LIVE on their birthday (in the account's zone), at their arrival.

    Driven from the birthdays on the LIVE's days (few, from the birthday index), then each one's
    first session in this LIVE (the viewer's sessions index): the LIVE's sessions are not walked."""
    here = (ViewerSession.account_id == account.id, ViewerSession.room_id == room)
    first, last = db.session.execute(sa.select(
        sa.select(sa.func.min(ViewerSession.started_at)).where(*here).scalar_subquery(),
        sa.select(sa.func.max(ViewerSession.started_at)).where(*here).scalar_subquery())).one()
    if first is None:
        return []
    start, day = local_time(first, account.time_zone).date(), local_time(last, account.time_zone).date()
    wanted: set[tuple[int, int]] = set()
    while day >= start and len(wanted) < 3:  # a LIVE spans a day or two: its latest days
        wanted.add((day.month, day.day))
        day -= timedelta(days=1)
    if (2, 28) in wanted:
        wanted.add((2, 29))  # celebrated on 28 February in other years
    # Each candidate's first session here is a correlated lookup on the viewer's sessions index, so
    # both planners start from the few birthdays (joined, SQLite started from the LIVE's sessions).
    arrived = (sa.select(sa.func.min(ViewerSession.started_at))
               .where(ViewerSession.viewer_id == ViewerProfile.id, *here).scalar_subquery())
    arrivals = db.session.execute(
        sa.select(arrived, ViewerProfile.id, ViewerProfile.handle,
                  ViewerProfile.birthday_month, ViewerProfile.birthday_day, ViewerProfile.birthday_year)
        .where(ViewerProfile.account_id == account.id, ViewerProfile.is_blocked.is_(False),
               ViewerProfile.birthday_month.in_(sorted({month for month, _ in wanted})),
               sa.tuple_(ViewerProfile.birthday_month, ViewerProfile.birthday_day).in_(sorted(wanted)))
    ).all()
    items = []
    for at, viewer_id, handle, month, day_of_month, year in arrivals:
        if at is None or not is_birthday_today(month, day_of_month, at, account.time_zone):
            continue
        age = age_on(year, month, day_of_month, local_time(at, account.time_zone).date())
        items.append(ActivityItem(at, "birthday", handle, viewer_id,
                                  f"turns {age} today" if age is not None else "has a birthday today"))
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


def _series(account: TikTokAccount, room: str) -> tuple[Series, Series]:
    """Viewers present in each minute (a session spans its start to its last activity) and coins
    gifted in each minute, over the LIVE's latest CHART_MINUTES minutes.

    Only what those minutes need is read: the LIVE's first and last moments are index seeks, then
    its open sessions, the sessions that ended in the window and the gifts sent in it are index
    ranges (a LIVE with tens of thousands of viewers is not read whole on every refresh of the
    overview)."""
    sessions_here = (ViewerSession.account_id == account.id, ViewerSession.room_id == room)
    gifts_here = (ViewerGift.account_id == account.id, ViewerGift.room_id == room)
    # A closed session ended at its last activity; an open one (ended_at NULL) is read whole: its
    # viewer is in the LIVE now, so it is in the window anyway.
    open_here = (*sessions_here, ViewerSession.ended_at.is_(None))
    bounds = db.session.execute(sa.select(
        sa.select(sa.func.min(ViewerSession.started_at)).where(*sessions_here).scalar_subquery(),
        sa.select(sa.func.max(ViewerSession.ended_at)).where(*sessions_here).scalar_subquery(),
        sa.select(sa.func.min(ViewerGift.sent_at)).where(*gifts_here).scalar_subquery(),
        sa.select(sa.func.max(ViewerGift.sent_at)).where(*gifts_here).scalar_subquery(),
    )).one()
    open_sessions = db.session.execute(sa.select(ViewerSession.started_at, ViewerSession.last_activity_at)
                                       .where(*open_here)).all()
    starts = [moment for moment in (bounds[0], bounds[2]) if moment is not None]
    ends = [moment for moment in (bounds[1], bounds[3], *(last for _, last in open_sessions)) if moment is not None]
    if not ends:
        return Series("Viewers", [], None), Series("Coins", [], None)
    last = _minute(max(ends))
    window = last - timedelta(minutes=CHART_MINUTES - 1)
    first = max(_minute(min(starts)), window)
    sessions = open_sessions + db.session.execute(sa.select(ViewerSession.started_at, ViewerSession.ended_at)
                                                  .where(*sessions_here, ViewerSession.ended_at >= first)).all()
    gifts = db.session.execute(sa.select(ViewerGift.sent_at, ViewerGift.coins)
                               .where(*gifts_here, ViewerGift.sent_at >= first)).all()
    minutes = int((last - first).total_seconds() // 60) + 1
    # Each session adds one from its first minute to its last: marked at both ends, then summed.
    changes = [0] * (minutes + 1)
    for start, end in sessions:
        low = max(int((_minute(start) - first).total_seconds() // 60), 0)
        high = min(int((_minute(end) - first).total_seconds() // 60), minutes - 1)
        if low <= high:
            changes[low] += 1
            changes[high + 1] -= 1
    viewers = list(itertools.accumulate(changes[:minutes]))
    coins = [0] * minutes
    for sent, amount in gifts:
        index = int((_minute(sent) - first).total_seconds() // 60)
        if 0 <= index < minutes:
            coins[index] += amount
    return Series("Viewers", viewers, first), Series("Coins", coins, first)


def _gifters(account: TikTokAccount, room: str, limit: int = 5) -> list[Gifter]:
    # The LIVE's gifts are summed per viewer first; only the top few viewers' handles are read.
    top = (sa.select(ViewerGift.viewer_id, sa.func.sum(ViewerGift.coins).label("coins"))
           .where(ViewerGift.account_id == account.id, ViewerGift.room_id == room)
           .group_by(ViewerGift.viewer_id).order_by(sa.desc("coins"), ViewerGift.viewer_id).limit(limit).subquery())
    rows = db.session.execute(
        sa.select(ViewerProfile.id, ViewerProfile.handle, top.c.coins)
        .join(top, top.c.viewer_id == ViewerProfile.id).order_by(top.c.coins.desc(), ViewerProfile.id)
    ).all()
    return [Gifter(viewer_id, handle, int(coins)) for viewer_id, handle, coins in rows]
