"""The streamer's viewer CRM: table search, filters, sorts and paging; profiles and the editor;
VIP tiers; leaderboards; heatmap; exports; per-viewer delete; and that every studio page,
fragment and channel refuses another streamer. Viewers are recorded through the same ingest rules
the writer applies (ingest.rules.apply_batch), on the real database."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import g
from flask_login import AnonymousUserMixin

from extensions import db
from ingest import rules, sessions
from models import (
    ViewerActivity,
    ViewerGift,
    ViewerInteraction,
    ViewerProfile,
    ViewerSession,
    VipTier,
)
from realtime.channels import may_subscribe
from services import account_figures, exports, studio, studio_activity, tiktok, vip
from services.local_time import local_time
from services.studio import ViewerQuery
from tests.factories import make_user
from tests.ingest_support import FakeClock, event, gift, viewer
from tests.support import TEST_PASSWORD, csrf_from

NOW = datetime.now(UTC).replace(microsecond=0)


def log_in(client, username: str) -> str:  # noqa: ANN001
    """Log `client` in and return a CSRF token for its session."""
    g.pop("_login_user", None)  # the test's app context is shared by every client's requests
    g.pop("csrf_token", None)
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"csrf_token": csrf_from(page), "identifier": username, "password": TEST_PASSWORD})
    return csrf_from(client.get("/studio/").get_data(as_text=True))


def record(account, *records, at: datetime = NOW):  # noqa: ANN001, ANN201
    return rules.apply_batch(account.id, list(records), FakeClock(at))


def by_handle(account, handle: str) -> ViewerProfile:  # noqa: ANN001
    db.session.expire_all()
    return db.session.scalar(sa.select(ViewerProfile).where(ViewerProfile.account_id == account.id,
                                                            ViewerProfile.handle == handle))


@pytest.fixture(name="account")
def account_fixture(app_ctx):  # noqa: ANN001, ANN201
    """@riley.live with five viewers of different habits, recorded through the ingest rules."""
    owner = make_user("riley")
    account = tiktok.link_account(owner, "riley.live", "Europe/Berlin")
    ann = viewer(1, "ann_50%", nickname="Ann Fifty")
    bob = viewer(2, "bob.builder", nickname="BOB the Builder")
    cat = viewer(3, "cat_x", nickname="Cat")
    dan = viewer(4, "dan", nickname="Dan 100%")
    eve = viewer(5, "eve", nickname="Eve")
    old = NOW - timedelta(days=45)
    record(account, event("comment", old, eve, text="long ago"), at=old)
    record(account,
           gift(NOW - timedelta(minutes=30), ann, "Lion", price=29_999, repeat=1),
           gift(NOW - timedelta(minutes=29), bob, "Rose", price=1, repeat=5),
           event("comment", NOW - timedelta(minutes=28), bob, text="hi"),
           event("comment", NOW - timedelta(minutes=27), bob, text="hello again"),
           event("like", NOW - timedelta(minutes=26), cat, count=40),
           event("comment", NOW - timedelta(minutes=25), dan, text="first!"),
           event("like", NOW - timedelta(minutes=20), dan, count=3))
    return account


# --- the table ---------------------------------------------------------------------------------


def handles(page: studio.ViewerPage) -> list[str]:
    return [item.handle for item in page.viewers]


def table(account, **args) -> studio.ViewerPage:  # noqa: ANN001, ANN003
    return studio.viewer_page(account, ViewerQuery.from_args({k: str(v) for k, v in args.items()}), NOW)


def test_search_is_case_insensitive_and_takes_percent_and_underscore_literally(account):
    assert handles(table(account, q="BUILDER")) == ["bob.builder"]  # display name and handle, any case
    assert handles(table(account, q="bob THE")) == ["bob.builder"]
    assert handles(table(account, q="@Bob")) == ["bob.builder"]
    assert handles(table(account, q="%")) == ["ann_50%", "dan"]  # a literal %, not "anything"
    assert handles(table(account, q="50%")) == ["ann_50%"]
    assert handles(table(account, q="_")) == ["ann_50%", "cat_x"]  # a literal _, not "any one character"
    assert handles(table(account, q="n_5")) == ["ann_50%"]
    assert handles(table(account, q="a_n")) == []
    assert handles(table(account, q="zzz")) == []


def test_search_index_follows_renames_deletions_and_keeps_accounts_apart(account, monkeypatch):
    """Three characters or more are looked up in the trigram index (FTS5 / pg_trgm): it follows a
    viewer's new name and a deleted viewer, and another account's viewers never show."""
    other = tiktok.link_account(make_user("other.streamer"), "other.live", "UTC")
    record(other, event("comment", NOW, viewer(2, "bob.builder", nickname="BOB the Builder"), text="hi"),
           event("comment", NOW, viewer(9, 'say"what', nickname="Quote Me"), text="hi"))
    assert handles(table(account, q="bob the")) == ["bob.builder"]
    assert handles(table(other, q='y"w')) == ['say"what']  # a quote is a character too
    assert handles(table(account, q='y"w')) == []
    record(account, event("comment", NOW, viewer(2, "bob.builder", nickname="Bobby Tables"), text="renamed"))
    assert handles(table(account, q="TABLES")) == ["bob.builder"]
    assert handles(table(account, q="bob the")) == []
    assert handles(table(other, q="bob the")) == ["bob.builder"]
    studio.delete_viewer(by_handle(account, "bob.builder"))
    assert handles(table(account, q="bobby")) == []
    assert handles(table(account, q="builder")) == []

    # A search counts its matches only up to a bound ("500+"), or as far as the page asked for,
    # whether it is shorter than a trigram (tested row by row) or looked up in the trigram index;
    # its pages still list them, and the next page is offered.
    record(account, *[event("comment", NOW, viewer(100 + n, f"zz{n}"), text="hi") for n in range(12)])
    monkeypatch.setattr(studio, "PAGE_SIZE", 2)
    monkeypatch.setattr(studio, "MATCHES_LISTED", 3)
    for term in ("ZZ", "@zz"):
        page = table(account, q=term)
        assert (page.total, page.more, page.pages, len(page.viewers)) == (3, True, 2, 2), term  # "3+"
    page = table(account, q="zz1")  # zz1, zz10, zz11: through the trigram index, counted exactly
    assert (page.total, page.more, page.pages, handles(page)) == (3, False, 2, ["zz11", "zz10"])
    # Page 5 of "zz" counts as far as it (10 matches, and more): its viewers are the 9th and 10th
    # by coins (all 0, ties by newest profile first), and page 6 is offered.
    everyone = [handles(table(account, q="zz", page=n)) for n in range(1, 7)]
    page = table(account, q="zz", page=5)
    assert (page.page, page.total, page.more, page.pages) == (5, 10, True, 6)
    assert handles(page) == ["zz3", "zz2"]
    for walk in (True, False):  # SQLite: walking the sort index, or sorting every match, finds the same page
        monkeypatch.setattr(studio, "_walk_is_cheaper", lambda *args, walk=walk: walk)
        assert handles(table(account, q="zz", page=5)) == ["zz3", "zz2"]
        assert handles(table(account, q="zz", page=5, sort="last_seen", dir="asc")) == ["zz8", "zz9"]
    assert sorted(handle for part in everyone for handle in part) == sorted(f"zz{n}" for n in range(12))
    page = table(account, q="zz", page=9)  # past the end: the last page
    assert (page.page, page.total, page.more, handles(page)) == (6, 12, False, ["zz1", "zz0"])
    # A filter without a search counts on past the bound: the 15 seen in the last 30 days (bob is gone).
    assert (table(account, filter="active").total, table(account, filter="active").more) == (15, False)


def test_each_filter(account):
    ann, bob, cat, dan = (by_handle(account, h) for h in ("ann_50%", "bob.builder", "cat_x", "dan"))
    gold = db.session.scalar(sa.select(VipTier).where(VipTier.account_id == account.id, VipTier.name == "Gold"))
    bronze = db.session.scalar(sa.select(VipTier).where(VipTier.account_id == account.id, VipTier.name == "Bronze"))
    ann.vip_tier_id, ann.vip_source = gold.id, "manual"
    bob.vip_tier_id, bob.vip_source = bronze.id, "manual"
    cat.is_favorite = True
    dan.is_blocked = True
    dan.birthday_month, dan.birthday_day = 4, 1
    cat.linked_user_id = make_user("catshopper").id
    db.session.commit()
    everyone = ["ann_50%", "bob.builder", "cat_x", "dan", "eve"]
    assert sorted(handles(table(account))) == everyone
    assert sorted(handles(table(account, filter="vip"))) == ["ann_50%", "bob.builder"]
    assert handles(table(account, filter=f"vip-{gold.id}")) == ["ann_50%"]
    assert handles(table(account, filter=f"vip-{bronze.id}")) == ["bob.builder"]
    assert sorted(handles(table(account, filter="active"))) == ["ann_50%", "bob.builder", "cat_x", "dan"]
    assert handles(table(account, filter="favorites")) == ["cat_x"]
    assert handles(table(account, filter="blocked")) == ["dan"]
    assert handles(table(account, filter="linked")) == ["cat_x"]
    assert handles(table(account, filter="birthday")) == ["dan"]
    assert sorted(handles(table(account, filter="nonsense"))) == everyone  # unknown: all


@pytest.mark.parametrize(("sort", "descending"), [
    ("coins", ["ann_50%", "bob.builder"]),
    ("comments", ["bob.builder", "dan", "eve"]),
    ("likes", ["cat_x", "dan"]),
    ("last_seen", ["dan", "cat_x", "bob.builder", "ann_50%", "eve"]),
    ("first_seen", ["dan", "cat_x", "bob.builder", "ann_50%", "eve"]),
])
def test_each_sort_both_ways(account, sort, descending):
    down = handles(table(account, sort=sort, dir="desc"))
    up = handles(table(account, sort=sort, dir="asc"))
    assert down[:len(descending)] == descending
    # Ascending is the same order reversed (ties are broken by id both ways).
    assert up == list(reversed(down))


def test_watchtime_and_visits_sorts(account):
    clock_start = NOW - timedelta(minutes=10)
    fan = viewer(6, "fan")
    # Comments 4 minutes apart (within the 300 s session timeout): one 12-minute session.
    record(account, *[event("comment", clock_start + timedelta(minutes=m), fan, text="a") for m in (0, 4, 8, 12)],
           at=NOW)
    sessions.sweep([account.id], FakeClock(NOW + timedelta(minutes=30)))  # closes sessions, credits watchtime
    other_room = event("comment", NOW + timedelta(minutes=40), fan, room="7300000000000000999", text="again")
    record(account, other_room, at=NOW + timedelta(minutes=40))
    assert handles(table(account, sort="watchtime"))[0] == "fan"
    assert by_handle(account, "fan").total_visits == 2
    assert handles(table(account, sort="visits"))[0] == "fan"
    assert handles(table(account, sort="watchtime", dir="asc"))[-1] == "fan"


def test_fifty_a_page_and_page_numbers_are_clamped(account):
    crowd = [event("comment", NOW - timedelta(seconds=i), viewer(100 + i, f"crowd{i:03d}"), text="x")
             for i in range(120)]
    record(account, *crowd)
    first = table(account, q="crowd", sort="first_seen")
    assert (first.total, first.pages, first.page, len(first.viewers)) == (120, 3, 1, 50)
    last = table(account, q="crowd", sort="first_seen", page=99)
    assert (last.page, len(last.viewers)) == (3, 20)
    assert table(account, q="crowd", page=-4).page == 1
    assert table(account, q="crowd", page="x").page == 1
    assert table(account, q="nobody", page=7).page == 1  # no rows is still page 1 of 1
    seen = [h for number in (1, 2, 3) for h in handles(table(account, q="crowd", sort="first_seen", page=number))]
    assert len(seen) == len(set(seen)) == 120  # no viewer twice, none skipped


def test_the_table_page_keeps_its_state_in_the_url_and_htmx_gets_the_table_alone(client, account):
    log_in(client, "riley")
    url = f"/studio/accounts/{account.id}/viewers?q=bob&filter=active&sort=comments&dir=asc"
    page = client.get(url)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body and "@bob.builder" in body and "@cat_x" not in body
    assert 'value="bob"' in body and '<option value="comments" selected>' in body
    assert '<option value="asc" selected>' in body and '<option value="active" selected>' in body
    fragment = client.get(url, headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and text.lstrip().startswith('<div id="viewer-table"')
    assert "HX-Request" in fragment.headers["Vary"]
    # The fragment refetches itself with the same view, and the exports carry it too.
    assert "q=bob&amp;filter=active&amp;sort=comments&amp;dir=asc" in text
    assert "format=csv&amp;q=bob&amp;filter=active" in text


# --- profile and editor ------------------------------------------------------------------------


def test_profile_shows_counters_top_gifts_heatmap_sessions_and_interactions(client, account):
    log_in(client, "riley")
    bob = by_handle(account, "bob.builder")
    record(account, gift(NOW - timedelta(minutes=5), viewer(2, "bob.builder"), "Doughnut", price=30, repeat=2))
    page = client.get(f"/studio/accounts/{account.id}/viewers/{bob.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Watchtime <abbr" in body and "(estimated)" in body
    assert "Doughnut (×2) — 60 coins" in body and "Rose (×5) — 5 coins" in body
    assert body.index("Doughnut") < body.index("Rose (×5)")  # most coins first
    assert "said “hello again”" in body and "Recent sessions" in body
    assert "Peak hours:" in body
    dialog = client.get(f"/studio/accounts/{account.id}/viewers/{bob.id}", headers={"HX-Request": "true"})
    assert dialog.get_data(as_text=True).lstrip().startswith(f'<article id="profile-{bob.id}"')


def editor_data(token: str, **changes) -> dict:  # noqa: ANN003
    data = {"csrf_token": token, "tts_voice": "", "discord_username": "", "birthday_month": "0", "birthday_day": "",
            "birthday_year": "", "notes": "", "new_tags": "", "vip": "auto"}
    data.update(changes)
    return data


def test_the_editor_saves_every_field(client, account):
    token = log_in(client, "riley")
    bob = by_handle(account, "bob.builder")
    gold = db.session.scalar(sa.select(VipTier).where(VipTier.account_id == account.id, VipTier.name == "Gold"))
    url = f"/studio/accounts/{account.id}/viewers/{bob.id}"
    response = client.post(url, headers={"HX-Request": "true"}, data=editor_data(
        token, tts_voice="de_002", discord_username="bob_builds", birthday_month="2", birthday_day="29",
        notes="Buys mugs <b>always</b>", tags=["Regular", "mugs"], new_tags="VIP-ish, regular",
        is_favorite="y", is_moderator="y", vip=str(gold.id)))
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "studio-changed"
    body = response.get_data(as_text=True)
    assert "Saved." in body and "Buys mugs &lt;b&gt;always&lt;/b&gt;" in body
    bob = by_handle(account, "bob.builder")
    assert (bob.tts_voice, bob.discord_username, bob.birthday_month, bob.birthday_day, bob.birthday_year) == (
        "de_002", "bob_builds", 2, 29, None)
    assert bob.tags == ["regular", "mugs", "vip-ish"]  # lower-cased, duplicates dropped
    assert (bob.is_favorite, bob.is_moderator, bob.is_blocked) == (True, True, False)
    assert (bob.vip_tier_id, bob.vip_source) == (gold.id, "manual")
    # Clearing the tier hands the viewer back to automation (5 coins: no tier).
    client.post(url, data=editor_data(token, vip="auto", birthday_month="2", birthday_day="29"))
    bob = by_handle(account, "bob.builder")
    assert (bob.vip_tier_id, bob.vip_source, bob.is_favorite) == (None, None, False)
    # "No VIP" locks them out even if they would qualify.
    client.post(url, data=editor_data(token, vip="none"))
    assert by_handle(account, "bob.builder").vip_source == "manual"


@pytest.mark.parametrize(("changes", "message"), [
    ({"birthday_month": "2", "birthday_day": "30"}, "That date does not exist."),
    ({"birthday_month": "2", "birthday_day": "29", "birthday_year": "2023"}, "That date does not exist."),
    ({"birthday_month": "4", "birthday_day": ""}, "Give both the month and the day, or neither."),
    ({"birthday_month": "4", "birthday_day": "x"}, "Enter the day as a number."),
    ({"birthday_month": "4", "birthday_day": "3", "birthday_year": "1800"}, "Enter a year between 1900"),
    ({"discord_username": "no spaces please"}, "A Discord name has 2–32 letters"),
    ({"vip": "999999"}, "Not a valid choice"),
    ({"notes": "x" * 5001}, "Notes have at most 5,000 characters."),
    ({"new_tags": "fine, " + "t" * 31}, "a tag has at most 30 characters."),
])
def test_the_editor_rejects_bad_input_with_a_message_and_saves_nothing(client, account, changes, message):
    token = log_in(client, "riley")
    bob = by_handle(account, "bob.builder")
    response = client.post(f"/studio/accounts/{account.id}/viewers/{bob.id}", headers={"HX-Request": "true"},
                           data=editor_data(token, **{"discord_username": "kept_or_not", **changes}))
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert by_handle(account, "bob.builder").discord_username is None  # nothing of the form was saved


def test_favorite_star_swaps_the_row(client, account):
    token = log_in(client, "riley")
    cat = by_handle(account, "cat_x")
    response = client.post(f"/studio/accounts/{account.id}/viewers/{cat.id}/favorite",
                           data={"csrf_token": token}, headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith(f'<tr id="viewer-row-{cat.id}"') and 'aria-pressed="true"' in body
    assert by_handle(account, "cat_x").is_favorite is True


# --- VIP tiers -----------------------------------------------------------------------------------


def test_tier_edits_rerank_automatic_viewers_but_not_locked_ones(client, account):
    token = log_in(client, "riley")
    ann, bob = by_handle(account, "ann_50%"), by_handle(account, "bob.builder")
    assert ann.vip_tier_id is None  # 29,999 coins but not 5 h and 10 visits
    bob.vip_source = "manual"  # locked out of VIP by the streamer
    db.session.commit()
    url = f"/studio/accounts/{account.id}/tiers"
    added = client.post(url, data={"csrf_token": token, "new-name": "Fan", "new-min_coins": "1",
                                   "new-min_watch_hours": "0", "new-min_visits": "1", "new-colour": "#112233",
                                   "new-benefits": "A shout-out"}, follow_redirects=True)
    assert "The Fan tier is added" in added.get_data(as_text=True)
    fan = db.session.scalar(sa.select(VipTier).where(VipTier.account_id == account.id, VipTier.name == "Fan"))
    assert by_handle(account, "ann_50%").vip_tier_id == fan.id  # re-evaluated on save
    assert by_handle(account, "bob.builder").vip_tier_id is None  # locked stays locked
    # Editing thresholds re-evaluates: nobody has 1,000,000 coins.
    client.post(f"{url}/{fan.id}", data={"csrf_token": token, f"tier-{fan.id}-name": "Fan",
                                         f"tier-{fan.id}-min_coins": "1000000", f"tier-{fan.id}-min_watch_hours": "0",
                                         f"tier-{fan.id}-min_visits": "0", f"tier-{fan.id}-colour": "#112233",
                                         f"tier-{fan.id}-benefits": ""})
    assert by_handle(account, "ann_50%").vip_tier_id is None
    bad = client.post(url, data={"csrf_token": token, "new-name": "gold", "new-min_coins": "-1",
                                 "new-min_watch_hours": "x", "new-min_visits": "0", "new-colour": "red"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Cannot be negative." in text and "Enter a number of hours." in text and "A colour like #ffd700." in text


def test_tiers_reorder_and_delete(client, account):
    token = log_in(client, "riley")
    url = f"/studio/accounts/{account.id}/tiers"
    names = lambda: [tier.name for tier in vip.tiers_in_order(account)]  # noqa: E731
    assert names() == ["Bronze", "Silver", "Gold", "Platinum"]
    silver = db.session.scalar(sa.select(VipTier).where(VipTier.account_id == account.id, VipTier.name == "Silver"))
    client.post(f"{url}/{silver.id}/move", data={"csrf_token": token, "direction": "up"})
    db.session.expire_all()
    assert names() == ["Bronze", "Gold", "Silver", "Platinum"]
    dan = by_handle(account, "dan")
    dan.vip_tier_id, dan.vip_source = silver.id, "manual"
    db.session.commit()
    client.post(f"{url}/{silver.id}/delete", data={"csrf_token": token, "confirmed": "yes"})
    db.session.expire_all()
    assert names() == ["Bronze", "Gold", "Platinum"]
    dan = by_handle(account, "dan")
    assert (dan.vip_tier_id, dan.vip_source) == (None, None)  # back to automatic


# --- overview, leaderboards, heatmap -----------------------------------------------------------


def test_overview_cards_birthdays_and_who_is_in_the_live(client, account, monkeypatch):
    log_in(client, "riley")
    record(account, event("live_start", NOW - timedelta(hours=1), None))
    dan, cat, eve = (by_handle(account, handle) for handle in ("dan", "cat_x", "eve"))
    today = local_time(NOW, "Europe/Berlin").date()
    dan.birthday_month, dan.birthday_day, dan.birthday_year = today.month, today.day, today.year - 30
    soon, later = today + timedelta(days=3), today + timedelta(days=8)
    cat.birthday_month, cat.birthday_day = soon.month, soon.day
    eve.birthday_month, eve.birthday_day = later.month, later.day
    db.session.commit()
    stats = studio.overview(account, NOW)
    assert (stats.viewers, stats.coins, stats.vip_members, stats.active) == (5, 29_999 + 5, 0, 4)
    upcoming = studio.upcoming_birthdays(account, NOW)
    assert [(item.viewer.handle, item.days_until, item.age) for item in upcoming] == [
        ("dan", 0, 30), ("cat_x", 3, None)]
    # The page reads the same moment as the calls above: NOW is taken when the module is imported,
    # and a suite that runs past midnight in Berlin would otherwise see tomorrow's birthdays.
    monkeypatch.setattr("blueprints.studio.utcnow", lambda: NOW)
    body = client.get(f"/studio/accounts/{account.id}").get_data(as_text=True)
    assert "Total viewers" in body and 'data-stat="viewers">5<' in body and "30,004" in body
    assert "turns 30" in body and "Today" in body and "@cat_x" in body
    assert "Active in this LIVE: " in body and "This LIVE" in body and "Activity" in body
    # Only the soonest are listed (a million profiles have a thousand birthdays a week), and the rest counted.
    monkeypatch.setattr(studio, "BIRTHDAYS_SHOWN", 1)
    soonest = studio.upcoming_birthdays(account, NOW)
    assert ([item.viewer.handle for item in soonest], soonest.total) == (["dan"], 2)
    body = client.get(f"/studio/accounts/{account.id}").get_data(as_text=True)
    listed = body.split('id="birthdays-title"')[1].split("</section>")[0]
    assert "@dan" in listed and "@cat_x" not in listed and "and 1 more in the next 7 days" in listed


def test_the_live_feed_names_the_vips_who_came_to_the_live(account):
    """'VIP joined the LIVE' for a VIP's arrival in the current LIVE only (read from the VIPs' side)."""
    gold = db.session.scalar(sa.select(VipTier).where(VipTier.account_id == account.id, VipTier.name == "Gold"))
    ann = by_handle(account, "ann_50%")
    vip.set_vip(account, ann, str(gold.id), gold, NOW)
    db.session.commit()
    start = NOW - timedelta(minutes=5)
    record(account, event("live_start", start, None, room="7300000000000000002"),
           event("comment", start, viewer(1, "ann_50%", nickname="Ann Fifty"), text="back", room="7300000000000000002"),
           event("comment", start, viewer(2, "bob.builder", nickname="BOB the Builder"), text="me too",
                 room="7300000000000000002"), at=start)
    db.session.expire_all()
    picture = studio_activity.live_picture(db.session.get(type(account), account.id))
    assert picture.room_id == "7300000000000000002"
    assert [(item.kind, item.handle) for item in picture.feed if item.kind == "vip"] == [("vip", "ann_50%")]


def test_the_live_chart_counts_the_viewers_present_each_minute(account):
    """The overview's viewers chart: each minute counts the sessions spanning it, from their start to
    their last activity, whether they closed (bob's first, by the timeout) or are still open."""
    start = NOW.replace(second=0) - timedelta(minutes=30)
    room = "7300000000000000003"
    ann, bob, cat = viewer(1, "ann_50%"), viewer(2, "bob.builder"), viewer(3, "cat_x")
    record(account, event("live_start", start, None, room=room),
           *(event("comment", start + timedelta(minutes=minute), who, text="hi", room=room)
             for minute, who in ((0, ann), (1, bob), (3, ann), (8, cat), (10, bob))),
           at=start + timedelta(minutes=10))
    db.session.expire_all()
    picture = studio_activity.live_picture(db.session.get(type(account), account.id))
    # bob's first session ended at minute 1 (nine quiet minutes are past the five-minute timeout).
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerSession).where(
        ViewerSession.room_id == room, ViewerSession.ended_at.is_not(None))) == 1
    assert picture.viewers.start == start
    assert picture.viewers.values == [1, 2, 1, 1, 0, 0, 0, 0, 1, 0, 1]


