"""The streamer's viewer CRM: the viewer table, overview, profiles, leaderboards, heatmap,
per-viewer delete and the profile editor (exports: services/exports.py; tiers: services/vip.py).
Routes, the benchmark and the tests call these.

Every query is scoped to one linked account; callers have already checked that the current user
owns it (`services.tiktok.owned_account`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from extensions import db
from models import (
    VIEWER_ROWS,
    Order,
    Shop,
    TikTokAccount,
    ViewerActivity,
    ViewerGift,
    ViewerInteraction,
    ViewerProfile,
    ViewerSession,
    VipTier,
    viewer_search,
)
from services import account_figures
from services.errors import FieldError
from services.local_time import age_on, birthday_in_year, local_time, validate_birthday
from services.tiktok import hold_account_exclusively
from services.vip import account_tiers, set_vip

PAGE_SIZE = 50
#: The deepest page a table URL can ask for (50 million rows at 50 a page).
MAX_PAGE = 1_000_000
#: A search or filter with up to this many matches is counted and paged from their ids (see
#: `viewer_page`); a search counts no further than this or its page ("500+ viewers").
MATCHES_LISTED = 500
ACTIVE_DAYS = 30
#: The overview lists this many upcoming birthdays, soonest first, and says how many more there are.
BIRTHDAYS_SHOWN = 20
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

FILTERS = {
    "all": "All viewers",
    "vip": "VIP",
    "active": f"Active in the last {ACTIVE_DAYS} days",
    "favorites": "Favorites",
    "blocked": "Blocked",
    "linked": "Linked customers",
    "birthday": "Birthday set",
}
SORTS = {
    "coins": ("Coins", ViewerProfile.total_coins),
    "watchtime": ("Watchtime", ViewerProfile.total_watch_seconds),
    "visits": ("Visits", ViewerProfile.total_visits),
    "last_seen": ("Last seen", ViewerProfile.last_seen_at),
    "first_seen": ("First seen", ViewerProfile.first_seen_at),
    "comments": ("Comments", ViewerProfile.total_comments),
    "likes": ("Likes", ViewerProfile.total_likes),
}
DIRECTIONS = {"desc": "Highest / newest first", "asc": "Lowest / oldest first"}


# --- the viewer table ------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewerQuery:
    """One view of the viewer table: search, filter (and tier), sort, direction and page.
    It round-trips through the URL, so a view can be bookmarked and shared."""

    search: str = ""
    filter: str = "all"
    tier_id: int | None = None
    sort: str = "coins"
    direction: str = "desc"
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> ViewerQuery:
        """Parse query-string values; anything unknown falls back to the default."""
        try:
            # Bounded: a page past the last shows "no viewers", but must not overflow the OFFSET.
            page = min(max(1, int(args.get("page", "1"))), MAX_PAGE)
        except ValueError:
            page = 1
        filter_name, tier_id = args.get("filter", "all"), None
        if filter_name.startswith("vip-") and filter_name[4:].isdigit() and len(filter_name) <= 13:
            filter_name, tier_id = "vip", int(filter_name[4:])
        return cls(
            search=(args.get("q") or "").strip()[:100],
            filter=filter_name if filter_name in FILTERS else "all",
            tier_id=tier_id,
            sort=args.get("sort") if args.get("sort") in SORTS else "coins",
            direction=args.get("dir") if args.get("dir") in DIRECTIONS else "desc",
            page=page,
        )

    @property
    def filter_value(self) -> str:
        """The filter as the URL and the filter menu spell it ("vip-3" is tier 3 only)."""
        return f"vip-{self.tier_id}" if self.filter == "vip" and self.tier_id else self.filter

    def args(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments for this view (with `changes`), leaving defaults out."""
        merged = {"q": self.search, "filter": self.filter_value, "sort": self.sort, "dir": self.direction,
                  "page": self.page, **changes}
        defaults = {"q": "", "filter": "all", "sort": "coins", "dir": "desc", "page": 1}
        return {key: value for key, value in merged.items() if value != defaults[key]}


