"""Malformed input gets a clear 4xx, never a 500 (the fuzz test, tests/test_fuzz.py, sweeps every
route; these are the cases the security review named)."""

from __future__ import annotations

import io
import re
import uuid

from services import checkout as checkouts
from tests.factories import make_product, make_seller, make_user
from tests.support import log_in_test_client as log_in


def test_ids_past_the_integer_range_are_404(client, app_ctx):
    make_user("buyer")
    log_in(client, "buyer")
    for path in ("/orders/2147483648", "/orders/9223372036854775808", "/live/" + "9" * 40, "/products/2147483648"):
        assert client.get(path).status_code == 404, path


def test_control_characters_in_text_are_refused_with_a_message(client, app_ctx):
    make_seller("potter")
    token = log_in(client, "potter")
    response = client.post("/seller/products/new", data={"csrf_token": token, "title": "Bowl\x00", "price": "5",
                                                          "currency": "USD", "stock": "1"})
    assert response.status_code == 400
    assert "cannot contain control characters" in response.get_data(as_text=True)


def test_a_file_in_a_text_field_is_refused(client, app_ctx):
    make_seller("potter")
    token = log_in(client, "potter")
    response = client.post("/seller/products/new", data={
        "csrf_token": token, "title": (io.BytesIO(b"not text"), "title.txt"), "price": "5", "currency": "USD",
        "stock": "1"})
    assert response.status_code == 400
    assert "A file was sent where text was expected." in response.get_data(as_text=True)


def test_huge_amounts_and_numbers_get_field_messages(client, app_ctx):
    make_seller("potter")
    token = log_in(client, "potter")
    response = client.post("/seller/products/new", data={"csrf_token": token, "title": "Bowl", "price": "1e309",
                                                          "currency": "USD", "stock": "99999999999999999999"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter an amount up to 1,000,000.00." in page and "Stock is a whole number" in page


def test_a_reused_checkout_key_of_another_buyer_is_refused(app_ctx):
    product = make_product(make_seller("s")[1], "Lamp")
    first, second = make_user("first"), make_user("second")
    key = uuid.uuid4().hex
    checkout = checkouts.buy_now_checkout(product.id, 1)
    checkouts.place_order(first, checkout, key, checkout.fingerprint())
    try:
        checkouts.place_order(second, checkout, key, checkout.fingerprint())
    except checkouts.CheckoutError as error:
        assert re.search("already used", str(error))
    else:
        raise AssertionError("a key already used by another buyer placed an order")