def kept_figures_match_a_recount(account) -> dict[str, int]:  # noqa: ANN001
    """The figures on the account row, after checking they equal a fresh count over the profiles
    (and so do the profiles kept per hour of their last visit, which "active" is summed from)."""
    db.session.expire_all()
    kept = account_figures.stored(account.id)
    assert kept == account_figures.recounted(account.id)
    assert account_figures.stored_last_seen(account.id) == account_figures.recounted_last_seen(account.id)
    # Each session carries its viewer's VIP status (the feed's "VIP joined the LIVE").
    sessions_of = db.session.execute(sa.select(ViewerSession.vip, ViewerProfile.vip_tier_id).join(
        ViewerProfile, ViewerProfile.id == ViewerSession.viewer_id).where(ViewerProfile.account_id == account.id)).all()
    assert sessions_of and all(flag == (tier_id is not None) for flag, tier_id in sessions_of)
    return kept


def test_the_figures_kept_on_the_account_row_equal_a_recount_after_every_change(client, account):
    """Ingest batches, live end, an unfinished streak, tier edits, a tier set by hand, a deletion:
    after each, the overview's figures (kept on the account row) are what counting would give."""
    token = log_in(client, "riley")
    # The sessions are still open; their watchtime so far came with their batches: bob's 2 min, dan's 5.
    assert kept_figures_match_a_recount(account) == {
        "total_viewers": 5, "total_coins": 29_999 + 5, "total_watch_seconds": 120 + 300, "vip_viewers": 0}
    # A LIVE: a new viewer, bob's comments two minutes apart, a streak whose end never comes, then
    # live end, which closes the sessions (their watchtime) and counts the streak's last tick.
    start = NOW - timedelta(minutes=10)
    fay, bob = viewer(6, "fay", nickname="Fay"), viewer(2, "bob.builder", nickname="BOB the Builder")
    record(account, event("live_start", start, None), event("comment", start, fay, text="hey"),
           event("comment", start, bob, text="back"), at=start)
    record(account, event("comment", start + timedelta(minutes=2), bob,
                          text="still here"),
           gift(start + timedelta(minutes=3), fay, "Rose", price=2, repeat=4, streaking=True),
           at=start + timedelta(minutes=3))
    record(account, event("live_end", start + timedelta(minutes=5), None), at=start + timedelta(minutes=5))
    kept = kept_figures_match_a_recount(account)
    assert (kept["total_viewers"], kept["total_coins"]) == (6, 29_999 + 5 + 8)
    # bob: 2 min in the first LIVE's session, closed by his return, and 2 in this one; dan's
    # 5 min, fay's 3 (her streak's ticks are activity), closed at live end.
    assert kept["total_watch_seconds"] == 120 + 120 + 300 + 180
    body = client.get(f"/studio/accounts/{account.id}").get_data(as_text=True)
    assert 'data-stat="viewers">6<' in body and "30,012" in body and 'data-stat="vip">0<' in body

    # A tier anyone with a coin reaches: ann, bob and fay become VIPs automatically.
    tiers = f"/studio/accounts/{account.id}/tiers"
    client.post(tiers, data={"csrf_token": token, "new-name": "Fan", "new-min_coins": "1",
                             "new-min_watch_hours": "0", "new-min_visits": "1", "new-colour": "#112233",
                             "new-benefits": ""})
    assert kept_figures_match_a_recount(account)["vip_viewers"] == 3
    # By hand: cat gets Gold, bob is locked out, ann goes back to automatic (and qualifies again).
    gold = db.session.scalar(sa.select(VipTier).where(VipTier.account_id == account.id, VipTier.name == "Gold"))
    for handle, choice in (("cat_x", str(gold.id)), ("bob.builder", "none"), ("ann_50%", "auto")):
        profile = f"/studio/accounts/{account.id}/viewers/{by_handle(account, handle).id}"
        assert client.post(profile, data=editor_data(token, vip=choice)).status_code in (200, 303)
    assert kept_figures_match_a_recount(account)["vip_viewers"] == 3  # ann, fay and cat
    # Deleting the Fan tier hands its viewers back to automation, which finds no tier for them.
    fan = db.session.scalar(sa.select(VipTier).where(VipTier.account_id == account.id, VipTier.name == "Fan"))
    client.post(f"{tiers}/{fan.id}/delete", data={"csrf_token": token, "confirmed": "yes"})
    assert kept_figures_match_a_recount(account)["vip_viewers"] == 1  # cat, set by hand
    # Deleting a viewer takes their share away: cat (the VIP) and bob (coins and watchtime).
    for handle in ("cat_x", "bob.builder"):
        url = f"/studio/accounts/{account.id}/viewers/{by_handle(account, handle).id}/delete"
        client.post(url, data={"csrf_token": token, "confirm": handle})
    kept = kept_figures_match_a_recount(account)
    assert kept == {"total_viewers": 4, "total_coins": 29_999 + 8, "total_watch_seconds": 300 + 180,
                    "vip_viewers": 0}
    page = client.get(f"/studio/accounts/{account.id}/viewers").get_data(as_text=True)
    assert "4 viewers" in page


