"""100 buyers press "Place order" at the same moment for 10 units, against a real gunicorn server:
exactly 10 paid orders, stock 0, and every other buyer told it sold out (no 5xx)."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from bench.checkout import checkout_race
from extensions import db
from models import Order, Product
from tests.conftest import server_env
from tests.factories import make_product, make_seller, make_user
from tests.support import running_server

pytestmark = pytest.mark.server


def test_a_hundred_concurrent_checkouts_for_ten_units(app, app_ctx):
    product = make_product(make_seller("hot-seller")[1], "Hot Item", 5000, stock=10)
    usernames = [make_user(f"racer{n}").username for n in range(100)]
    db.session.commit()
    # PostgreSQL runs two worker processes, so the race really is between processes.
    workers = 2 if os.environ.get("DATABASE_URL") else 1
    with running_server(server_env(app), workers=workers) as server:
        result = checkout_race(server.url, usernames, product.id)
    assert sorted(set(result.statuses)) == [303, 422], (result.statuses, result.failures)
    assert result.orders == 10 and result.sold_out == 90 and result.errors == 0
    db.session.expire_all()
    assert db.session.scalar(sa.select(Product.stock).where(Product.id == product.id)) == 0
    paid = db.session.scalars(sa.select(Order).where(Order.status == "paid")).all()
    assert len(paid) == 10 and len({order.buyer_id for order in paid}) == 10
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 10
