"""Live show rules, through the services (with explicit times where time matters)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_login import AnonymousUserMixin
from sqlalchemy.exc import IntegrityError

from extensions import db, utcnow
from models import SavedStream, StreamEvent, StreamInteraction, StreamOrder, StreamViewer
from realtime.channels import may_subscribe
from services import checkout as checkouts
from services import live, presence
from services.errors import FieldError
from tests.factories import make_product, make_seller, make_stream, make_user


@pytest.fixture(name="seller")
def seller_fixture(app_ctx):  # noqa: ANN001, ANN201
    return make_seller("host")


@pytest.fixture(name="stream")
def stream_fixture(seller):  # noqa: ANN001, ANN201
    return make_stream(seller[1])


def test_a_show_features_only_the_sellers_own_products(seller):
    rival_product = make_product(make_seller("rival")[1], "Not Yours")
    with pytest.raises(FieldError, match="your own shop"):
        make_stream(seller[1], [rival_product])


def test_status_goes_scheduled_live_ended(seller):
    stream = make_stream(seller[1], live=False)
    assert stream.status == "scheduled" and stream.stream_key.startswith("sk_")
    with pytest.raises(FieldError):
        live.save_show(stream)
    live.go_live(stream)
    assert stream.status == "live" and stream.started_at is not None
    with pytest.raises(FieldError):
        live.go_live(stream)
    live.end_show(stream)
    assert stream.status == "ended" and stream.awaiting_decision
    with pytest.raises(FieldError):
        live.end_show(stream)


def test_reactions_toggle_and_switch(stream):
    fan = make_user("fan")
    assert live.react(stream, fan, "like") == "like"
    assert (live.stats(stream).likes, live.stats(stream).dislikes) == (1, 0)
    assert live.react(stream, fan, "like") is None  # the same again removes it
    assert (live.stats(stream).likes, live.stats(stream).dislikes) == (0, 0)
    live.react(stream, fan, "like")
    assert live.react(stream, fan, "dislike") == "dislike"  # the other one switches it
    assert (live.stats(stream).likes, live.stats(stream).dislikes) == (0, 1)
    live.react(stream, make_user("other"), "like")
    assert (live.stats(stream).likes, live.stats(stream).dislikes) == (1, 1)


def test_the_database_refuses_a_second_reaction_row(stream):
    fan = make_user("fan")
    live.react(stream, fan, "like")
    db.session.add(StreamInteraction(stream_id=stream.id, user_id=fan.id, interaction_type="dislike"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "Write something first."), ("   \n ", "Write something first."),
     ("x" * 501, "at most 500 characters (this one has 501)")],
)
def test_comment_length_rules(stream, text, message):
    with pytest.raises(FieldError, match=message.replace("(", r"\(").replace(")", r"\)")):
        live.post_comment(stream, make_user("chatty"), text)


def test_comments_are_trimmed_and_500_characters_is_fine(stream):
    fan = make_user("fan")
    assert live.post_comment(stream, fan, "  hello  ").comment_text == "hello"
    assert len(live.post_comment(stream, fan, " " + "y" * 500 + " ").comment_text) == 500


def test_muted_users_and_ended_shows_cannot_comment(seller, stream):
    troll = make_user("troll")
    live.mute_user(stream, troll.id)
    with pytest.raises(FieldError, match="muted"):
        live.post_comment(stream, troll, "hi")
    live.end_show(stream)
    with pytest.raises(FieldError, match="while the show is live"):
        live.post_comment(stream, make_user("late"), "hi")


def test_a_deleted_comment_disappears(stream):
    fan = make_user("fan")
    keep, drop = live.post_comment(stream, fan, "keep me"), live.post_comment(stream, fan, "drop me")
    live.delete_comment(stream, drop.id)
    assert [c.comment_text for c in live.comments(stream)] == ["keep me"]
    assert live.stats(stream).comments == 1 and keep.deleted_at is None


def test_one_person_in_two_tabs_is_one_viewer(stream):
    fan = make_user("fan")
    assert presence.join(stream.id, fan.id, None) is True
    assert presence.join(stream.id, fan.id, None) is False  # second tab
    assert live.stats(stream).current_viewers == 1
    assert presence.leave(stream.id, fan.id, None) is False  # one tab still open
    assert live.stats(stream).current_viewers == 1
    assert presence.leave(stream.id, fan.id, None) is True
    assert live.stats(stream).current_viewers == 0
    presence.join(stream.id, fan.id, None)  # a reload: back, and still the same viewer
    db.session.refresh(stream)
    assert live.stats(stream).current_viewers == 1 and stream.unique_viewers == 1


def test_anonymous_visitors_are_told_apart_by_their_cookie(stream):
    presence.join(stream.id, None, "cookie-a")
    presence.join(stream.id, None, "cookie-a")
    presence.join(stream.id, None, "cookie-b")
    db.session.refresh(stream)
    assert live.stats(stream).current_viewers == 2 and stream.unique_viewers == 2


def test_a_viewer_without_heartbeat_for_60_seconds_is_gone(stream):
    fan, other = make_user("fan"), make_user("other")
    start = utcnow()
    presence.join(stream.id, fan.id, None, start)
    presence.join(stream.id, other.id, None, start)
    presence.heartbeat(stream.id, other.id, None, start + timedelta(seconds=50))
    assert presence.sweep(start + timedelta(seconds=59)) == []
    assert presence.sweep(start + timedelta(seconds=61)) == [stream.id]
    active = {v.user_id for v in live.active_viewers(stream)}
    assert active == {other.id}
    presence.sweep(start + timedelta(seconds=111))
    assert live.active_viewers(stream) == []


def test_unique_and_peak_viewers(stream):
    people = [make_user(f"v{n}") for n in range(3)]
    for person in people:
        presence.join(stream.id, person.id, None)
    for person in people[:2]:
        presence.leave(stream.id, person.id, None)
    presence.join(stream.id, None, "guest")
    db.session.refresh(stream)
    current = live.stats(stream)
    assert (current.current_viewers, current.peak_viewers, current.unique_viewers) == (2, 3, 4)


def test_nobody_joins_a_show_that_is_not_live(seller):
    scheduled = make_stream(seller[1], live=False)
    assert presence.join(scheduled.id, make_user("early").id, None) is False
    assert live.stats(scheduled).current_viewers == 0


def buy(buyer, stream, product, source="live"):  # noqa: ANN001, ANN201
    checkout = checkouts.buy_now_checkout(product.id, 1, stream.id, source)
    return checkouts.place_order(buyer, checkout, f"{buyer.id:032x}"[-32:], checkout.fingerprint()).orders[0]


def test_save_keeps_a_replay_with_the_final_stats(seller, stream):
    fan = make_user("fan")
    presence.join(stream.id, fan.id, None)
    live.react(stream, fan, "like")
    live.post_comment(stream, fan, "great show")
    order = buy(fan, stream, stream.featured[0].product)
    live.end_show(stream)
    saved = live.save_show(stream)
    assert (saved.unique_viewers, saved.peak_viewers, saved.likes, saved.comments, saved.orders) == (1, 1, 1, 1, 1)
    assert saved.revenue_cents == order.total_cents and saved.duration_seconds >= 0
    assert [r.id for r in live.replays()] == [saved.id]
    with pytest.raises(FieldError):
        live.delete_show(stream)


def test_delete_ends_without_a_replay_removes_presence_and_keeps_orders(seller, stream):
    fan = make_user("fan")
    presence.join(stream.id, fan.id, None)
    order = buy(fan, stream, stream.featured[0].product)
    live.end_show(stream)
    live.delete_show(stream)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedStream)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StreamViewer)) == 0
    assert db.session.scalar(sa.select(StreamOrder.order_id).where(StreamOrder.stream_id == stream.id)) == order.id
    assert stream.status == "ended" and not stream.awaiting_decision
    assert live.replays() == []
    with pytest.raises(FieldError):
        live.save_show(stream)


def test_deleting_a_show_is_pushed_to_the_sellers_other_consoles(app, seller, stream):
    if hasattr(app.extensions["hub"], "redis"):
        pytest.skip("in-process delivery is what this checks; the Redis hub is covered on real servers")
    console = app.extensions["hub"].subscribe([f"stream-seller:{stream.id}"])
    live.end_show(stream)
    live.delete_show(stream)
    pushed = ""
    deadline = time.monotonic() + 60
    while "Ended and deleted" not in pushed and time.monotonic() < deadline:
        pushed += console.get(timeout=0.5) or ""
    last = pushed[pushed.rindex(f'id="stream-controls-{stream.id}"'):]
    assert "Ended and deleted" in last and "Save stream" not in last


def test_orders_are_attributed_to_the_show_as_live_or_replay(seller, stream):
    product = stream.featured[0].product
    buy(make_user("live-buyer"), stream, product, "live")
    live.end_show(stream)
    live.save_show(stream)
    buy(make_user("replay-buyer"), stream, product, "replay")
    sources = db.session.scalars(sa.select(StreamOrder.source).where(StreamOrder.stream_id == stream.id)
                                 .order_by(StreamOrder.id)).all()
    assert sources == ["live", "replay"]


def test_the_timeline_records_every_change_with_its_offset(seller):
    stream = make_stream(seller[1], live=False)
    start = utcnow()
    live.go_live(stream, start)
    fan = make_user("fan")
    live.pin_product(stream, stream.featured[0].product_id)
    live.post_comment(stream, fan, "hi", start + timedelta(seconds=90))
    live.react(stream, fan, "like", start + timedelta(seconds=95))
    buy(fan, stream, stream.featured[0].product)
    live.end_show(stream, start + timedelta(seconds=300))
    events = db.session.scalars(sa.select(StreamEvent).where(StreamEvent.stream_id == stream.id)
                                .order_by(StreamEvent.id)).all()
    kinds = [event.kind for event in events]
    assert kinds[0] == "created" and kinds[1] == "went_live" and kinds[-1] == "ended"
    assert {"pinned", "comment", "reaction", "order"} <= set(kinds)
    offsets = {event.kind: event.offset_seconds for event in events}
    assert offsets["comment"] == 90 and offsets["reaction"] == 95 and offsets["ended"] == 300


def test_pinning_puts_the_product_first(seller):
    first, second = make_product(seller[1], "First"), make_product(seller[1], "Second")
    stream = make_stream(seller[1], [first, second])
    live.pin_product(stream, second.id)
    assert [item.product.title for item in stream.featured_products()] == ["Second", "First"]
    with pytest.raises(FieldError):
        live.pin_product(stream, make_product(seller[1], "Not featured").id)


def test_channel_rules(seller, stream):
    owner, _ = seller
    other_seller, _ = make_seller("other")
    assert may_subscribe(AnonymousUserMixin(), f"stream:{stream.id}")
    assert not may_subscribe(AnonymousUserMixin(), "stream:99999")
    assert may_subscribe(owner, f"stream-seller:{stream.id}")
    assert not may_subscribe(other_seller, f"stream-seller:{stream.id}")
    assert not may_subscribe(make_user("shopper"), f"stream-seller:{stream.id}")
    assert not may_subscribe(AnonymousUserMixin(), f"stream-seller:{stream.id}")


def test_public_channel_never_carries_private_data(app, seller, stream):
    if hasattr(app.extensions["hub"], "redis"):
        pytest.skip("in-process delivery is what this checks; the Redis hub is covered on real servers")
    public = app.extensions["hub"].subscribe([f"stream:{stream.id}"])
    private = app.extensions["hub"].subscribe([f"stream-seller:{stream.id}"])
    buyer = make_user("secret-buyer", display_name="Secret Buyer")
    live.react(stream, buyer, "like")
    buy(buyer, stream, stream.featured[0].product)
    public_messages = "".join(iter(lambda: public.get(timeout=0.05) or "", ""))
    private_messages = "".join(iter(lambda: private.get(timeout=0.05) or "", ""))
    assert f'id="like-count-{stream.id}"' in public_messages
    assert "Secret Buyer" not in public_messages and "revenue" not in public_messages
    assert "Secret Buyer" in private_messages and "revenue" in private_messages


def test_lookup_of_a_missing_show_raises_not_found_which_answers_404(app, client):
    from services.errors import NotFound

    with app.app_context(), pytest.raises(NotFound):
        live.get_stream(424242)
    assert client.get("/live/424242").status_code == 404


def test_a_show_can_be_linked_to_the_sellers_own_tiktok_account(seller):
    from services import tiktok

    owner, shop = seller
    account = tiktok.link_account(owner, "@host.live")
    stranger_account = tiktok.link_account(make_user("stranger"), "@not.yours")
    draft = live.ShowDraft("Linked", "", None, None, [make_product(shop, "Thing").id], account.id)
    stream = live.create_show(shop, draft)
    assert stream.tiktok_account_id == account.id
    assert live.live_shows_for_tiktok_accounts([account.id]) == {}  # not live yet
    live.go_live(stream)
    assert live.live_shows_for_tiktok_accounts([account.id]) == {account.id: stream.id}
    with pytest.raises(FieldError, match="your own linked TikTok accounts"):
        live.create_show(shop, live.ShowDraft("Theirs", "", None, None, [stream.featured[0].product_id],
                                              stranger_account.id))