def test_the_active_count_from_the_kept_hours_equals_a_count_at_any_cut_off(account):
    """"Active" is the kept hours after the cut-off's hour plus that hour counted on the index: the
    same as counting the profiles last seen since the cut-off, wherever in its hour it falls, and
    after a viewer's last visit moved into a later hour."""
    record(account, event("comment", NOW + timedelta(minutes=70), viewer(3, "cat_x", nickname="Cat"), text="back"),
           at=NOW + timedelta(minutes=70))

    def counted(since: datetime) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(ViewerProfile).where(
            ViewerProfile.account_id == account.id, ViewerProfile.last_seen_at >= since))

    seen = db.session.scalars(sa.select(ViewerProfile.last_seen_at).where(ViewerProfile.account_id == account.id))
    cut_offs = {NOW - timedelta(days=studio.ACTIVE_DAYS)}
    for moment in seen:
        hour = moment.replace(minute=0, second=0, microsecond=0)
        cut_offs |= {moment, moment - timedelta(microseconds=1), moment + timedelta(microseconds=1), hour,
                     hour + timedelta(hours=1), hour - timedelta(microseconds=1)}
    assert len({counted(since) for since in cut_offs}) >= 4  # the cut-offs tell the profiles apart
    for since in sorted(cut_offs):
        assert account_figures.active_since(account.id, since) == counted(since), since
    assert studio.overview(account, NOW).active == counted(NOW - timedelta(days=studio.ACTIVE_DAYS)) == 4  # not eve


