"""Pages, fragments, error pages and security headers."""

from __future__ import annotations

import re

import pytest

from tests.factories import make_user
from tests.support import TEST_PASSWORD, csrf_from


@pytest.mark.parametrize("path", ["/", "/login", "/register"])
def test_pages_load_htmx_and_its_ws_extension_from_static(client, path):
    response = client.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>' in page
    assert '<script src="/static/vendor/htmx-ext-ws-2.0.4.js" defer></script>' in page
    assert "<script>" not in page  # no inline script: the CSP forbids it


def test_vendored_files_are_served(client):
    with client.get("/static/vendor/htmx-2.0.11.min.js") as htmx:
        assert htmx.status_code == 200 and b'version:"2.0.11"' in htmx.data
    with client.get("/static/vendor/htmx-ext-ws-2.0.4.js") as ws:
        assert ws.status_code == 200 and b"defineExtension('ws'" in ws.data


def test_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_navigation_for_guests_and_members(client, app_ctx):
    guest = client.get("/").get_data(as_text=True)
    assert ">Log in<" in guest and ">Register<" in guest and "Log out" not in guest
    make_user("nav", display_name="Nav Tester")
    client.post("/login", data={"csrf_token": csrf_from(guest), "identifier": "nav", "password": TEST_PASSWORD})
    member = client.get("/").get_data(as_text=True)
    assert "Nav Tester" in member and "Log out" in member and ">Log in<" not in member


def test_full_page_for_plain_and_boosted_requests_fragment_for_htmx(client):
    page = client.get("/login")
    assert "<html" in page.get_data(as_text=True)
    assert {"HX-Request", "HX-Boosted"} <= set(page.vary)
    fragment = client.get("/login", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and 'id="login-form"' in body
    assert "HX-Request" in fragment.vary
    boosted = client.get("/login", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)


def test_404_is_a_page_or_an_htmx_fragment(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert "<html" in page.get_data(as_text=True) and "There is nothing at this address." in page.get_data(as_text=True)
    fragment = client.get("/no/such/page", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 404
    assert "<html" not in body and 'data-status="404"' in body
    assert fragment.headers["HX-Retarget"] == "#flashes"


def test_500_rolls_back_and_shows_a_calm_page(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("kaput")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/boom")
    assert response.status_code == 500
    assert "Nothing was saved" in response.get_data(as_text=True)
    assert "kaput" not in response.get_data(as_text=True)


def test_open_a_shop_makes_the_user_a_seller(client, app_ctx):
    make_user("maker")
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"csrf_token": csrf_from(page), "identifier": "maker", "password": TEST_PASSWORD})
    account = client.get("/account/").get_data(as_text=True)
    assert "Open a shop" in account
    response = client.post(
        "/account/shop",
        data={"csrf_token": csrf_from(account), "name": "Maker Goods", "slug": "maker-goods"},
        follow_redirects=True,
    )
    body = response.get_data(as_text=True)
    assert "Your shop “Maker Goods” is open. You are now a seller." in body
    assert "maker-goods" in body
    import sqlalchemy as sa

    from extensions import db
    from models import User

    user = db.session.scalar(sa.select(User).where(User.username == "maker"))
    assert user.is_seller and user.shop.slug == "maker-goods"


def test_open_a_shop_with_bad_or_taken_slug(client, app_ctx):
    from tests.factories import make_seller

    make_seller("first")  # owns first-shop
    make_user("second")
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"csrf_token": csrf_from(page), "identifier": "second", "password": TEST_PASSWORD})
    token = csrf_from(client.get("/account/").get_data(as_text=True))
    bad = client.post("/account/shop", data={"csrf_token": token, "name": "Shop Two", "slug": "Not A Slug!"},
                      headers={"HX-Request": "true"})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "<html" not in body and 'id="open-shop"' in body
    assert "single dashes" in body and 'value="Shop Two"' in body
    taken = client.post("/account/shop", data={"csrf_token": token, "name": "Shop Two", "slug": "first-shop"})
    assert taken.status_code == 422
    assert "This address is taken" in taken.get_data(as_text=True)


def test_the_account_page_needs_login_and_shows_the_user(client, app_ctx):
    assert client.get("/account/").status_code == 302
    make_user("kate", display_name="Kate B")
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"csrf_token": csrf_from(page), "identifier": "kate", "password": TEST_PASSWORD})
    account = client.get("/account/").get_data(as_text=True)
    assert re.search(r"<dd>kate</dd>", account) and "Kate B" in account
