"""The streamer's linked-account pages and the shopper's link-code page: owner-only, CSRF, escaping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import g
from flask_login import AnonymousUserMixin

from extensions import db
from ingest import rules
from models import TikTokAccount, TikTokLinkCode, ViewerProfile
from realtime.channels import may_subscribe
from services import tiktok
from tests.factories import make_user
from tests.ingest_support import FakeClock, event, viewer
from tests.support import TEST_PASSWORD, csrf_from


def log_in(client, username: str) -> str:  # noqa: ANN001
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"csrf_token": csrf_from(page), "identifier": username, "password": TEST_PASSWORD})
    return csrf_from(client.get("/studio/").get_data(as_text=True))


def switch_clients() -> None:
    """The test's app context is shared by every request: forget the last client's user and token."""
    g.pop("_login_user", None)
    g.pop("csrf_token", None)


def test_a_streamer_links_an_account_and_sees_its_status(client, app_ctx):
    make_user("riley")
    token = log_in(client, "riley")
    page = client.get("/studio/").get_data(as_text=True)
    assert "No TikTok account linked yet" in page
    response = client.post("/studio/accounts", data={"csrf_token": token, "handle": "@Riley.Live",
                                                     "time_zone": "Europe/Berlin"}, follow_redirects=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "@riley.live is linked" in body and "Idle" in body
    account = db.session.scalar(sa.select(TikTokAccount))
    assert (account.handle, account.time_zone, account.status) == ("riley.live", "Europe/Berlin", "idle")
    assert f"studio:{account.id}" in body  # the page listens on the account's studio channel
    listing = client.get("/studio/").get_data(as_text=True)
    assert "@riley.live" in listing and f'id="account-card-{account.id}"' in listing

    bad = client.post("/studio/accounts", data={"csrf_token": token, "handle": "not a handle!", "time_zone": "UTC"})
    assert bad.status_code == 422 and "2–24 letters" in bad.get_data(as_text=True)
    taken = client.post("/studio/accounts", data={"csrf_token": token, "handle": "riley.live", "time_zone": "UTC"})
    assert taken.status_code == 422 and "already linked" in taken.get_data(as_text=True)


def test_settings_pause_and_the_error_status(client, app_ctx):
    owner = make_user("riley")
    account = tiktok.link_account(owner, "riley.live")
    token = log_in(client, "riley")
    url = f"/studio/accounts/{account.id}"
    saved = client.post(url + "/settings", data={"csrf_token": token, "time_zone": "Pacific/Auckland",
                                                 "auto_vip": "on", "session_timeout": "600",
                                                 "big_gift_threshold": "5000"}, follow_redirects=True)
    assert "Settings saved." in saved.get_data(as_text=True)
    db.session.refresh(account)
    assert (account.time_zone, account.auto_vip, account.birthday_notices, account.session_timeout,
            account.big_gift_threshold) == ("Pacific/Auckland", True, False, 600, 5000)
    invalid = client.post(url + "/settings", data={"csrf_token": token, "time_zone": "Mars/Olympus",
                                                   "session_timeout": "5", "big_gift_threshold": "x"})
    assert invalid.status_code == 422
    assert "Enter a number of coins." in invalid.get_data(as_text=True)

    paused = client.post(url + "/pause", data={"csrf_token": token, "paused": "1"}, follow_redirects=True)
    assert "is paused" in paused.get_data(as_text=True) and "Resume recording" in paused.get_data(as_text=True)
    client.post(url + "/pause", data={"csrf_token": token, "paused": "0"})
    rules.set_status(account.id, "error", "TikTok said <no>")
    page = client.get(url).get_data(as_text=True)
    assert "Error" in page and "TikTok said &lt;no&gt;" in page


def test_accounts_are_their_owners_alone(client, app_ctx):
    """S4: another user's account answers 404 on every page and action, and its channel is refused."""
    owner = make_user("riley")
    stranger = make_user("stranger")
    account = tiktok.link_account(owner, "riley.live")
    assert client.get(f"/studio/accounts/{account.id}").status_code == 302  # log in first
    token = log_in(client, "stranger")
    url = f"/studio/accounts/{account.id}"
    assert client.get(url).status_code == 404
    for action, data in (("/settings", {"time_zone": "UTC", "session_timeout": "300", "big_gift_threshold": "1"}),
                         ("/pause", {"paused": "1"}), ("/unlink", {"confirm": "riley.live"}),
                         ("/linked/1/unlink", {})):
        assert client.post(url + action, data={"csrf_token": token, **data}).status_code == 404
    assert db.session.get(TikTokAccount, account.id).paused is False
    assert "riley.live" not in client.get("/studio/").get_data(as_text=True)
    assert may_subscribe(owner, f"studio:{account.id}")
    assert not may_subscribe(stranger, f"studio:{account.id}")
    assert not may_subscribe(AnonymousUserMixin(), f"studio:{account.id}")
    assert not may_subscribe(owner, "studio:nope")


def test_every_post_needs_the_csrf_token(client, app_ctx):
    owner = make_user("riley")
    account = tiktok.link_account(owner, "riley.live")
    log_in(client, "riley")
    assert client.post("/studio/accounts", data={"handle": "x.y", "time_zone": "UTC"}).status_code == 400
    assert client.post(f"/studio/accounts/{account.id}/pause", data={"paused": "1"}).status_code == 400
    assert client.post("/account/tiktok/codes", data={"account": "riley.live", "handle": "me"}).status_code == 400