def test_leaderboards_leave_out_blocked_viewers_and_cover_three_periods(client, account):
    log_in(client, "riley")
    assert [leader.viewer.handle for leader in studio.leaderboard(account, "coins", "all", NOW)] == [
        "ann_50%", "bob.builder"]
    assert [leader.value for leader in studio.leaderboard(account, "likes", "30d", NOW)] == [40, 3]
    # Ties keep the order viewers were first recorded in (eve is the oldest).
    assert [leader.viewer.handle for leader in studio.leaderboard(account, "comments", "all", NOW)] == [
        "bob.builder", "eve", "dan"]
    assert [leader.viewer.handle for leader in studio.leaderboard(account, "comments", "30d", NOW)] == [
        "bob.builder", "dan"]  # eve commented 45 days ago
    dan = by_handle(account, "dan")
    dan.is_blocked = True
    db.session.commit()
    assert "dan" not in [leader.viewer.handle for leader in studio.leaderboard(account, "comments", "live", NOW)]
    for board in studio.BOARDS:
        for period in studio.PERIODS:
            page = client.get(f"/studio/accounts/{account.id}/leaderboards?board={board}&period={period}")
            assert page.status_code == 200
            assert "@dan<" not in page.get_data(as_text=True)


def test_heatmap_page_names_the_peak_hours(client, account):
    log_in(client, "riley")
    grid = studio.account_heatmap(account)
    assert grid.total == sum(db.session.scalars(sa.select(ViewerActivity.hits)))
    body = client.get(f"/studio/accounts/{account.id}/heatmap").get_data(as_text=True)
    assert "Peak hours:" in body and body.count('class="heat heat-') == 7 * 24