@dataclass
class ViewerPage:
    query: ViewerQuery
    viewers: list[ViewerProfile]
    total: int
    page: int
    pages: int
    tiers: dict[int, VipTier]
    #: The total is a lower bound: a search stopped counting at MATCHES_LISTED (it shows as "2,000+").
    more: bool = False

    def page_numbers(self) -> list[int]:
        """The current page ±2, like the original's pager."""
        return list(range(max(1, self.page - 2), min(self.pages, self.page + 2) + 1))


def _term(query: ViewerQuery) -> str:
    """The search as it is matched: folded, without the handle's "@"."""
    return query.search.lstrip("@").casefold()


def _indexed(term: str) -> bool:
    """Whether the term is looked up in the trigram index (long enough for it)."""
    return len(term) >= viewer_search.MIN_TERM


def _sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def _conditions(account: TikTokAccount, query: ViewerQuery, now: datetime, *, search: str = "index") -> list[Any]:
    """The view's conditions. The search's: "index" (SQLite's FTS5 table for a term long enough,
    the LIKE elsewhere), "like" (tested on each row), or "none" (left out)."""
    conditions: list[Any] = [ViewerProfile.account_id == account.id]
    if query.search and search != "none":
        conditions.append(_search_condition(_term(query), indexed=search == "index"))
    match query.filter:
        case "vip":
            conditions.append(ViewerProfile.vip_tier_id == query.tier_id if query.tier_id
                              else account_figures.IS_VIP)
        case "active":
            conditions.append(ViewerProfile.last_seen_at >= now - timedelta(days=ACTIVE_DAYS))
        case "favorites":
            conditions.append(ViewerProfile.is_favorite.is_(True))
        case "blocked":
            conditions.append(ViewerProfile.is_blocked.is_(True))
        case "linked":
            conditions.append(ViewerProfile.linked_user_id.is_not(None))
        case "birthday":
            conditions.append(ViewerProfile.birthday_month.is_not(None))
    return conditions


def _search_condition(term: str, indexed: bool = True) -> Any:
    """Handle or display name contains `term` (folded, so any case; % and _ are plain characters).

    A term of three characters or more is looked up in the trigram index (models/viewer_search.py):
    SQLite's FTS5 table, or PostgreSQL's pg_trgm indexes, which the planner uses for the LIKE below.
    A shorter one cannot be, and is tested on the covering search index instead (see
    `_count_matches` for how its count stays bounded). With `indexed` false, SQLite tests the LIKE
    on each row too (for walking a sort index, see `viewer_page`)."""
    if indexed and _indexed(term) and _sqlite():
        return ViewerProfile.id.in_(viewer_search.matching_ids(term))
    # The pattern is one parameter, with no ESCAPE clause unless the term holds a wildcard (% _)
    # or PostgreSQL's default escape (\), which autoescape then makes literal: in a prepared
    # statement's generic plan PostgreSQL would otherwise rebuild the pattern ('%' || term || '%',
    # then like_escape) for every row it scans, which doubles the time of a search.
    if any(character in term for character in "%_\\"):
        return sa.or_(ViewerProfile.handle_folded.contains(term, autoescape=True),
                      ViewerProfile.nickname_folded.contains(term, autoescape=True))
    pattern = f"%{term}%"
    return sa.or_(ViewerProfile.handle_folded.like(pattern), ViewerProfile.nickname_folded.like(pattern))


def _ordering(query: ViewerQuery) -> list[Any]:
    column = SORTS[query.sort][1]
    # The id breaks ties, so paging through equal values neither repeats nor skips a viewer.
    if query.direction == "asc":
        return [column.asc(), ViewerProfile.id.asc()]
    return [column.desc(), ViewerProfile.id.desc()]


