"""Checkout rules, through the services: all or nothing, no overselling, one order per submit."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from extensions import db
from models import CartItem, Order, OrderItem, Product, StreamOrder
from services import cart as carts
from services import checkout as checkouts
from services import orders
from services.errors import FieldError
from tests.factories import make_product, make_seller, make_stream, make_user


def count(model) -> int:  # noqa: ANN001
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def stock_of(product: Product) -> int:
    return db.session.scalar(sa.select(Product.stock).where(Product.id == product.id))


def place(buyer, checkout, key=None):  # noqa: ANN001, ANN201
    return checkouts.place_order(buyer, checkout, key or uuid.uuid4().hex, checkout.fingerprint())


@pytest.fixture(name="shop")
def shop_fixture(app_ctx):  # noqa: ANN001, ANN201
    return make_seller("maker")[1]


def test_buy_now_places_a_paid_order_and_takes_stock(shop):
    buyer = make_user("buyer")
    mug = make_product(shop, "Blue Mug", 1250, stock=5)
    placed = place(buyer, checkouts.buy_now_checkout(mug.id, 2))
    [order] = placed.orders
    assert not placed.repeated
    assert order.status == "paid" and order.paid_at is not None
    assert order.total_cents == 2500 and order.currency == "USD" and order.shop_id == shop.id
    assert [(item.title, item.quantity, item.unit_price_cents) for item in order.items] == [("Blue Mug", 2, 1250)]
    assert stock_of(mug) == 3
    assert count(StreamOrder) == 0


def test_cart_checkout_empties_the_cart_and_attributes_stream_lines(shop):
    buyer = make_user("buyer")
    mug, tote = make_product(shop, "Mug", 1000), make_product(shop, "Tote", 3000)
    stream = make_stream(shop, [mug])
    carts.add_to_cart(buyer, mug, 2, stream_id=stream.id, source="live")
    carts.add_to_cart(buyer, tote, 1)
    [order] = place(buyer, checkouts.cart_checkout(buyer)).orders
    assert order.total_cents == 5000
    assert carts.cart_count(buyer) == 0
    rows = db.session.scalars(sa.select(StreamOrder)).all()
    attributed = [(row.stream_id, row.product_id, row.amount_cents, row.source) for row in rows]
    assert attributed == [(stream.id, mug.id, 2000, "live")]
    assert {item.title: item.stream_id for item in order.items} == {"Mug": stream.id, "Tote": None}


def test_a_line_short_of_stock_writes_nothing_and_names_the_line(shop):
    buyer = make_user("buyer")
    plenty, scarce = make_product(shop, "Plenty", stock=10), make_product(shop, "Scarce Vase", stock=1)
    carts.add_to_cart(buyer, plenty, 3)
    carts.add_to_cart(buyer, scarce, 1)
    checkout = checkouts.cart_checkout(buyer)
    db.session.execute(sa.update(Product).where(Product.id == scarce.id).values(stock=0))  # someone else bought it
    db.session.commit()
    with pytest.raises(checkouts.OutOfStock) as raised:
        place(buyer, checkout)
    assert "“Scarce Vase” is sold out." in str(raised.value)
    assert "Plenty" not in str(raised.value)
    assert count(Order) == 0 and count(OrderItem) == 0 and count(StreamOrder) == 0
    assert stock_of(plenty) == 10
    assert count(CartItem) == 2


def test_asking_for_more_than_is_left_says_how_many_are_left(shop):
    buyer = make_user("buyer")
    vase = make_product(shop, "Vase", stock=2)
    with pytest.raises(checkouts.OutOfStock, match=r"Only 2 of “Vase” left \(you asked for 3\)"):
        place(buyer, checkouts.buy_now_checkout(vase.id, 3))
    assert stock_of(vase) == 2 and count(Order) == 0


def test_a_double_submit_makes_one_order(shop):
    buyer = make_user("buyer")
    mug = make_product(shop, "Mug", stock=5)
    checkout = checkouts.buy_now_checkout(mug.id, 1)
    key = uuid.uuid4().hex
    first = place(buyer, checkout, key)
    second = place(buyer, checkouts.buy_now_checkout(mug.id, 1), key)
    assert second.repeated and [o.id for o in second.orders] == [o.id for o in first.orders]
    assert count(Order) == 1 and stock_of(mug) == 4


def test_changed_prices_stop_the_checkout(shop):
    buyer = make_user("buyer")
    mug = make_product(shop, "Mug", 1000)
    stale = checkouts.buy_now_checkout(mug.id, 1).fingerprint()
    mug.price_cents = 1500
    db.session.commit()
    with pytest.raises(checkouts.CheckoutError, match="changed since you opened checkout"):
        checkouts.place_order(buyer, checkouts.buy_now_checkout(mug.id, 1), uuid.uuid4().hex, stale)
    assert count(Order) == 0


def test_hidden_products_cannot_be_bought(shop):
    buyer = make_user("buyer")
    hidden = make_product(shop, "Secret", is_active=False)
    with pytest.raises(FieldError):
        carts.add_to_cart(buyer, hidden, 1)
    with pytest.raises(checkouts.OutOfStock):
        place(buyer, checkouts.buy_now_checkout(hidden.id, 1))


def test_a_cart_across_two_shops_makes_an_order_per_shop(shop):
    other_shop = make_seller("other")[1]
    buyer = make_user("buyer")
    carts.add_to_cart(buyer, make_product(shop, "Here", 100), 1)
    carts.add_to_cart(buyer, make_product(other_shop, "There", 200), 1)
    placed = place(buyer, checkouts.cart_checkout(buyer))
    assert sorted((o.shop_id, o.total_cents) for o in placed.orders) == [(shop.id, 100), (other_shop.id, 200)]


def test_cancel_returns_stock_and_refund_does_not(shop):
    buyer = make_user("buyer")
    mug = make_product(shop, "Mug", stock=5)
    [first] = place(buyer, checkouts.buy_now_checkout(mug.id, 2)).orders
    [second] = place(buyer, checkouts.buy_now_checkout(mug.id, 1)).orders
    assert stock_of(mug) == 2
    orders.cancel_order(first)
    assert first.status == "cancelled" and stock_of(mug) == 4
    orders.refund_order(second)
    assert second.status == "refunded" and stock_of(mug) == 4
    with pytest.raises(FieldError):
        orders.cancel_order(first)
    with pytest.raises(FieldError):
        orders.refund_order(first)


def test_quantity_limits_in_the_cart(shop):
    buyer = make_user("buyer")
    mug = make_product(shop, "Mug", stock=3)
    with pytest.raises(FieldError, match="Only 3"):
        carts.add_to_cart(buyer, mug, 4)
    with pytest.raises(FieldError, match="1 to 99"):
        carts.add_to_cart(buyer, mug, 0)
    item = carts.add_to_cart(buyer, mug, 2)
    carts.set_quantity(buyer, item.id, 0)
    assert carts.cart_count(buyer) == 0


def test_adding_to_the_cart_pushes_the_badge_to_the_users_tabs(app, shop):
    if hasattr(app.extensions["hub"], "redis"):
        pytest.skip("in-process delivery is what this checks; the Redis hub is covered on real servers")
    buyer = make_user("buyer")
    subscription = app.extensions["hub"].subscribe([f"user:{buyer.id}"])
    carts.add_to_cart(buyer, make_product(shop, "Mug"), 3)
    message = subscription.get(timeout=1)
    assert 'id="cart-badge"' in message and 'hx-swap-oob="true"' in message and ">3<" in message
