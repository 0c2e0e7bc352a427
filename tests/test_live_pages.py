"""Live shows over HTTP: public pages, the audience's actions, the seller's interface and 403s."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import g

from extensions import db
from models import SavedStream
from services import live
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import TEST_PASSWORD, csrf_from, log_in_test_client


def log_in(client, username: str) -> str:  # noqa: ANN001
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"csrf_token": csrf_from(page), "identifier": username, "password": TEST_PASSWORD})
    return csrf_from(client.get("/").get_data(as_text=True))


@pytest.fixture(name="show")
def show_fixture(app_ctx):  # noqa: ANN001, ANN201
    seller, shop = make_seller("host")
    return make_stream(shop, [make_product(shop, "Blue Vase", 4200, stock=3)], title="Vase Night")


def test_the_live_index_lists_live_upcoming_and_replays(client, show):
    shop = show.shop
    make_stream(shop, live=False, title="Next Week Special")
    ended = make_stream(shop, title="Last Week")
    live.end_show(ended)
    live.save_show(ended)
    page = client.get("/live/").get_data(as_text=True)
    live_now, upcoming, replays = page.split("<h2")[1:4]
    assert "Vase Night" in live_now and "Next Week Special" in upcoming and "Last Week" in replays


def test_the_home_page_shows_live_upcoming_and_replays_and_in_development_the_demo_logins(app, client, show):
    from services.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

    live.pin_product(show, show.featured[0].product_id)
    make_stream(show.shop, live=False, title="Next Week Special")
    ended = make_stream(show.shop, title="Last Week")
    live.end_show(ended)
    live.save_show(ended)
    page = client.get("/").get_data(as_text=True)
    live_now, upcoming, replays = page.split('<h2 id="live-now-title"')[1].split("<h2")[:3]
    assert "Vase Night" in live_now and "0 watching" in live_now and "Pinned:</span> Blue Vase · $42.00" in live_now
    assert "Next Week Special" in upcoming and "Last Week" in replays
    assert "demo logins" not in page  # tests (and production) have no demo banner
    app.config["STREAMSHOP_ENV"] = "development"
    try:
        banner = client.get("/").get_data(as_text=True)
    finally:
        app.config["STREAMSHOP_ENV"] = "testing"
    assert "Development: demo logins" in banner and DEMO_PASSWORD in banner
    assert all(f"<code>{account.username}</code>" in banner for account in DEMO_ACCOUNTS)


def test_the_public_page_shows_the_show_and_sets_a_visitor_cookie(client, show):
    response = client.get(f"/live/{show.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Vase Night" in page and "Blue Vase" in page and "$42.00" in page and "Buy now" in page
    assert f'/ws?channel=stream:{show.id}"' in page
    assert show.stream_key not in page  # the key is the owner's secret
    assert client.get_cookie("visitor_id") is not None
    assert 'hx-trigger="socket-poll from:body"' in page


def test_logged_out_like_goes_to_login_and_back(client, show):
    token = csrf_from(client.get(f"/live/{show.id}").get_data(as_text=True))
    response = client.post(f"/live/{show.id}/react/like",
                           headers={"HX-Request": "true", "X-CSRFToken": token,
                                    "HX-Current-URL": f"http://localhost/live/{show.id}"})
    assert response.headers["HX-Redirect"] == f"/login?next=/live/{show.id}"


def test_a_poll_answered_after_a_logged_out_like_keeps_the_like(app, client, show):
    """The show's catch-up poll (fired as its socket opens) can leave before a logged-out like and
    come back after it; the browser then stores whatever session cookie the poll set, last. A poll
    changes nothing, so it must set none, or the like kept through the login is lost (it was: Flask-Login
    marked every anonymous session "not fresh", a session write, on every request)."""
    make_user("fan")
    token = csrf_from(client.get(f"/live/{show.id}").get_data(as_text=True))
    cookie_before_like = client.get_cookie("session").value
    liked = client.post(f"/live/{show.id}/react/like",
                        headers={"HX-Request": "true", "X-CSRFToken": token,
                                 "HX-Current-URL": f"http://localhost/live/{show.id}"})
    assert liked.headers["HX-Redirect"] == f"/login?next=/live/{show.id}"

    poll = app.test_client()
    poll.set_cookie("session", cookie_before_like)
    g.pop("_login_user", None)  # the test client shares `g` between requests; a server does not
    answer = poll.get(f"/live/{show.id}/refresh", headers={"HX-Request": "true"})
    assert answer.status_code == 200
    for header in answer.headers.getlist("Set-Cookie"):  # as the browser does, the last answer wins
        if header.startswith("session="):
            client.set_cookie("session", header.split(";")[0].removeprefix("session="))

    log_in_test_client(client, "fan")
    page = client.get(f"/live/{show.id}").get_data(as_text=True)
    assert "You liked “Vase Night”." in page
    assert live.stats(show).likes == 1


def test_like_by_htmx_returns_the_pressed_buttons_with_counts(client, show):
    make_user("fan")
    token = log_in(client, "fan")
    response = client.post(f"/live/{show.id}/react/like", headers={"HX-Request": "true", "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert re.search(r'class="reaction reaction-like" aria-pressed="true"><span>Like<span class="name-comma">,'
                     rf'</span></span> <span id="like-count-{show.id}" class="count">1</span></button>', body)


def test_comments_are_escaped(client, show):
    make_user("hacker")
    token = log_in(client, "hacker")
    client.post(f"/live/{show.id}/comments", data={"comment": "<script>alert(1)</script>"},
                headers={"HX-Request": "true", "X-CSRFToken": token})
    page = client.get(f"/live/{show.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_comment_errors_come_back_on_the_form(client, show):
    make_user("fan")
    token = log_in(client, "fan")
    response = client.post(f"/live/{show.id}/comments", data={"comment": "   "},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 422 and "Write something first." in response.get_data(as_text=True)


def test_comments_are_rate_limited_per_user(client, show):
    make_user("spammer")
    token = log_in(client, "spammer")
    answers = [client.post(f"/live/{show.id}/comments", data={"comment": f"msg {n}"},
                           headers={"HX-Request": "true", "X-CSRFToken": token}) for n in range(4)]
    assert [answer.status_code for answer in answers] == [204, 204, 204, 429]
    assert answers[-1].headers["Retry-After"] == "2"  # "3 per 2 seconds" was the limit hit
    assert "Too many attempts" in answers[-1].get_data(as_text=True)
    assert [c.comment_text for c in live.comments(show)] == ["msg 0", "msg 1", "msg 2"]


def test_the_stream_interface_is_the_owners_alone(client, show):
    assert client.get(f"/seller/shows/{show.id}").status_code == 302  # logged out: log in first
    make_seller("rival")
    token = log_in(client, "rival")
    assert client.get(f"/seller/shows/{show.id}").status_code == 403
    assert client.get(f"/seller/shows/{show.id}/refresh").status_code == 403
    for action in ("go-live", "end", "save", "delete", "pin", "mute/1", "comments/1/delete"):
        assert client.post(f"/seller/shows/{show.id}/{action}", data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    make_user("shopper")
    token = log_in(client, "shopper")
    assert client.get(f"/seller/shows/{show.id}").status_code == 403
    db.session.refresh(show)
    assert show.status == "live"


def test_the_owner_sees_the_key_stats_and_controls(client, show):
    token = log_in(client, "host")
    page = client.get(f"/seller/shows/{show.id}").get_data(as_text=True)
    assert show.stream_key in page and "End stream" in page and "revenue" in page
    assert f'/ws?channel=stream-seller:{show.id}&' in page
    refresh = client.get(f"/seller/shows/{show.id}/refresh", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'id="stream-stats-{show.id}"' in refresh and 'hx-swap-oob="true"' in refresh and "<html" not in refresh
    assert token


def test_create_a_show_with_validation(client, app_ctx):
    seller, shop = make_seller("creator")
    product = make_product(shop, "Lamp")
    token = log_in(client, "creator")
    bad = client.post("/seller/shows/new", data={"csrf_token": token, "title": "", "when": "later"})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Give the show a title." in body and "Feature at least one product." in body
    assert "Choose when the show starts." in body
    good = client.post("/seller/shows/new", data={"csrf_token": token, "title": "Lamp Hour", "when": "now",
                                                  "product_ids": [str(product.id)],
                                                  "playback_url": "https://video.example/live.m3u8"})
    assert good.status_code == 303
    stream = live.shop_shows(shop)[0]
    assert stream.title == "Lamp Hour" and stream.status == "scheduled"
    assert stream.playback_url == "https://video.example/live.m3u8"
    assert [item.product_id for item in stream.featured] == [product.id]


def test_end_then_save_says_it_is_saved_for_on_demand_viewing(client, show):
    token = log_in(client, "host")
    ended = client.post(f"/seller/shows/{show.id}/end", data={"csrf_token": token}, follow_redirects=True)
    body = ended.get_data(as_text=True)
    assert "The show has ended" in body and "Save stream" in body and "Delete stream" in body
    assert "The show has ended: nobody is watching." in body and "Nobody is watching yet" not in body
    saved = client.post(f"/seller/shows/{show.id}/save", data={"csrf_token": token}, follow_redirects=True)
    assert "“Vase Night” is saved for on-demand viewing." in saved.get_data(as_text=True)
    assert db.session.scalar(sa.select(SavedStream.stream_id)) == show.id


def test_end_then_delete_says_it_ended_and_was_not_saved(client, show):
    token = log_in(client, "host")
    client.post(f"/seller/shows/{show.id}/end", data={"csrf_token": token})
    # Posted without the page's confirmation (its script had not run): asked on a page, nothing deleted.
    asked = client.post(f"/seller/shows/{show.id}/delete", data={"csrf_token": token})
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Are you sure?" in page and "Delete this show? It will not be kept" in page
    db.session.refresh(show)
    assert show.awaiting_decision
    deleted = client.post(f"/seller/shows/{show.id}/delete", data={"csrf_token": token, "confirmed": "yes"},
                          follow_redirects=True)
    body = deleted.get_data(as_text=True)
    assert "“Vase Night” has ended and was not saved." in body and "Ended (not saved)" in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedStream)) == 0


def test_the_replay_page_has_the_chat_in_order_and_buyable_products(client, show):
    fan = make_user("fan", display_name="Fan One")
    for text in ("alpha-one", "bravo-two", "charlie-three"):
        live.post_comment(show, fan, text)
    live.end_show(show)
    saved = live.save_show(show)
    assert client.get(f"/live/{show.id}").headers["Location"] == f"/live/replays/{saved.id}"
    page = client.get(f"/live/replays/{saved.id}").get_data(as_text=True)
    assert page.index("alpha-one") < page.index("bravo-two") < page.index("charlie-three")
    assert "Blue Vase" in page and "Buy now" in page
    assert '<input type="hidden" name="source" value="replay">' in page