# --- exports -------------------------------------------------------------------------------------


def test_csv_export_round_trips_awkward_values_and_neutralises_formulas(client, account):
    token = log_in(client, "riley")
    bob = by_handle(account, "bob.builder")
    awkward = 'Likes "mugs", tea\nand =cake'
    client.post(f"/studio/accounts/{account.id}/viewers/{bob.id}", data=editor_data(token, notes=awkward))
    record(account, event("comment", NOW, viewer(2, "bob.builder", nickname="=HYPERLINK(\"http://x\")"), text="hi"))
    record(account, event("comment", NOW, viewer(7, "minus", nickname="-2+3"), text="hi"))
    response = client.get(f"/studio/accounts/{account.id}/viewers/export?format=csv")
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0]) == list(exports.EXPORT_COLUMNS)
    exported = {row["handle"]: row for row in rows}
    assert len(rows) == 6
    assert exported["bob.builder"]["notes"] == awkward  # comma, quote and newline intact
    assert exported["bob.builder"]["display_name"] == "'=HYPERLINK(\"http://x\")"  # formula neutralised
    assert exported["minus"]["display_name"] == "'-2+3"
    assert exported["bob.builder"]["comments"] == "3" and exported["ann_50%"]["coins"] == "29999"


def test_export_honours_search_and_filter_and_has_a_header_when_empty(client, account):
    log_in(client, "riley")
    cat = by_handle(account, "cat_x")
    cat.is_favorite = True
    db.session.commit()
    base = f"/studio/accounts/{account.id}/viewers/export"
    favorites = list(csv.DictReader(io.StringIO(client.get(f"{base}?format=csv&filter=favorites").get_data(
        as_text=True), newline="")))
    assert [row["handle"] for row in favorites] == ["cat_x"]
    active = json.loads(client.get(f"{base}?format=json&filter=active&q=B").get_data(as_text=True))
    assert [row["handle"] for row in active] == ["bob.builder"]
    empty = client.get(f"{base}?format=csv&q=nobody").get_data(as_text=True)
    assert empty == ",".join(exports.EXPORT_COLUMNS) + "\r\n"
    assert client.get(f"{base}?format=xml").status_code == 400


