"""Revocable sessions and a login that neither enumerates accounts nor locks them out.

Each test plays a thief who copied a browser's cookies: after logout, "log out everywhere" or a
password change, the copied `session` cookie alone and the `remember_token` alone must no longer
open /orders/.
"""

from __future__ import annotations

import pytest
from flask import g

from tests.factories import make_user
from tests.support import TEST_PASSWORD, csrf_from

NEW_PASSWORD = "a brand new secret"


def fresh_client(app, address: str = "127.0.0.1"):  # noqa: ANN001, ANN201
    g.pop("_login_user", None)  # the test's app context is shared by every client's requests
    g.pop("csrf_token", None)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def log_in(client, identifier: str, password: str = TEST_PASSWORD, remember: bool = True):  # noqa: ANN001, ANN201
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"csrf_token": token, "identifier": identifier, "password": password}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data)


def page_token(client, path: str = "/account/") -> str:  # noqa: ANN001
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    return csrf_from(client.get(path).get_data(as_text=True))


def stolen_cookies(client) -> dict[str, str]:  # noqa: ANN001
    return {name: client.get_cookie(name).value for name in ("session", "remember_token")}


def reads_orders(app, cookie_name: str, value: str) -> bool:  # noqa: ANN001
    """Whether a browser holding only this one cookie can read the orders page."""
    thief = fresh_client(app, "203.0.113.9")
    thief.set_cookie(cookie_name, value)
    response = thief.get("/orders/")
    return response.status_code == 200 and "Your orders" in response.get_data(as_text=True)


def assert_cookies_work(app, cookies: dict[str, str]) -> None:  # noqa: ANN001
    for name, value in cookies.items():
        assert reads_orders(app, name, value), f"{name} should still open /orders/"


def assert_cookies_revoked(app, cookies: dict[str, str]) -> None:  # noqa: ANN001
    for name, value in cookies.items():
        assert not reads_orders(app, name, value), f"{name} alone still opens /orders/"


def test_logout_makes_the_old_session_and_remember_cookies_worthless(app, app_ctx):
    make_user("ann")
    browser = fresh_client(app)
    assert log_in(browser, "ann").status_code == 303
    cookies = stolen_cookies(browser)
    assert_cookies_work(app, cookies)  # the check can fail: the copies work before logout

    other = fresh_client(app)
    assert log_in(other, "ann").status_code == 303
    assert browser.post("/logout", data={"csrf_token": page_token(browser)}).status_code == 303

    assert_cookies_revoked(app, cookies)
    assert_cookies_work(app, stolen_cookies(other))  # logging out here leaves the other device alone


def test_log_out_everywhere_ends_every_device(app, app_ctx):
    make_user("bea")
    laptop, phone = fresh_client(app), fresh_client(app)
    assert log_in(laptop, "bea").status_code == 303
    assert log_in(phone, "bea").status_code == 303
    laptop_cookies, phone_cookies = stolen_cookies(laptop), stolen_cookies(phone)
    assert_cookies_work(app, phone_cookies)

    response = laptop.post("/logout/everywhere", data={"csrf_token": page_token(laptop)}, follow_redirects=True)
    assert "You are logged out on every device." in response.get_data(as_text=True)

    assert_cookies_revoked(app, laptop_cookies)
    assert_cookies_revoked(app, phone_cookies)
    g.pop("_login_user", None)
    assert phone.get("/orders/").status_code == 302  # the phone itself is logged out too


def test_password_change_logs_out_every_other_device_and_keeps_this_one(app, app_ctx):
    make_user("cleo")
    laptop, phone = fresh_client(app), fresh_client(app)
    assert log_in(laptop, "cleo").status_code == 303
    assert log_in(phone, "cleo").status_code == 303
    laptop_before, phone_cookies = stolen_cookies(laptop), stolen_cookies(phone)

    response = laptop.post("/account/password", data={
        "csrf_token": page_token(laptop), "current_password": TEST_PASSWORD,
        "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
    }, follow_redirects=True)
    assert "Your password is changed. Every other device is logged out." in response.get_data(as_text=True)

    assert_cookies_revoked(app, laptop_before)
    assert_cookies_revoked(app, phone_cookies)
    assert_cookies_work(app, stolen_cookies(laptop))  # this browser got new cookies and stays in
    assert log_in(fresh_client(app), "cleo", TEST_PASSWORD).status_code == 401
    assert log_in(fresh_client(app), "cleo", NEW_PASSWORD).status_code == 303


