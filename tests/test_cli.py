"""`flask create-admin` and `flask seed-demo`."""

from __future__ import annotations

import sqlalchemy as sa

from extensions import db
from models import Shop, User
from services.demo import DEMO_ACCOUNTS, DEMO_PASSWORD


def test_seed_demo_is_idempotent_and_prints_the_logins(app, app_ctx):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    second = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    for account in DEMO_ACCOUNTS:
        assert account.email in first.output and account.username in first.output
    assert DEMO_PASSWORD in first.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == len(DEMO_ACCOUNTS) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Shop)) == 1
    seller = db.session.scalar(sa.select(User).where(User.username == "demo-seller"))
    assert seller.is_seller and seller.check_password(DEMO_PASSWORD)


def test_create_admin(app, app_ctx):
    result = app.test_cli_runner().invoke(
        args=["create-admin", "--email", "Root@Example.com", "--username", "root", "--password", "s3cret-enough"]
    )
    assert result.exit_code == 0, result.output
    admin = db.session.scalar(sa.select(User).where(User.username == "root"))
    assert admin.is_admin and admin.email == "root@example.com" and admin.check_password("s3cret-enough")


def test_create_admin_refuses_a_taken_username(app, app_ctx):
    runner = app.test_cli_runner()
    command = ["create-admin", "--username", "boss", "--password", "longenough", "--email"]
    runner.invoke(args=[*command, "a@example.com"])
    again = runner.invoke(args=[*command, "b@example.com"])
    assert again.exit_code != 0 and "This username is taken." in again.output