def test_per_viewer_export_has_everything_and_delete_leaves_no_row(client, account):
    token = log_in(client, "riley")
    bob = by_handle(account, "bob.builder")
    bob_id = bob.id
    everything = json.loads(client.get(f"/studio/accounts/{account.id}/viewers/{bob_id}/export").get_data(as_text=True))
    assert everything["profile"]["handle"] == "bob.builder"
    assert len(everything["gifts"]) == 1 and len(everything["sessions"]) == 1
    assert [item["content"] for item in everything["interactions"]] == ["hi", "hello again"]
    assert sum(item["hits"] for item in everything["heatmap"]) == 3

    url = f"/studio/accounts/{account.id}/viewers/{bob_id}/delete"
    assert "Type <code>bob.builder</code>" in client.get(url).get_data(as_text=True)
    kept = client.post(url, data={"csrf_token": token, "confirm": "bob"})
    assert kept.status_code == 422 and by_handle(account, "bob.builder") is not None
    gone = client.post(url, data={"csrf_token": token, "confirm": "@Bob.Builder"}, follow_redirects=True)
    assert "@bob.builder and everything stored about them is deleted." in gone.get_data(as_text=True)
    for model in (ViewerSession, ViewerGift, ViewerInteraction, ViewerActivity):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model).where(model.viewer_id == bob_id)) == 0
    assert db.session.get(ViewerProfile, bob_id) is None
    assert by_handle(account, "ann_50%") is not None  # nobody else touched