def viewer_page(account: TikTokAccount, query: ViewerQuery, now: datetime) -> ViewerPage:
    """One page (50 rows) of the table; the page number is clamped to the pages there are.

    A search counts its matches up to MATCHES_LISTED, or as far as the page asked for: beyond that
    the table says "500+ viewers" and offers the next page (`more`)."""
    conditions = _conditions(account, query, now)
    counted = max(MATCHES_LISTED, max(1, query.page) * PAGE_SIZE) if query.search else MATCHES_LISTED
    total, matching, more = _count_matches(account, query, conditions, now, counted)
    pages = max(1, math.ceil((total + more) / PAGE_SIZE))  # with more, at least one match after `total`
    page = min(max(1, query.page), pages)
    # Few matches: the page is sorted from their ids (as literals: hundreds of bound parameters
    # cost PostgreSQL more than the lookups). Many, or the whole account: walking the sort index
    # meets a page of matches soon; with few it would test every profile of the account.
    if matching is not None:
        where = [ViewerProfile.id.in_(sa.bindparam("matching", matching, expanding=True, literal_execute=True))]
    elif more and _sqlite() and _indexed(_term(query)) and _walk_is_cheaper(account, _term(query), page):
        where = _conditions(account, query, now, search="like")
    else:
        where = conditions
    viewers = list(db.session.scalars(
        sa.select(ViewerProfile).where(*where).order_by(*_ordering(query))
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    )) if total else []
    clamped = ViewerQuery(query.search, query.filter, query.tier_id, query.sort, query.direction, page)
    return ViewerPage(clamped, viewers, total, page, pages, {tier.id: tier for tier in account_tiers(account.id)},
                      more)


def _walk_is_cheaper(account: TikTokAccount, term: str, page: int) -> bool:
    """SQLite, a search with more matches than counted: is its page found sooner by walking the
    sort index and testing each profile's names (about page x 50 / share of profiles matching),
    or by reading every match from the FTS5 table and sorting them (share x the account's profiles)?
    The share is the FTS5 table's own count (every account's matches, no row read) over every
    account's profiles: a common term (3 % of a million) is a walk of 1,500 rows instead of
    reading 33,000 matches, and a rarer one (0.1 %) the other way round."""
    everyone = db.session.scalar(sa.select(sa.func.sum(TikTokAccount.total_viewers))) or 0
    found = db.session.scalar(viewer_search.count_matches(term)) or 0
    if not everyone or not found:
        return False
    share = found / everyone
    return page * PAGE_SIZE / share < share * account.total_viewers


def matching_viewers(account: TikTokAccount, query: ViewerQuery, now: datetime) -> sa.Select:
    """Every profile of the view's search and filter, in its sort (the exports stream this)."""
    return sa.select(ViewerProfile).where(*_conditions(account, query, now)).order_by(*_ordering(query))


def _count_matches(account: TikTokAccount, query: ViewerQuery, conditions: list[Any], now: datetime,
                   counted: int) -> tuple[int, list[int] | None, bool]:
    """How many profiles match (up to `counted` for a search), their ids when there are at most
    `counted`, and whether the count is a lower bound, in one pass.

    A search lists its first `counted` + 1 matches in no order: a trigram search from its index
    (on SQLite read from the FTS5 table, each match's account checked on its row; on PostgreSQL
    from the GIN indexes' bitmap, whose heap rows are read only until enough are found), a search
    too short for it in the order of the covering search index, which holds all it tests. When
    there are more, it stops counting there (the table says "500+"): counting every match of a
    common term at a million profiles (33,000) cost most of the request. A filter without a search
    lists in id order and counts on after the last one listed (a row-value range on the same
    index). The whole account, and the active filter, are not counted here: their counts are
    kept (services/account_figures.py)."""
    if len(conditions) == 1:  # the whole account
        return account.total_viewers, None, False
    if query.filter == "active" and not query.search:  # kept per hour of the last visit
        return account_figures.active_since(account.id, now - timedelta(days=ACTIVE_DAYS)), None, False
    term = _term(query)
    key = (ViewerProfile.handle_folded, ViewerProfile.nickname_folded, ViewerProfile.id) if query.search \
        else (ViewerProfile.id,)
    if query.search and _indexed(term):
        if _sqlite():  # from the FTS5 table's matches (in its order), joined to the profile rows
            table, match = viewer_search.matches(term)
            statement = (sa.select(ViewerProfile.id).select_from(table)
                         .join(ViewerProfile, ViewerProfile.id == table.c.rowid)
                         .where(match, *_conditions(account, query, now, search="none")))
        else:
            statement = sa.select(ViewerProfile.id).where(*conditions)
        listed = db.session.execute(statement.limit(counted + 1)).all()
    else:
        listed = db.session.execute(sa.select(*key).where(*conditions).order_by(*key).limit(counted + 1)).all()
    if len(listed) <= counted:
        return len(listed), [row[-1] for row in listed], False
    if query.search:
        return counted, None, True
    after_last = sa.tuple_(*key) > sa.tuple_(*(sa.literal(value) for value in listed[-1]))
    rest = sa.select(sa.func.count()).select_from(ViewerProfile).where(*conditions, after_last)
    return len(listed) + (db.session.scalar(rest) or 0), None, False