def test_unlinking_needs_the_handle_typed_and_deletes_the_viewers(client, app_ctx):
    owner = make_user("riley")
    account = tiktok.link_account(owner, "riley.live")
    rules.apply_batch(account.id, [event("comment", datetime.now(UTC), viewer(), text="hi")])
    token = log_in(client, "riley")
    url = f"/studio/accounts/{account.id}/unlink"
    kept = client.post(url, data={"csrf_token": token, "confirm": "wrong"}, follow_redirects=True)
    assert "Type the handle to confirm" in kept.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerProfile)) == 1
    gone = client.post(url, data={"csrf_token": token, "confirm": "riley.live"}, follow_redirects=True)
    assert "is unlinked" in gone.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TikTokAccount)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ViewerProfile)) == 0


def test_a_shopper_gets_a_code_sees_links_and_either_side_unlinks(client, app_ctx):
    streamer = make_user("riley", display_name="Riley")
    shopper = make_user("sam", display_name="Sam <Shopper>")
    account = tiktok.link_account(streamer, "riley.live")
    token = log_in(client, "sam")
    assert "Link your TikTok profile" in client.get("/account/").get_data(as_text=True)
    unknown = client.post("/account/tiktok/codes", data={"csrf_token": token, "account": "@nobody",
                                                         "handle": "@sam.tt"})
    assert unknown.status_code == 422 and "No streamer on Streamshop" in unknown.get_data(as_text=True)
    response = client.post("/account/tiktok/codes", data={"csrf_token": token, "account": "@Riley.Live",
                                                          "handle": "@Sam.TT"}, follow_redirects=True)
    code = db.session.scalar(sa.select(TikTokLinkCode))
    body = response.get_data(as_text=True)
    assert f"Type {code.code} in @riley.live" in body and "within 15 minutes" in body
    assert (code.handle, (code.expires_at - code.created_at).total_seconds()) == ("sam.tt", 900)

    # The code typed in the chat (through the same rules the ingester applies) links them.
    now = datetime.now(UTC)
    result = rules.apply_batch(account.id, [event("comment", now, viewer(77, "sam.tt"), text=f"hi {code.code}")],
                                 FakeClock(now))
    assert [n.kind for n in result.notices if n.kind == "linked"] == ["linked"]
    linked = client.get("/account/tiktok/").get_data(as_text=True)
    assert "@sam.tt in @riley.live" in linked and code.code not in linked  # used: no longer waiting

    profile = db.session.scalar(sa.select(ViewerProfile))
    streamer_view = client.application.test_client()
    switch_clients()
    log_in(streamer_view, "riley")
    studio_page = streamer_view.get(f"/studio/accounts/{account.id}/settings").get_data(as_text=True)
    assert "@sam.tt</a> is Sam &lt;Shopper&gt;" in studio_page
    assert streamer_view.post(f"/studio/accounts/{account.id}/linked/{profile.id}/unlink",
                              data={"csrf_token": csrf_from(studio_page)}).status_code == 303
    db.session.expire_all()
    assert db.session.get(ViewerProfile, profile.id).linked_user_id is None

    profile.linked_user_id = shopper.id
    db.session.commit()
    switch_clients()
    assert client.post(f"/account/tiktok/linked/{profile.id}/unlink", data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(ViewerProfile, profile.id).linked_user_id is None
    assert client.post(f"/account/tiktok/linked/{profile.id}/unlink", data={"csrf_token": token}).status_code == 404


def test_studio_publishes_go_to_the_owner_channel_escaped_and_without_private_notes(app_ctx):
    """S4: notices go to the account's own studio channel only, names are escaped, and nothing private
    (the streamer's notes) rides along; the original broadcast full profiles to every client."""
    from ingest.writer import Writer
    from realtime.hub import LocalHub

    hub = LocalHub()
    app_ctx.extensions["hub"] = hub
    owner = make_user("riley")
    account = tiktok.link_account(owner, "riley.live")
    other = tiktok.link_account(make_user("other"), "other.live")
    mine, theirs, everyone = (hub.subscribe([f"studio:{account.id}"]), hub.subscribe([f"studio:{other.id}"]),
                              hub.subscribe(["user:1"]))
    sneaky = viewer(9, "<script>alert(1)</script>")
    now = datetime.now(UTC)
    rules.apply_batch(account.id, [event("join", now, sneaky)])
    secret = db.session.scalar(sa.select(ViewerProfile))
    secret.notes = "owes me money"
    secret.birthday_month, secret.birthday_day = now.month, now.day
    db.session.commit()
    writer = Writer(app_ctx)
    writer.apply([replace(event("comment", now, sneaky, text="hello"), account_id=account.id),
                  replace(event("follow", now, sneaky), account_id=account.id)])
    message = mine.get(timeout=1)
    assert message is not None and f'id="account-card-{account.id}"' in message
    assert "&lt;script&gt;alert(1)&lt;/script&gt; followed you" in message
    assert "<script>alert" not in message and "owes me money" not in message
    assert "birthday" in message
    assert theirs.get(timeout=0.1) is None and everyone.get(timeout=0.1) is None