# --- ownership -----------------------------------------------------------------------------------


def test_every_studio_page_fragment_action_and_channel_refuses_another_streamer(client, account):
    make_user("mallory")
    bob = by_handle(account, "bob.builder")
    tier = db.session.scalar(sa.select(VipTier).where(VipTier.account_id == account.id))
    base = f"/studio/accounts/{account.id}"
    pages = [base, f"{base}/viewers", f"{base}/viewers?q=bob", f"{base}/viewers/{bob.id}",
             f"{base}/viewers/export?format=csv", f"{base}/viewers/export?format=json",
             f"{base}/viewers/{bob.id}/export", f"{base}/viewers/{bob.id}/delete", f"{base}/leaderboards",
             f"{base}/heatmap", f"{base}/tiers", f"{base}/settings"]
    actions = [f"{base}/viewers/{bob.id}", f"{base}/viewers/{bob.id}/favorite", f"{base}/viewers/{bob.id}/delete",
               f"{base}/tiers", f"{base}/tiers/{tier.id}", f"{base}/tiers/{tier.id}/move",
               f"{base}/tiers/{tier.id}/delete", f"{base}/settings", f"{base}/pause", f"{base}/unlink"]
    for url in pages:  # logged out: log in first
        assert client.get(url).status_code == 302, url
    token = log_in(client, "mallory")
    for url in pages:
        assert client.get(url).status_code == 404, url
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 404, url
    for url in actions:
        assert client.post(url, data={"csrf_token": token, "confirm": "bob.builder", "direction": "up"}
                           ).status_code == 404, url
    assert by_handle(account, "bob.builder") is not None and len(vip.tiers_in_order(account)) == 4
    # The owner's own viewer, addressed through another account's URL, is a 404 too.
    own = tiktok.link_account(db.session.scalar(sa.select(type(account.owner)).where(
        type(account.owner).username == "mallory")), "mallory.live")
    assert client.get(f"/studio/accounts/{own.id}/viewers/{bob.id}").status_code == 404
    assert client.post(f"/studio/accounts/{own.id}/tiers/{tier.id}/delete", data={"csrf_token": token}
                       ).status_code == 404
    assert not may_subscribe(own.owner, f"studio:{account.id}")
    assert not may_subscribe(AnonymousUserMixin(), f"studio:{account.id}")
    assert may_subscribe(account.owner, f"studio:{account.id}")


def test_profile_shows_the_linked_shoppers_orders_in_the_streamers_shop_only(client, account):
    """The join: gifts and watchtime on TikTok, orders in the shop; another seller's orders stay private."""
    import uuid

    from services import accounts
    from services import checkout as checkouts
    from tests.factories import make_product, make_seller

    own_shop = accounts.open_shop(account.owner, "Riley's Shop", "rileys-shop")
    _, other_shop = make_seller("othersell")
    mug = make_product(own_shop, "Riley Mug", 2800)
    vase = make_product(other_shop, "Secret Vase", 9900)
    shopper = make_user("sam", display_name="Sam Shopper")
    for product in (mug, vase):
        checkout = checkouts.buy_now_checkout(product.id, 1)
        checkouts.place_order(shopper, checkout, uuid.uuid4().hex, checkout.fingerprint())
    bob = by_handle(account, "bob.builder")
    bob.linked_user_id = shopper.id
    db.session.commit()
    log_in(client, "riley")
    body = client.get(f"/studio/accounts/{account.id}/viewers/{bob.id}").get_data(as_text=True)
    assert "Linked to shopper <strong>Sam Shopper</strong>" in body
    assert "Spent $28.00" in body and "$28.00" in body and "$99.00" not in body
    linked = client.get(f"/studio/accounts/{account.id}/viewers/export?format=json&filter=linked").get_json()
    assert [(row["handle"], row["linked_customer"]) for row in linked] == [("bob.builder", "sam")]