def account_viewer(account: TikTokAccount, viewer_id: int) -> ViewerProfile | None:
    """The viewer if it belongs to `account`, else None (callers answer 404)."""
    viewer = db.session.get(ViewerProfile, viewer_id)
    return viewer if viewer is not None and viewer.account_id == account.id else None


# --- overview ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    viewers: int
    coins: int
    average_watch_seconds: int
    vip_members: int
    active: int


def overview(account: TikTokAccount, now: datetime) -> Overview:
    """The five stats cards. Four are kept on the account row (services/account_figures.py), so
    they cost nothing however many profiles there are; "active in the last 30 days" depends on
    the clock: it is summed from the profiles kept per hour of their last visit, plus the cut-off's
    own hour from the last-seen index."""
    active = account_figures.active_since(account.id, now - timedelta(days=ACTIVE_DAYS))
    viewers = account.total_viewers
    return Overview(viewers, account.total_coins, round(account.total_watch_seconds / viewers) if viewers else 0,
                    account.vip_viewers, active)


@dataclass(frozen=True)
class InTheLive:
    count: int
    viewers: list[ViewerProfile]


def in_the_live(account: TikTokAccount, limit: int = 20) -> InTheLive | None:
    """Who is in the LIVE right now (an open session in its room), biggest gifters first;
    None when the account is not live."""
    if account.status != "live" or not account.room_id:
        return None
    where = (ViewerSession.account_id == account.id, ViewerSession.open_viewer_id.is_not(None),
             ViewerSession.room_id == account.room_id)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(ViewerSession).where(*where)) or 0
    viewers = list(db.session.scalars(
        sa.select(ViewerProfile).join(ViewerSession, ViewerSession.viewer_id == ViewerProfile.id).where(*where)
        .order_by(ViewerProfile.total_coins.desc(), ViewerProfile.id).limit(limit)
    ))
    return InTheLive(count, viewers)


@dataclass(frozen=True)
class UpcomingBirthday:
    viewer: ViewerProfile
    day: date
    days_until: int
    age: int | None


@dataclass(frozen=True)
class UpcomingBirthdays:
    """The soonest upcoming birthdays (at most the number asked for) and how many there are in all."""

    items: list[UpcomingBirthday]
    total: int

    def __iter__(self) -> Iterator[UpcomingBirthday]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def upcoming_birthdays(account: TikTokAccount, now: datetime, days: int = 7,
                       limit: int | None = None) -> UpcomingBirthdays:
    """Birthdays in the next `days` days (today first, then by handle) in the account's time zone,
    with the age they turn when the year is known; blocked viewers are left out. At most `limit`
    (BIRTHDAYS_SHOWN unless told) are loaded: a million profiles have about a thousand birthdays a
    week, and the overview shows a few and how many more; `total` counts them all."""
    today = local_time(now, account.time_zone).date()
    dates = [today + timedelta(days=offset) for offset in range(days)]
    wanted = {(day.month, day.day) for day in dates}
    if (2, 28) in wanted:
        wanted.add((2, 29))  # celebrated on 28 February in other years
    # Which day each wanted birthday is celebrated on (the first, if a week held it twice), worked
    # out once for the few (month, day) pairs.
    celebrated: dict[tuple[int, int], tuple[int, date]] = {}
    for offset, day in enumerate(dates):
        for month, day_of_month in wanted:
            if (month, day_of_month) not in celebrated and birthday_in_year(month, day_of_month, day.year) == day:
                celebrated[month, day_of_month] = (offset, day)
    if not celebrated:
        return UpcomingBirthdays([], 0)
    # The database orders them (days until, then handle) and counts them all: only the shown
    # profiles reach Python, not the thousand a week that a million profiles have.
    days_until = sa.case(*((sa.and_(ViewerProfile.birthday_month == month, ViewerProfile.birthday_day == day),
                            offset) for (month, day), (offset, _) in celebrated.items()))
    rows = db.session.execute(
        sa.select(ViewerProfile.id, days_until.label("days_until"), sa.func.count().over().label("total")).where(
            ViewerProfile.account_id == account.id, ViewerProfile.is_blocked.is_(False),
            # The month alone lets SQLite seek the birthday index (it cannot for a row-value IN).
            ViewerProfile.birthday_month.in_(sorted({month for month, _ in celebrated})),
            sa.tuple_(ViewerProfile.birthday_month, ViewerProfile.birthday_day).in_(sorted(celebrated)))
        .order_by(days_until, ViewerProfile.handle, ViewerProfile.id)
        .limit(max(1, BIRTHDAYS_SHOWN if limit is None else limit))
    ).all()
    shown = rows[:BIRTHDAYS_SHOWN if limit is None else limit]
    viewers = {viewer.id: viewer for viewer in db.session.scalars(
        sa.select(ViewerProfile).where(ViewerProfile.id.in_([viewer_id for viewer_id, _, _ in shown])))}
    items = []
    for viewer_id, offset, _ in shown:
        viewer = viewers[viewer_id]
        day = celebrated[viewer.birthday_month, viewer.birthday_day][1]
        items.append(UpcomingBirthday(viewer, day, offset,
                                      age_on(viewer.birthday_year, viewer.birthday_month, viewer.birthday_day, day)))
    return UpcomingBirthdays(items, rows[0].total if rows else 0)