def test_password_change_needs_the_current_password(app, app_ctx):
    make_user("dora")
    browser = fresh_client(app)
    log_in(browser, "dora")
    cookies = stolen_cookies(browser)
    response = browser.post("/account/password", data={
        "csrf_token": page_token(browser), "current_password": "not my password",
        "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
    })
    assert response.status_code == 422
    assert "That is not your current password." in response.get_data(as_text=True)
    assert_cookies_work(app, cookies)  # nothing was revoked
    assert log_in(fresh_client(app), "dora", TEST_PASSWORD).status_code == 303


def test_the_csrf_token_from_before_login_is_refused_after_it(app, app_ctx):
    make_user("eve")
    browser = fresh_client(app)
    before = csrf_from(browser.get("/login").get_data(as_text=True))
    response = browser.post("/login", data={"csrf_token": before, "identifier": "eve", "password": TEST_PASSWORD})
    assert response.status_code == 303
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    refused = browser.post("/logout", data={"csrf_token": before})
    assert refused.status_code == 400
    after = page_token(browser)
    assert after != before
    assert browser.post("/logout", data={"csrf_token": after}).status_code == 303


# --- login: no enumeration, no lock-out ----------------------------------------------------------


def test_unknown_and_known_users_cost_the_same_password_check(app, app_ctx, monkeypatch):
    """Equal time: a wrong password for a real account and any password for no account both run
    one full password hash check (timing figures: bench/login_timing.py)."""
    import werkzeug.security

    from services import accounts

    make_user("fay")
    checks: list[str] = []
    real_check = werkzeug.security.check_password_hash

    def counting_check(pwhash: str, password: str) -> bool:
        checks.append(pwhash.split("$", 1)[0])
        return real_check(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting_check)
    monkeypatch.setattr("models.user.check_password_hash", counting_check)
    known = log_in(fresh_client(app), "fay", "wrong password")
    unknown = log_in(fresh_client(app), "nobody-at-all", "wrong password")
    assert known.status_code == unknown.status_code == 401
    assert len(checks) == 2 and checks[0] == checks[1] == app.config["PASSWORD_HASH_METHOD"]
    known_page, unknown_page = known.get_data(as_text=True), unknown.get_data(as_text=True)
    assert known_page.replace(csrf_from(known_page), "T").replace('value="fay"', "I") == \
        unknown_page.replace(csrf_from(unknown_page), "T").replace('value="nobody-at-all"', "I")


@pytest.mark.parametrize("first, second", [("gus", "GUS@example.com"), ("gus@example.com", "Gus")])
def test_email_and_username_share_one_bucket(app, app_ctx, first, second):
    make_user("gus")
    guesser = fresh_client(app, "198.51.100.7")
    for attempt in range(5):
        assert log_in(guesser, first, f"guess {attempt}").status_code == 401
    for attempt in range(4):
        assert log_in(guesser, second, f"guess again {attempt}").status_code == 401
    assert log_in(guesser, second, "one more guess").status_code == 429
    assert log_in(guesser, first, "one more guess").status_code == 429


def test_guessing_does_not_lock_the_owner_out(app, app_ctx):
    """Back-off per client address, not a lock: the right password from elsewhere still works."""
    make_user("hal")
    guesser = fresh_client(app, "198.51.100.8")
    for attempt in range(9):
        assert log_in(guesser, "hal", f"guess {attempt}").status_code == 401
    assert log_in(guesser, "hal", TEST_PASSWORD).status_code == 429  # the guesser waits
    owner = fresh_client(app, "192.0.2.44")
    assert log_in(owner, "hal@example.com", TEST_PASSWORD).status_code == 303
    g.pop("_login_user", None)
    assert owner.get("/orders/").status_code == 200
