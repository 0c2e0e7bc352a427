"""Registration, login, logout, throttling, redirects and CSRF."""

from __future__ import annotations

import pytest

from tests.factories import make_user
from tests.support import TEST_PASSWORD, csrf_from


def csrf(client, path: str = "/login") -> str:  # noqa: ANN001
    return csrf_from(client.get(path).get_data(as_text=True))


def log_in(client, identifier: str, password: str = TEST_PASSWORD, **extra):  # noqa: ANN001, ANN201
    return client.post(
        "/login", data={"csrf_token": csrf(client), "identifier": identifier, "password": password, **extra}
    )


def test_register_with_bad_input_shows_messages_and_keeps_values(client):
    response = client.post(
        "/register",
        data={
            "csrf_token": csrf(client, "/register"),
            "email": "not-an-email",
            "username": "ab",
            "display_name": "Kept Name",
            "password": "short",
            "confirm": "different",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a valid email address." in page
    assert "A username has 3 to 30 characters." in page
    assert "A password has 8 to 128 characters." in page
    assert "The passwords do not match." in page
    assert 'value="not-an-email"' in page and 'value="Kept Name"' in page and 'value="ab"' in page
    assert 'value="short"' not in page  # passwords are never echoed back


def test_register_creates_account_and_logs_in(client):
    response = client.post(
        "/register",
        data={
            "csrf_token": csrf(client, "/register"),
            "email": "Ada@Example.com",
            "username": "Ada",
            "display_name": "Ada Lovelace",
            "password": TEST_PASSWORD,
            "confirm": TEST_PASSWORD,
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Welcome to Streamshop, Ada Lovelace!" in page
    assert "ada@example.com" in page.replace("<wbr>", "")  # stored lower-cased (may break after the @)
    assert "Log out" in page


def test_register_refuses_taken_email_and_username(client, app_ctx):
    make_user("taken", email="taken@example.com")
    data = {"display_name": "X", "password": TEST_PASSWORD, "confirm": TEST_PASSWORD}
    response = client.post(
        "/register", data={"csrf_token": csrf(client, "/register"), "email": "TAKEN@example.com",
                           "username": "fresh", **data}
    )
    assert response.status_code == 422
    assert "An account with this email already exists." in response.get_data(as_text=True)
    response = client.post(
        "/register", data={"csrf_token": csrf(client, "/register"), "email": "new@example.com",
                           "username": "Taken", **data}
    )
    assert response.status_code == 422
    assert "This username is taken." in response.get_data(as_text=True)


@pytest.mark.parametrize("identifier", ["grace", "GRACE@example.com"])
def test_login_with_username_or_email(client, app_ctx, identifier):
    make_user("grace", email="grace@example.com", display_name="Grace Hopper")
    response = log_in(client, identifier)
    assert response.status_code == 303
    page = client.get("/account/").get_data(as_text=True)
    assert "Grace Hopper" in page and "Log out" in page


def test_login_failure_says_so_and_keeps_identifier(client, app_ctx):
    make_user("linus")
    response = log_in(client, "linus", "wrong password")
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "do not match" in page
    assert 'value="linus"' in page


def test_login_follows_a_local_next(client, app_ctx):
    make_user("alan")
    response = log_in(client, "alan", next="/account/?tab=shop")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/?tab=shop"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "http:/evil.example", "javascript:alert(1)"],
)
def test_login_refuses_an_offsite_next(client, app_ctx, target):
    make_user("barbara")
    response = log_in(client, "barbara", next=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_login_page_carries_next_into_the_form(client):
    page = client.get("/login?next=/account/").get_data(as_text=True)
    assert 'name="next" type="hidden" value="/account/"' in page


@pytest.mark.parametrize("path", ["/login", "/register", "/logout", "/account/shop"])
def test_post_without_csrf_token_is_refused(client, app_ctx, path):
    make_user("mallory")
    log_in(client, "mallory")
    response = client.post(path, data={"identifier": "mallory", "password": TEST_PASSWORD, "name": "x", "slug": "x"})
    assert response.status_code == 400
    assert "expired or was sent from elsewhere" in response.get_data(as_text=True)
    assert "Log out" in client.get("/account/").get_data(as_text=True)  # still logged in


def test_htmx_post_with_csrf_header_is_accepted(client, app_ctx):
    make_user("hedy")
    log_in(client, "hedy")
    token = csrf(client, "/account/")
    response = client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/"


def test_tenth_bad_password_in_a_row_is_throttled(client, app_ctx):
    make_user("target")
    for attempt in range(9):
        assert log_in(client, "target", f"guess {attempt}").status_code == 401
    throttled = log_in(client, "target", TEST_PASSWORD)  # even the right password waits now
    assert throttled.status_code == 429
    assert "Too many attempts" in throttled.get_data(as_text=True)


def test_a_successful_login_ends_the_run_of_failures(client, app_ctx):
    make_user("forgetful")
    for attempt in range(8):
        assert log_in(client, "forgetful", f"guess {attempt}").status_code == 401
    assert log_in(client, "forgetful").status_code == 303
    client.post("/logout", data={"csrf_token": csrf(client, "/account/")})
    for attempt in range(8):
        assert log_in(client, "forgetful", f"again {attempt}").status_code == 401
    assert log_in(client, "forgetful").status_code == 303


def test_failed_logins_are_limited_per_address_across_accounts(app, client, app_ctx):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "5 per 15 minutes"
    for number in range(5):
        assert log_in(client, f"nobody{number}", "x" * 8).status_code == 401
    assert log_in(client, "someone-else", "x" * 8).status_code == 429


def test_logout_is_post_only(client, app_ctx):
    make_user("ken")
    log_in(client, "ken")
    assert client.get("/logout").status_code == 405
    assert "Log out" in client.get("/account/").get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": csrf(client, "/account/")}, follow_redirects=True)
    assert "You are logged out." in response.get_data(as_text=True)
    assert client.get("/account/").status_code == 302


def test_remember_me_sets_a_lasting_cookie(client, app_ctx):
    make_user("margaret")
    log_in(client, "margaret", remember="y")
    assert client.get_cookie("remember_token") is not None


def test_without_remember_me_no_lasting_cookie(client, app_ctx):
    make_user("dennis")
    log_in(client, "dennis")
    assert client.get_cookie("remember_token") is None


def test_login_required_page_redirects_to_login_with_next(client):
    response = client.get("/account/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account/"


def test_htmx_request_needing_login_gets_hx_redirect_back_to_its_page(client):
    response = client.post(
        "/account/shop",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/account/?x=1",
                 "X-CSRFToken": csrf(client)},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login?next=/account/?x%3D1"