# --- heatmap -------------------------------------------------------------------------------------


@dataclass
class Heatmap:
    """A 7x24 grid of activity (rows Monday..Sunday, columns hours 0..23, account time zone)."""

    hits: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in range(7)])
    coins: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in range(7)])

    @property
    def peak(self) -> int:
        return max(max(row) for row in self.hits)

    @property
    def total(self) -> int:
        return sum(sum(row) for row in self.hits)

    def level(self, weekday: int, hour: int) -> int:
        """0 (none) to 5 (the busiest hour), for shading the cell."""
        value, peak = self.hits[weekday][hour], self.peak
        return 0 if not value or not peak else max(1, math.ceil(5 * value / peak))

    def peak_hours(self, count: int = 3) -> list[str]:
        """The busiest buckets, named: "Friday 20:00–21:00 (1,234 events)"."""
        buckets = sorted(((hits, -weekday, -hour) for weekday, row in enumerate(self.hits)
                          for hour, hits in enumerate(row) if hits), reverse=True)[:count]
        return [f"{WEEKDAYS[-weekday]} {-hour:02d}:00–{(-hour + 1) % 24:02d}:00 ({hits:,} events)"
                for hits, weekday, hour in buckets]


def _heatmap(rows: Iterable[Any]) -> Heatmap:
    grid = Heatmap()
    for weekday, hour, hits, coins in rows:
        grid.hits[weekday][hour] += int(hits)
        grid.coins[weekday][hour] += int(coins)
    return grid


def account_heatmap(account: TikTokAccount) -> Heatmap:
    return _heatmap(db.session.execute(
        sa.select(ViewerActivity.weekday, ViewerActivity.hour, sa.func.sum(ViewerActivity.hits),
                  sa.func.sum(ViewerActivity.coins))
        .where(ViewerActivity.account_id == account.id).group_by(ViewerActivity.weekday, ViewerActivity.hour)
    ))


def viewer_heatmap(viewer: ViewerProfile) -> Heatmap:
    return _heatmap(db.session.execute(
        sa.select(ViewerActivity.weekday, ViewerActivity.hour, ViewerActivity.hits, ViewerActivity.coins)
        .where(ViewerActivity.viewer_id == viewer.id)
    ))


# --- profile -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopGift:
    name: str
    quantity: int
    coins: int


@dataclass
class ProfileDetails:
    top_gifts: list[TopGift]
    heatmap: Heatmap
    sessions: list[ViewerSession]
    interactions: list[ViewerInteraction]
    orders: list[Order]
    spend_cents: dict[str, int]


