"""The hub's contract, in process: publish reaches subscribers of that channel only; slow or
closed subscribers are dropped; shutdown ends every socket loop; broadcasts carry no identity."""

from __future__ import annotations

from realtime.channels import may_subscribe
from realtime.fragments import render_oob
from realtime.hub import CLOSED, LocalHub, RedisHub
from tests.factories import make_user
from tests.support import free_port


def test_publish_reaches_subscribers_of_the_channel_only():
    hub = LocalHub()
    listener = hub.subscribe(["stream:1", "user:7"])
    bystander = hub.subscribe(["stream:2"])
    hub.publish("stream:1", "<p id='a'>hello</p>")
    hub.publish("user:7", "<p id='b'>you</p>")
    assert listener.get(timeout=1) == "<p id='a'>hello</p>"
    assert listener.get(timeout=1) == "<p id='b'>you</p>"
    assert bystander.get(timeout=0.05) is None


def test_unsubscribed_socket_receives_nothing_more():
    hub = LocalHub()
    subscription = hub.subscribe(["stream:1"])
    hub.unsubscribe(subscription)
    assert hub.subscriber_count("stream:1") == 0
    hub.publish("stream:1", "late")
    assert subscription.get(timeout=0.05) is CLOSED


def test_the_in_process_hub_knows_whether_a_channel_is_heard():
    """The writer skips rendering a studio card nobody can hear; with Redis it cannot know."""
    hub = LocalHub()
    assert not hub.is_heard("studio:1")
    subscription = hub.subscribe(["studio:1"])
    assert hub.is_heard("studio:1") and not hub.is_heard("studio:2")
    hub.unsubscribe(subscription)
    assert not hub.is_heard("studio:1")
    hub.listen("studio:2", lambda html: None)
    assert hub.is_heard("studio:2")
    assert RedisHub("redis://127.0.0.1:9/0").is_heard("studio:1")  # a page may be on another worker


def test_a_subscriber_that_falls_too_far_behind_is_dropped():
    hub = LocalHub(max_queue=3)
    slow = hub.subscribe(["stream:1"])
    fast = hub.subscribe(["stream:1"])
    for number in range(3):
        hub.publish("stream:1", f"m{number}")
        assert fast.get(timeout=1) == f"m{number}"
    hub.publish("stream:1", "one too many")
    assert slow.closed and slow.close_reason == "overflow"
    assert hub.subscriber_count("stream:1") == 1
    assert fast.get(timeout=1) == "one too many"
    # The dropped socket's loop still wakes up and ends.
    messages = [slow.get(timeout=1) for _ in range(3)]
    assert CLOSED in messages


def test_a_backlog_is_drained_in_order_for_one_frame():
    hub = LocalHub()
    subscription = hub.subscribe(["stream:1"])
    for number in range(5):
        hub.publish("stream:1", f"<p>{number}</p>")
    assert subscription.get() == "<p>0</p>"
    assert subscription.drain(limit=3) == ["<p>1</p>", "<p>2</p>", "<p>3</p>"]
    assert subscription.drain(limit=10) == ["<p>4</p>"]
    assert subscription.drain(limit=10) == []


def test_shutting_down_ends_every_socket_loop_and_takes_no_new_socket():
    hub = LocalHub()
    subscriptions = [hub.subscribe([f"stream:{n}"]) for n in range(3)]
    hub.shut_down()
    # A socket admitted before the stop and subscribed after it ends at once as well.
    subscriptions.append(hub.subscribe(["stream:0"]))
    for subscription in subscriptions:
        assert subscription.get(timeout=1) is CLOSED
        assert subscription.close_reason == "shutdown"
    assert hub.ready() is False  # the handshake is refused (503) and the page retries elsewhere


def test_user_channel_rule(app_ctx):
    from flask_login import AnonymousUserMixin

    owner, other = make_user("owner"), make_user("other")
    assert may_subscribe(owner, f"user:{owner.id}")
    assert not may_subscribe(other, f"user:{owner.id}")
    assert not may_subscribe(AnonymousUserMixin(), f"user:{owner.id}")
    assert not may_subscribe(owner, "nosuchkind:1")
    assert not may_subscribe(owner, "user:")


def test_broadcast_fragments_carry_no_session_or_publisher(app, client, app_ctx):
    """Rendered for many readers: never the publisher's CSRF token or identity."""
    publisher = make_user("publisher", display_name="Pub Lisher")
    subject = make_user("subject", display_name="Sub Ject")
    with app.test_request_context("/"):
        from flask_login import login_user
        from flask_wtf.csrf import generate_csrf

        login_user(publisher)
        token = generate_csrf()
        html = render_oob("_nav.html", user=subject)
    assert 'hx-swap-oob="true"' in html and 'id="site-nav"' in html
    assert "Sub Ject" in html
    assert "Pub Lisher" not in html and token not in html and "csrf_token" not in html


def test_without_redis_a_publish_is_dropped_and_sockets_are_sent_polling():
    hub = RedisHub(f"redis://127.0.0.1:{free_port()}/0", prefix="nowhere:")
    subscription = hub.subscribe(["user:1"])
    # Nobody listens on that port: the socket is ended at once (its page polls), not left silent.
    assert subscription.get(timeout=10) is CLOSED and subscription.close_reason == "hub-down"
    assert hub.ready() is False
    hub.publish("user:1", "<p id='x'>dropped</p>")  # never raises: the change is already committed
    assert hub.check().startswith("error")
