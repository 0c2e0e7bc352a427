"""The shop over HTTP: seller product management, public pages, cart, checkout, orders."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
import sqlalchemy as sa
from PIL import Image

from extensions import db
from models import Order, Product
from services import checkout as checkouts
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import TEST_PASSWORD, csrf_from


def image_bytes(image_format: str = "PNG", size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, (200, 80, 120)).save(buffer, format=image_format)
    return buffer.getvalue()


def log_in(client, username: str) -> str:  # noqa: ANN001
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"csrf_token": csrf_from(page), "identifier": username,
                                           "password": TEST_PASSWORD})
    assert response.status_code == 303
    return csrf_from(client.get("/").get_data(as_text=True))


def product_form(**overrides) -> dict:  # noqa: ANN003
    return {"title": "Glazed Bowl", "description": "Deep and wide.", "price": "24.50", "currency": "USD",
            "stock": "7", "is_active": "y", **overrides}


@pytest.fixture(name="seller_client")
def seller_client_fixture(client, app_ctx):  # noqa: ANN001, ANN201
    make_seller("potter")
    client.token = log_in(client, "potter")
    return client


def test_seller_adds_a_product_with_an_image(seller_client):
    response = seller_client.post(
        "/seller/products/new",
        data={"csrf_token": seller_client.token, **product_form(),
              "image": (BytesIO(image_bytes("WEBP")), "bowl.webp")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "“Glazed Bowl” is added to your shop." in response.get_data(as_text=True)
    product = db.session.scalar(sa.select(Product).where(Product.title == "Glazed Bowl"))
    assert (product.price_cents, product.currency, product.stock, product.is_active) == (2450, "USD", 7, True)
    assert product.image.endswith(".webp")
    with seller_client.get(f"/media/products/{product.image}") as served:
        assert served.status_code == 200 and served.mimetype == "image/webp"
    page = seller_client.get(f"/products/{product.id}").get_data(as_text=True)
    assert "$24.50" in page and "7 in stock" in page and "Add to cart" in page and "Buy now" in page


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (lambda: (BytesIO(image_bytes("GIF")), "anim.gif"), "Only JPEG, PNG and WebP images."),
        (lambda: (BytesIO(image_bytes("GIF")), "sneaky.png"), "Only JPEG, PNG and WebP images are accepted."),
        (lambda: (BytesIO(b"<script>alert(1)</script>"), "fake.png"), "not a JPEG, PNG or WebP image"),
        (lambda: (BytesIO(b"\x89PNG" + b"0" * (100 * 1024)), "huge.png"), "larger than 100 kB"),
    ],
)
def test_bad_images_are_refused_and_the_form_kept(app, seller_client, upload, message):
    # A small cap keeps the upload under 500 kB: werkzeug's test client spools bigger bodies to a
    # temporary file that it leaves open.
    app.config["PRODUCT_IMAGE_MAX_BYTES"] = 100 * 1024
    response = seller_client.post(
        "/seller/products/new",
        data={"csrf_token": seller_client.token, **product_form(title="Kept Title"), "image": upload()},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page and 'value="Kept Title"' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Product)) == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("price", "twelve", "Enter an amount like 12.50."), ("price", "-3", "Enter an amount of zero or more."),
     ("price", "1.234", "Use at most two decimal places."), ("stock", "-1", "Stock is a whole number"),
     ("title", "", "Give the product a title.")],
)
def test_product_form_validation(seller_client, field, value, message):
    response = seller_client.post("/seller/products/new",
                                  data={"csrf_token": seller_client.token, **product_form(**{field: value})})
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def potter_shop():  # noqa: ANN201
    from models import User

    return db.session.scalar(sa.select(User).where(User.username == "potter")).shop


def test_seller_edits_hides_and_deletes_their_product(seller_client):
    product = make_product(potter_shop(), "Old Name")
    edit_page = seller_client.get(f"/seller/products/{product.id}/edit").get_data(as_text=True)
    assert 'value="12.50"' in edit_page
    seller_client.post(f"/seller/products/{product.id}/edit",
                       data={"csrf_token": seller_client.token, **product_form(title="New Name", price="9.99")})
    db.session.refresh(product)
    assert (product.title, product.price_cents) == ("New Name", 999)
    seller_client.post(f"/seller/products/{product.id}/visibility", data={"csrf_token": seller_client.token,
                                                                          "visible": "0"})
    db.session.refresh(product)
    assert not product.is_active
    public = seller_client.get(f"/products/{product.id}").get_data(as_text=True)
    assert "Unavailable" in public and "Add to cart" not in public
    shop_page = seller_client.get(f"/shop/{product.shop.slug}").get_data(as_text=True)
    assert "New Name" not in shop_page
    # Posted without the page's confirmation (its script had not run): a page asks, nothing is deleted.
    asked = seller_client.post(f"/seller/products/{product.id}/delete", data={"csrf_token": seller_client.token})
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Are you sure?" in page and "Delete “New Name”? This cannot be undone." in page
    assert 'name="confirmed" value="yes"' in page and 'href="/seller/"' in page  # its button, and "Go back"
    assert db.session.get(Product, product.id) is not None
    response = seller_client.post(f"/seller/products/{product.id}/delete",
                                  data={"csrf_token": seller_client.token, "confirmed": "yes"}, follow_redirects=True)
    assert "“New Name” is deleted." in response.get_data(as_text=True)
    assert db.session.get(Product, product.id) is None


def test_an_ordered_product_cannot_be_deleted(seller_client):
    product = make_product(potter_shop(), "Popular")
    buyer = make_user("fan")
    checkout = checkouts.buy_now_checkout(product.id, 1)
    checkouts.place_order(buyer, checkout, "a" * 32, checkout.fingerprint())
    response = seller_client.post(f"/seller/products/{product.id}/delete",
                                  data={"csrf_token": seller_client.token, "confirmed": "yes"}, follow_redirects=True)
    assert "has been ordered, so it is kept for those orders. Hide it instead." in response.get_data(as_text=True)
    assert db.session.get(Product, product.id) is not None


def test_a_seller_cannot_touch_another_shops_product(seller_client):
    rival_product = make_product(make_seller("rival")[1], "Rival Thing")
    assert seller_client.get(f"/seller/products/{rival_product.id}/edit").status_code == 403
    for action in ("edit", "visibility", "delete"):
        response = seller_client.post(f"/seller/products/{rival_product.id}/{action}",
                                      data={"csrf_token": seller_client.token, **product_form()})
        assert response.status_code == 403, action
    db.session.refresh(rival_product)
    assert rival_product.title == "Rival Thing" and rival_product.is_active


def test_a_shopper_is_sent_to_open_a_shop_from_the_seller_pages(client, app_ctx):
    make_user("shopper")
    log_in(client, "shopper")
    response = client.get("/seller/", follow_redirects=True)
    assert "Open a shop to start selling." in response.get_data(as_text=True)


def test_logged_out_add_to_cart_goes_to_login_and_back_to_the_product(client, app_ctx):
    product = make_product(make_seller("s")[1], "Lamp")
    page = client.get(f"/products/{product.id}")
    token = csrf_from(page.get_data(as_text=True))
    plain = client.post("/cart/add", data={"csrf_token": token, "product_id": product.id, "quantity": 1},
                        headers={"Referer": f"http://localhost/products/{product.id}"})
    assert plain.status_code == 302 and plain.headers["Location"] == f"/login?next=/products/{product.id}"
    htmx = client.post("/checkout/buy-now", data={"product_id": product.id, "quantity": 1},
                       headers={"HX-Request": "true", "X-CSRFToken": token,
                                "HX-Current-URL": f"http://localhost/products/{product.id}"})
    assert htmx.headers["HX-Redirect"] == f"/login?next=/products/{product.id}"


def test_add_to_cart_by_htmx_returns_the_box_and_the_badge(client, app_ctx):
    product = make_product(make_seller("s")[1], "Lamp", stock=4)
    make_user("buyer")
    token = log_in(client, "buyer")
    response = client.post("/cart/add", data={"product_id": product.id, "quantity": 2},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert f'id="buy-box-{product.id}"' in body and "Added “Lamp” to your cart." in body
    assert re.search(r'id="cart-badge"[^>]*hx-swap-oob="true"[^>]*>2<', body)
    too_many = client.post("/cart/add", data={"product_id": product.id, "quantity": 3},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert too_many.status_code == 422 and "Only 4 of “Lamp” left." in too_many.get_data(as_text=True)


def test_checkout_over_http_places_one_order_however_often_it_is_submitted(client, app_ctx):
    product = make_product(make_seller("s")[1], "Kettle", 4500, stock=3)
    make_user("buyer")
    token = log_in(client, "buyer")
    buy_now = client.post("/checkout/buy-now", data={"csrf_token": token, "product_id": product.id, "quantity": 2})
    assert buy_now.status_code == 303
    page = client.get(buy_now.headers["Location"]).get_data(as_text=True)
    assert "Kettle" in page and "$90.00" in page and "Place order" in page
    form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
    first = client.post("/checkout/", data=form)
    again = client.post("/checkout/", data=form)
    assert first.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    order_page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "is placed and paid" in order_page and "$90.00" in order_page and "Paid" in order_page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 1
    assert db.session.scalar(sa.select(Product.stock).where(Product.id == product.id)) == 1


def test_checkout_over_http_names_the_line_that_ran_out(client, app_ctx):
    product = make_product(make_seller("s")[1], "Rare Print", stock=1)
    make_user("buyer")
    log_in(client, "buyer")
    page = client.get(f"/checkout/?product_id={product.id}&quantity=1").get_data(as_text=True)
    form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
    db.session.execute(sa.update(Product).values(stock=0))
    db.session.commit()
    response = client.post("/checkout/", data=form)
    assert response.status_code == 422
    assert "“Rare Print” is sold out." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_a_shopper_cannot_see_another_buyers_order(client, app_ctx):
    product = make_product(make_seller("s")[1], "Thing")
    owner = make_user("owner")
    make_user("nosy")
    checkout = checkouts.buy_now_checkout(product.id, 1)
    [order] = checkouts.place_order(owner, checkout, "b" * 32, checkout.fingerprint()).orders
    log_in(client, "nosy")
    assert client.get(f"/orders/{order.id}").status_code == 404
    assert "Thing" not in client.get("/orders/").get_data(as_text=True)


def test_seller_sees_and_cancels_their_shops_orders(client, app_ctx):
    seller, shop = make_seller("s")
    product = make_product(shop, "Teapot", 3000, stock=5)
    buyer = make_user("buyer", display_name="Bea Buyer")
    stream = make_stream(shop, [product])
    checkout = checkouts.buy_now_checkout(product.id, 2, stream_id=stream.id, source="live")
    [order] = checkouts.place_order(buyer, checkout, "c" * 32, checkout.fingerprint()).orders
    token = log_in(client, "s")
    page = client.get("/seller/orders").get_data(as_text=True)
    assert "Bea Buyer" in page and "2 × Teapot" in page and "$60.00" in page and "Friday Drop" in page
    response = client.post(f"/seller/orders/{order.id}/cancel", data={"csrf_token": token, "confirmed": "yes"},
                           follow_redirects=True)
    assert f"Order #{order.id} is cancelled; its stock is back on sale." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(Product.stock).where(Product.id == product.id)) == 5
    rival = make_seller("rival")[0]
    assert rival  # another seller's order is not theirs to change
    client.post("/logout", data={"csrf_token": token})
    rival_token = log_in(client, "rival")
    assert client.post(f"/seller/orders/{order.id}/refund", data={"csrf_token": rival_token}).status_code == 404


def test_buy_now_beyond_the_stock_warns_in_checkout_before_place_order(client, app_ctx):
    """"Buy now" for more than the stock reaches checkout with a warning and no way to place it."""
    _, shop = make_seller("potter")
    vase = make_product(shop, "Vase", 3000, stock=2)
    make_user("buyer")
    log_in(client, "buyer")
    page = client.get(f"/checkout/?product_id={vase.id}&quantity=3").get_data(as_text=True)
    assert "Only 2 of “Vase” left: you asked for 3. Lower the quantity to order." in page
    assert re.search(r'<button type="submit" class="button" disabled aria-disabled="true">Place order</button>', page)
    fine = client.get(f"/checkout/?product_id={vase.id}&quantity=2").get_data(as_text=True)
    assert "left: you asked for" not in fine and re.search(r'<button type="submit" class="button">Place order', fine)