def profile_details(account: TikTokAccount, viewer: ViewerProfile) -> ProfileDetails:
    """What the profile shows besides the counters: top 5 gifts, heatmap, recent sessions and
    interactions, and the linked shopper's orders from this streamer's shop with their spend."""
    top = [TopGift(name, int(quantity), int(coins)) for name, quantity, coins in db.session.execute(
        sa.select(ViewerGift.gift_name, sa.func.sum(ViewerGift.quantity), sa.func.sum(ViewerGift.coins))
        .where(ViewerGift.viewer_id == viewer.id).group_by(ViewerGift.gift_name)
        .order_by(sa.func.sum(ViewerGift.coins).desc(), ViewerGift.gift_name).limit(5)
    )]
    sessions = list(db.session.scalars(
        sa.select(ViewerSession).where(ViewerSession.viewer_id == viewer.id)
        .order_by(ViewerSession.started_at.desc()).limit(10)))
    interactions = list(db.session.scalars(
        sa.select(ViewerInteraction).where(ViewerInteraction.viewer_id == viewer.id)
        .order_by(ViewerInteraction.occurred_at.desc(), ViewerInteraction.id.desc()).limit(20)))
    orders = linked_orders(account, viewer)
    spend: dict[str, int] = {}
    for order in orders:
        if order.status == "paid":
            spend[order.currency] = spend.get(order.currency, 0) + order.total_cents
    return ProfileDetails(top, viewer_heatmap(viewer), sessions, interactions, orders, spend)


def linked_orders(account: TikTokAccount, viewer: ViewerProfile, limit: int = 20) -> list[Order]:
    """The linked shopper's orders in the streamer's own shop (never other sellers' orders)."""
    if viewer.linked_user_id is None:
        return []
    return list(db.session.scalars(
        sa.select(Order).join(Shop, Shop.id == Order.shop_id)
        .where(Order.buyer_id == viewer.linked_user_id, Shop.owner_id == account.owner_id)
        .order_by(Order.created_at.desc()).limit(limit)
    ))


@dataclass(frozen=True)
class ProfileChanges:
    """What the profile editor saves. `vip` is "auto" (automatic, unlocked), "none" (locked
    out of VIP) or a tier id (set and locked)."""

    tts_voice: str | None
    discord_username: str | None
    birthday: tuple[int, int, int | None] | None
    notes: str
    tags: list[str]
    is_favorite: bool
    is_moderator: bool
    is_blocked: bool
    vip: str


def clean_tags(values: Iterable[str]) -> list[str]:
    """Tags as chips: trimmed, lower-cased, duplicates dropped, order kept."""
    tags: list[str] = []
    for value in values:
        for part in str(value).split(","):
            tag = part.strip().lower()
            if tag and tag not in tags:
                tags.append(tag)
    return tags


def update_profile(account: TikTokAccount, viewer: ViewerProfile, changes: ProfileChanges, now: datetime) -> None:
    """Save the editor in one transaction; raises `FieldError` for an impossible birthday or tier."""
    if changes.birthday is not None:
        month, day, year = changes.birthday
        try:
            validate_birthday(month, day, year)
        except ValueError:
            raise FieldError("birthday_day", "That date does not exist.") from None
    tier = None
    if changes.vip not in ("auto", "none"):
        tier = db.session.get(VipTier, int(changes.vip)) if changes.vip.isdigit() else None
        if tier is None or tier.account_id != account.id:
            raise FieldError("vip", "Choose a tier from the list.")
    viewer.tts_voice = changes.tts_voice or None
    viewer.discord_username = changes.discord_username or None
    new_birthday = changes.birthday or (None, None, None)
    if (viewer.birthday_month, viewer.birthday_day) != new_birthday[:2]:
        viewer.birthday_greeted_on = None  # a corrected birthday may be greeted on its real day
    viewer.birthday_month, viewer.birthday_day, viewer.birthday_year = new_birthday
    viewer.notes = changes.notes
    viewer.tags = changes.tags
    viewer.is_favorite, viewer.is_moderator, viewer.is_blocked = (changes.is_favorite, changes.is_moderator,
                                                                  changes.is_blocked)
    set_vip(account, viewer, changes.vip, tier, now)
    viewer.updated_at = now
    db.session.commit()


def toggle_favorite(viewer: ViewerProfile, now: datetime) -> None:
    viewer.is_favorite = not viewer.is_favorite
    viewer.updated_at = now
    db.session.commit()


