"""A sale is credited to a show only when that show features the product and is live (or saved,
for a replay): another seller's show, a show without the product, an unknown id get nothing."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from extensions import db
from models import CartItem, StreamOrder
from services import cart as carts
from services import checkout as checkouts
from services import live
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import TEST_PASSWORD, csrf_from


def place_buy_now(buyer, product, stream_id, source=None):  # noqa: ANN001, ANN201
    checkout = checkouts.buy_now_checkout(product.id, 1, stream_id, source)
    [order] = checkouts.place_order(buyer, checkout, uuid.uuid4().hex, checkout.fingerprint()).orders
    return order


def credited() -> list[tuple[int, str]]:
    return [(row.stream_id, row.source) for row in db.session.scalars(sa.select(StreamOrder).order_by(StreamOrder.id))]


@pytest.fixture(name="world")
def world_fixture(app_ctx):  # noqa: ANN001, ANN201
    _, shop = make_seller("honest")
    _, rival_shop = make_seller("rival")
    mug = make_product(shop, "Mug")
    other = make_product(shop, "Not Featured")
    return {"shop": shop, "mug": mug, "other": other, "show": make_stream(shop, [mug]),
            "rival_show": make_stream(rival_shop), "buyer": make_user("buyer")}


def test_a_live_show_featuring_the_product_is_credited(world):
    order = place_buy_now(world["buyer"], world["mug"], world["show"].id, "live")
    assert credited() == [(world["show"].id, "live")]
    assert order.items[0].stream_id == world["show"].id


@pytest.mark.parametrize("case", ["another sellers show", "not featured", "unknown id", "huge id", "scheduled"])
def test_anything_else_leaves_the_order_unattributed(world, case):
    product, stream_id = world["mug"], world["show"].id
    if case == "another sellers show":
        stream_id = world["rival_show"].id
    elif case == "not featured":
        product = world["other"]
    elif case == "unknown id":
        stream_id = 987654
    elif case == "huge id":
        stream_id = 2**63
    else:
        stream_id = make_stream(world["shop"], [world["mug"]], live=False).id
    order = place_buy_now(world["buyer"], product, stream_id, "live")
    assert credited() == []
    assert order.items[0].stream_id is None
    assert live.stats(world["rival_show"]).orders == 0


def test_a_saved_replay_is_credited_and_a_deleted_show_is_not(world):
    show = world["show"]
    live.end_show(show)
    live.save_show(show)
    place_buy_now(world["buyer"], world["mug"], show.id, "replay")
    assert credited() == [(show.id, "replay")]

    deleted = make_stream(world["shop"], [world["mug"]])
    live.end_show(deleted)
    live.delete_show(deleted)
    place_buy_now(world["buyer"], world["mug"], deleted.id, "live")
    assert credited() == [(show.id, "replay")]


def test_the_cart_applies_the_same_rule(world):
    carts.add_to_cart(world["buyer"], world["mug"], 1, stream_id=world["rival_show"].id, source="live")
    assert db.session.scalar(sa.select(CartItem.stream_id)) is None
    carts.add_to_cart(world["buyer"], world["mug"], 1, stream_id=world["show"].id, source="live")
    assert db.session.scalar(sa.select(CartItem.stream_id)) == world["show"].id


def test_over_http_a_foreign_or_unknown_stream_id_is_no_500(client, world):
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"csrf_token": csrf_from(page), "identifier": "buyer", "password": TEST_PASSWORD})
    for stream_id in (world["rival_show"].id, 987654, "2147483648", "99999999999999999999999"):
        response = client.get(f"/checkout/?product_id={world['mug'].id}&stream_id={stream_id}")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
        placed = client.post("/checkout/", data={**form, "stream_id": stream_id})
        assert placed.status_code == 303, placed.get_data(as_text=True)[:300]
    assert credited() == []
