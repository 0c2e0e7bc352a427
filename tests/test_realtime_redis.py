"""With Redis, a fragment published in one gunicorn worker process reaches a websocket held by
another: two real servers on loopback, one database, one Redis."""

from __future__ import annotations

import pytest

from tests.conftest import requires_redis, server_env
from tests.factories import make_user
from tests.support import Browser, running_server
from tests.test_realtime import connect

pytestmark = [pytest.mark.server, requires_redis()]


def test_a_fragment_published_in_one_worker_reaches_a_socket_held_by_another(app, app_ctx):
    user = make_user("twotabs", display_name="Two Tabs")
    env = server_env(app)
    with (
        running_server(env) as first,
        running_server(env) as second,
        Browser(first.url) as tab_on_first,
        Browser(second.url) as tab_on_second,
    ):
        tab_on_first.log_in("twotabs")
        tab_on_second.log_in("twotabs")
        ws = connect(first, f"user:{user.id}", browser=tab_on_first)
        try:
            opened = tab_on_second.submit("/account/shop", {"name": "Two Tabs Co", "slug": "two-tabs"},
                                          page="/account/")
            assert opened.status_code == 200 and "is open" in opened.text
            message = ws.receive(timeout=120)
        finally:
            ws.close()
    assert message is not None, "the publish on the second server never reached the first"
    assert 'id="site-nav"' in message and 'hx-swap-oob="true"' in message and "Two Tabs" in message