def test_a_29_february_birthday_comes_up_on_28_february_in_other_years(account):
    dan = by_handle(account, "dan")
    dan.birthday_month, dan.birthday_day, dan.birthday_year = 2, 29, 2000
    db.session.commit()
    before = datetime(2027, 2, 25, 12, 0, tzinfo=UTC)
    assert [(item.day.isoformat(), item.days_until, item.age) for item in studio.upcoming_birthdays(account, before)
            ] == [("2027-02-28", 3, 27)]
    leap = datetime(2028, 2, 25, 12, 0, tzinfo=UTC)
    assert [item.day.isoformat() for item in studio.upcoming_birthdays(account, leap)] == ["2028-02-29"]
    assert studio.upcoming_birthdays(account, datetime(2027, 3, 1, 12, 0, tzinfo=UTC)).items == []


def test_the_top_gifters_of_the_live_are_by_their_coins_in_it(account):
    """The LIVE's gifts summed per viewer (not their all-time coins), most first, ties by profile,
    at most five; another LIVE's gifts do not count."""
    room, start = "7300000000000000003", NOW - timedelta(minutes=5)
    people = [viewer(number, handle) for number, handle in
              ((1, "ann_50%"), (2, "bob.builder"), (3, "cat_x"), (4, "dan"), (5, "eve"), (6, "fay"))]
    gifts = [gift(start, people[0], price=1, repeat=3, room=room),
             *(gift(start, people[number], price=5, room=room) for number in (1, 2, 3)),
             gift(start, people[4], price=2, room=room), gift(start, people[4], price=2, room=room),
             gift(start, people[5], price=1, room=room)]
    record(account, event("live_start", start, None, room=room), *gifts, at=start)
    gifters = studio_activity.live_picture(db.session.get(type(account), account.id)).gifters
    assert [(gifter.handle, gifter.coins) for gifter in gifters] == [
        ("bob.builder", 5), ("cat_x", 5), ("dan", 5), ("eve", 4), ("ann_50%", 3)]


def test_the_activity_feed_shows_who_came_on_their_birthday_at_their_arrival(account, client):
    """A viewer whose birthday it is (in the account's zone) is in the feed when they come, with
    their age; a viewer with another birthday is not. The overview shows it with its time."""
    from services import studio_activity

    ann, bob = by_handle(account, "ann_50%"), by_handle(account, "bob.builder")
    # Her birthday is the day she came (her gift, 30 minutes ago: the fixture), in the account's
    # zone; NOW's own day differs for half an hour after local midnight.
    today = local_time(NOW - timedelta(minutes=30), account.time_zone).date()
    ann.birthday_month, ann.birthday_day, ann.birthday_year = today.month, today.day, today.year - 30
    bob.birthday_month, bob.birthday_day = (today + timedelta(days=3)).month, (today + timedelta(days=3)).day
    db.session.commit()
    arrival = NOW - timedelta(minutes=2)
    record(account, event("comment", arrival, viewer(1, "ann_50%", nickname="Ann Fifty"), text="back again"),
           event("comment", arrival, viewer(2, "bob.builder", nickname="BOB the Builder"), text="hey"), at=NOW)
    feed = studio_activity.live_picture(account).feed
    birthdays = [(item.handle, item.text) for item in feed if item.kind == "birthday"]
    assert birthdays == [("ann_50%", "turns 30 today")]
    first_visit = NOW - timedelta(minutes=30)  # Ann's session in this LIVE began with her gift
    assert next(item.at for item in feed if item.kind == "birthday") == first_visit

    log_in(client, "riley")
    page = client.get(f"/studio/accounts/{account.id}").get_data(as_text=True)
    shown = local_time(first_visit, account.time_zone).strftime("%H:%M:%S")
    assert 'class="activity activity-birthday"' in page
    assert f">{shown}</time>" in page and ">Birthday</span>" in page and "turns 30 today" in page


def test_a_birthday_arrival_stays_in_the_feed_however_busy_the_chat_after_it(account):
    """The feed shows the newest 30 items, but who came on their birthday is pinned at its top for
    the whole LIVE: a chat of 100 comments a minute would push the arrival out in seconds."""
    from services import studio_activity

    ann = by_handle(account, "ann_50%")
    # Her birthday is the day she came (her gift, 30 minutes ago: the fixture), in the account's
    # zone; NOW's own day differs for half an hour after local midnight.
    today = local_time(NOW - timedelta(minutes=30), account.time_zone).date()
    ann.birthday_month, ann.birthday_day, ann.birthday_year = today.month, today.day, today.year - 30
    db.session.commit()
    chatter = viewer(2, "bob.builder", nickname="BOB the Builder")
    record(account, *(event("comment", NOW - timedelta(minutes=1) + timedelta(seconds=n), chatter, text=f"chat {n}")
                      for n in range(40)), at=NOW)
    feed = studio_activity.live_picture(account).feed
    assert len(feed) == 30
    assert [(item.handle, item.text) for item in feed if item.kind == "birthday"] == [("ann_50%", "turns 30 today")]
    assert feed[0].kind == "birthday"  # pinned on top, then the newest 29, newest first
    assert [item.text for item in feed[1:]] == [f"chat {n}" for n in range(39, 10, -1)]
