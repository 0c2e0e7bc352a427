"""No input answers 5xx: every route in `app.url_map`, every form field, hostile values.

A shop owner with a product, a live show, a saved replay, a linked TikTok account with a viewer
and a VIP tier sends every route, with a valid CSRF token, first a fixed sweep of hostile values
(ids past 2^31 and 2^63, `1e309`, NUL and control characters, 5,000 characters, a file in a text
field) and then Hypothesis' mixtures of them. Runs on SQLite and, with DATABASE_URL, PostgreSQL.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage
from wtforms.fields.core import UnboundField

import forms.accounts
import forms.live
import forms.shop
import forms.studio
from extensions import db
from ingest import rules
from models import ViewerProfile
from services import live, tiktok, vip
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.ingest_support import FakeClock, event, viewer
from tests.support import TEST_PASSWORD, csrf_from

ROOT = Path(__file__).resolve().parent.parent
HOSTILE_NUMBERS = ["2147483648", "9223372036854775808", "9" * 40, "-1", "1e309", "NaN", "1.5", "0x10", "１２"]
HOSTILE_TEXT = ["", " ", "a\x00b", "\x1b[2J", "\u202eevil", "x" * 5000, "😀' OR 1=1 --", "../../etc/passwd"]
HOSTILE = HOSTILE_NUMBERS + HOSTILE_TEXT
#: The fixed sweep sends each of these in every field (Hypothesis mixes all of HOSTILE).
SWEEP = ["2147483648", "9" * 40, "-1", "1e309", "", "a\x00b", "x" * 5000, "😀' OR 1=1 --"]
HOSTILE_IN_URL = ["2147483648", "9223372036854775808", "9" * 40, "-1", "a\x00b"]
#: Routes that end the session (fuzzed by an anonymous client, so the owner stays logged in).
SESSION_ENDING = {"auth.logout", "auth.logout_everywhere", "auth.change_password"}
#: Routes that delete the fixtures other routes need: the sweep sends them last, Hypothesis never.
DESTRUCTIVE = re.compile(r"delete|unlink|remove|order_change|shows\.change")


def form_field_names() -> set[str]:
    """Every field of every form, and every name a route or service reads from the request."""
    names = {"csrf_token"}
    for module in (forms.accounts, forms.live, forms.shop, forms.studio):
        for cls in vars(module).values():
            if isinstance(cls, type):
                names |= {name for name, value in vars(cls).items() if isinstance(value, UnboundField)}
    source = "\n".join(path.read_text() for folder in ("blueprints", "services")
                       for path in (ROOT / folder).glob("*.py"))
    names |= set(re.findall(r"""(?:args|form|values)\.get(?:list)?\(\s*["']([a-z_]+)["']""", source))
    return names


FIELDS = sorted(form_field_names())
INT_ARG = re.compile(r"<int:(\w+)>")
ANY_ARG = re.compile(r"<any\(([^)]*)\):(\w+)>")
OTHER_ARG = re.compile(r"<(?:\w+:)?(\w+)>")


def build_url(rule: str, ids: dict[str, int], override: str | None = None) -> str:
    """`rule` with real ids (or `override` in every variable part)."""
    url = ANY_ARG.sub(lambda m: m.group(1).split(",")[0].strip().strip("'\""), rule)
    url = INT_ARG.sub(lambda m: override if override is not None else str(ids.get(m.group(1), 1)), url)
    return OTHER_ARG.sub(lambda m: override if override is not None else ids.get(m.group(1), "like"), url)


@pytest.fixture(name="world")
def world_fixture(app):  # noqa: ANN001, ANN201
    with app.app_context():
        owner, shop = make_seller("owner")
        product = make_product(shop, "Mug")
        show = make_stream(shop, [product])
        replay = make_stream(shop, [product], title="Old Show")
        live.end_show(replay)
        saved = live.save_show(replay)
        comment = live.post_comment(show, make_user("fan"), "hello")
        account = tiktok.link_account(owner, "owner.live", "UTC")
        now = datetime.now(UTC)
        rules.apply_batch(account.id, [event("comment", now, viewer(1, "bob"), text="hi")], FakeClock(now))
        tier = vip.add_tier(account, vip.TierDraft("Fuzz Tier", 100, 1, 1, "#ffd700", ""), now)
        profile_id = db.session.scalar(sa.select(ViewerProfile.id).where(ViewerProfile.account_id == account.id))
        ids = {"product_id": product.id, "stream_id": show.id, "saved_id": saved.id, "order_id": 1,
               "item_id": 1, "comment_id": comment.id, "user_id": 2, "account_id": account.id,
               "viewer_id": profile_id, "profile_id": profile_id, "tier_id": tier.id, "slug": shop.slug,
               "kind": "like", "name": "none.png", "filename": "css/style.css"}
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert client.post("/login", data={"csrf_token": csrf_from(page), "identifier": "owner",
                                       "password": TEST_PASSWORD}).status_code == 303
    token = csrf_from(client.get("/account/").get_data(as_text=True))
    routes = sorted(((rule.rule, method, rule.endpoint) for rule in app.url_map.iter_rules()
                     for method in sorted(rule.methods - {"HEAD", "OPTIONS"})),
                    key=lambda route: (bool(DESTRUCTIVE.search(route[2])), route))
    return {"client": client, "anonymous": app.test_client(), "token": token, "ids": ids, "routes": routes}


def send(world, rule: str, method: str, endpoint: str, url: str, fields: dict, file_field: str | None = None):  # noqa: ANN001, ANN201
    client = world["anonymous"] if endpoint in SESSION_ENDING else world["client"]
    headers = {"X-CSRFToken": world["token"]}
    if method == "GET":
        response = client.get(url, query_string=fields, headers=headers)
    else:
        data = {"csrf_token": world["token"], **fields}
        if file_field:
            data[file_field] = FileStorage(io.BytesIO(b"\x89PNG not really"), "evil.png", "image/png")
        response = client.open(url, method=method, data=data, headers=headers)
    status = response.status_code
    response.close()
    return status


def assert_no_5xx(world, rule, method, endpoint, url, fields, file_field=None) -> None:  # noqa: ANN001
    try:
        status = send(world, rule, method, endpoint, url, fields, file_field)
    except Exception as error:  # noqa: BLE001 - the test client re-raises what would be a 500
        pytest.fail(f"{method} {url} {fields!r:.300} file={file_field}: {type(error).__name__}: {error}")
    assert status < 500, f"{method} {url} {fields!r:.300} file={file_field}: {status}"


def test_every_route_and_field_survives_hostile_values(world):
    ids = world["ids"]
    for rule, method, endpoint in world["routes"]:
        for value in HOSTILE_IN_URL if "<" in rule else ():
            assert_no_5xx(world, rule, method, endpoint, build_url(rule, ids, value), {})
        for value in SWEEP:
            assert_no_5xx(world, rule, method, endpoint, build_url(rule, ids),
                          {field: value for field in FIELDS if field != "csrf_token"})
        if method == "POST":
            assert_no_5xx(world, rule, method, endpoint, build_url(rule, ids), {}, file_field="title")


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_mixtures_answer_no_5xx(world, data):
    routes = [route for route in world["routes"] if not DESTRUCTIVE.search(route[2])]
    rule, method, endpoint = data.draw(st.sampled_from(routes))
    value = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30),
                      st.integers(-(2**70), 2**70).map(str))
    fields = data.draw(st.dictionaries(st.sampled_from(FIELDS), value, max_size=6))
    url = build_url(rule, world["ids"], data.draw(st.one_of(st.none(), st.sampled_from(HOSTILE_NUMBERS))))
    assert_no_5xx(world, rule, method, endpoint, url, fields)
