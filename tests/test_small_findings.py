"""The smaller findings of the security review: the cart's back-redirect, a deleted show, caching
of personal pages, HSTS in production."""

from __future__ import annotations

import pytest
from flask import g

from app import create_app
from realtime.channels import may_subscribe, stream_channel
from services import live
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import FAST_HASH
from tests.support import log_in_test_client as log_in


@pytest.mark.parametrize("referer, expected", [
    ("https://evil.example/phish", None),
    ("http://evil.example/live/1", None),
    ("javascript:alert(1)", None),
    ("http://localhost//evil.example/", None),
    ("http://localhost/live/?tab=replays", "/live/?tab=replays"),
])
def test_add_to_cart_goes_back_only_to_a_page_of_this_site(client, app_ctx, referer, expected):
    product = make_product(make_seller("s")[1], "Lamp")
    make_user("buyer")
    token = log_in(client, "buyer")
    response = client.post("/cart/add", data={"csrf_token": token, "product_id": product.id, "quantity": 1},
                           headers={"Referer": referer})
    assert response.status_code == 303
    assert response.headers["Location"] == (expected or f"/products/{product.id}")


def test_a_deleted_show_is_gone_page_chat_and_channel(client, app_ctx):
    _, shop = make_seller("host")
    show = make_stream(shop, [make_product(shop, "Vase")])
    fan = make_user("fan")
    assert client.get(f"/live/{show.id}").status_code == 200
    live.end_show(show)
    assert client.get(f"/live/{show.id}").status_code == 200  # ended, awaiting the seller's decision
    live.delete_show(show)
    assert client.get(f"/live/{show.id}").status_code == 404
    assert client.get(f"/live/{show.id}/refresh").status_code == 404
    token = log_in(client, "fan")
    assert client.post(f"/live/{show.id}/comments", data={"csrf_token": token, "comment": "hi"}).status_code == 404
    assert client.post(f"/live/{show.id}/react/like", data={"csrf_token": token}).status_code == 404
    assert not may_subscribe(fan, stream_channel(show.id))  # the socket's handshake answers 403


def test_personal_pages_are_never_cached(client, app_ctx):
    make_user("buyer")
    public = client.get("/live/")
    assert "no-store" not in public.headers.get("Cache-Control", "")
    log_in(client, "buyer")
    for path in ("/orders/", "/account/", "/cart/", "/"):
        g.pop("_login_user", None)
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "private, no-store", path
    g.pop("_login_user", None)
    static = client.get("/static/css/style.css")
    assert "no-store" not in static.headers.get("Cache-Control", "")
    static.close()


@pytest.mark.parametrize("hsts_seconds, expected", [(None, "max-age=31536000"), ("0", None), ("600", "max-age=600")])
def test_production_sends_hsts(tmp_path, database_uri, monkeypatch, hsts_seconds, expected):
    if hsts_seconds is None:
        monkeypatch.delenv("HSTS_SECONDS", raising=False)
    else:
        monkeypatch.setenv("HSTS_SECONDS", hsts_seconds)
    app = create_app({"STREAMSHOP_ENV": "production", "SECRET_KEY": "k", "SQLALCHEMY_DATABASE_URI": database_uri,
                      "INSTANCE_PATH": str(tmp_path / "instance"), "PASSWORD_HASH_METHOD": FAST_HASH})
    response = app.test_client().get("/login")
    assert response.headers.get("Strict-Transport-Security") == expected


def test_development_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