def delete_viewer(viewer: ViewerProfile) -> None:
    """Erase the viewer: profile, sessions, streaks, gifts, interactions and heatmap rows, in one
    transaction. The rows have no foreign key to the profile (models.tiktok.VIEWER_ROWS), so the
    account is held first: a batch writing them is waited for, and the next finds the viewer gone."""
    viewer_id, account_id = viewer.id, viewer.account_id
    hold_account_exclusively(account_id)
    for model in VIEWER_ROWS:
        db.session.execute(sa.delete(model).where(model.viewer_id == viewer_id))
    # The account's figures lose what the deleted row held (not what this request loaded earlier).
    deleted = db.session.execute(sa.delete(ViewerProfile).where(ViewerProfile.id == viewer_id).returning(
        ViewerProfile.total_coins, ViewerProfile.total_watch_seconds, ViewerProfile.vip_tier_id,
        ViewerProfile.last_seen_at)).one_or_none()
    if deleted is not None:
        account_figures.add(account_id, **{name: -value for name, value in account_figures.share(deleted).items()})
        account_figures.move_last_seen(account_id, account_figures.last_seen_moves(
            [(account_figures.hour_of(deleted.last_seen_at), None)]))
    db.session.commit()


# --- leaderboards ------------------------------------------------------------------------------

BOARDS = {"coins": "Coins", "watchtime": "Watchtime", "visits": "Visits", "gifts": "Gifts",
          "comments": "Comments", "likes": "Likes"}
PERIODS = {"all": "All time", "30d": f"Last {ACTIVE_DAYS} days", "live": "Current LIVE"}
_ALL_TIME = {"coins": ViewerProfile.total_coins, "watchtime": ViewerProfile.total_watch_seconds,
             "visits": ViewerProfile.total_visits, "gifts": ViewerProfile.total_gifts,
             "comments": ViewerProfile.total_comments, "likes": ViewerProfile.total_likes}


@dataclass(frozen=True)
class Leader:
    viewer: ViewerProfile
    value: int


def leaderboard(account: TikTokAccount, board: str, period: str, now: datetime, limit: int = 25) -> list[Leader]:
    """The top viewers by `board` over `period` (all time, 30 days, or the current / last LIVE);
    blocked viewers are left out."""
    board = board if board in BOARDS else "coins"
    if period == "all":
        column = _ALL_TIME[board]
        statement = (sa.select(ViewerProfile, column)
                     .where(ViewerProfile.account_id == account.id, ViewerProfile.is_blocked.is_(False), column > 0)
                     .order_by(column.desc(), ViewerProfile.id).limit(limit))
        return [Leader(viewer, int(value)) for viewer, value in db.session.execute(statement)]
    if period == "live" and not account.room_id:
        return []
    model, value = {
        "coins": (ViewerGift, sa.func.sum(ViewerGift.coins)),
        "gifts": (ViewerGift, sa.func.sum(ViewerGift.quantity)),
        "comments": (ViewerInteraction, sa.func.count(ViewerInteraction.id)),
        "likes": (ViewerInteraction, sa.func.sum(ViewerInteraction.count)),
        "watchtime": (ViewerSession, sa.func.sum(ViewerSession.credited_seconds)),
        "visits": (ViewerSession, sa.func.count(sa.distinct(ViewerSession.room_id))),
    }[board]
    when = {ViewerGift: ViewerGift.sent_at, ViewerInteraction: ViewerInteraction.occurred_at,
            ViewerSession: ViewerSession.started_at}[model]
    conditions = [model.account_id == account.id]
    conditions.append(model.room_id == account.room_id if period == "live"
                      else when >= now - timedelta(days=ACTIVE_DAYS))
    if model is ViewerInteraction:
        conditions.append(ViewerInteraction.kind == ("comment" if board == "comments" else "like"))
    totals = (sa.select(model.viewer_id.label("viewer_id"), value.label("value")).where(*conditions)
              .group_by(model.viewer_id).subquery())
    statement = (sa.select(ViewerProfile, totals.c.value).join(totals, totals.c.viewer_id == ViewerProfile.id)
                 .where(ViewerProfile.is_blocked.is_(False), totals.c.value > 0)
                 .order_by(totals.c.value.desc(), ViewerProfile.id).limit(limit))
    return [Leader(viewer, int(value)) for viewer, value in db.session.execute(statement)]
