"""A server restart loses no open page: the server closes its sockets with 1012 ("service
restart"), the page polls while the server is gone, reconnects when it is back on the same port,
catches up with what changed meanwhile and receives what is pushed afterwards, all without a reload.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from services import live
from tests.conftest import server_env
from tests.factories import make_product, make_seller, make_stream, make_user
from tests.support import READY_TIMEOUT, Browser, Server

#: Start-up plus the page's reconnect backoff (at most 5 s between tries), on a busy machine.
RECONNECT_MS = READY_TIMEOUT * 1000


def test_a_show_page_reconnects_after_a_server_restart_and_catches_up(app, app_ctx, new_page):
    seller, shop = make_seller("maya")
    tote = make_product(shop, "Linen Tote", 3200, stock=5)
    vase = make_product(shop, "Tall Vase", 4500, stock=5)
    show = make_stream(shop, [tote, vase], title="Restart Night")
    olive = make_user("olive", display_name="Olive Other")
    env = server_env(app)
    studio = f"/seller/shows/{show.id}"

    server = Server(env)
    try:
        page = new_page()
        page.goto(f"{server.url}/live/{show.id}")
        body = page.locator("body")
        expect(body).to_have_class(re.compile(r"\bsocket-up\b"))

        server.stop()
        expect(body).to_have_class(re.compile(r"\bsocket-down\b"))
        # Said while the server is away (straight into the shared database): nothing can push it.
        live.post_comment(show, olive, "Said while the server restarted")

        server = Server(env, port=server.port)
        expect(body).to_have_class(re.compile(r"\bsocket-up\b"), timeout=RECONNECT_MS)
        expect(page.locator(f"#chat-log-{show.id}")).to_contain_text("Said while the server restarted")

        # The socket is live again (polling has stopped): this pin can only arrive by push.
        with Browser(server.url) as seller_tab:
            seller_tab.log_in("maya")
            pinned = seller_tab.submit(f"{studio}/pin", {"product_id": str(vase.id)}, page=studio)
            assert pinned.status_code == 200, pinned.text[:300]
        featured = page.locator(".featured-product").first
        expect(featured).to_contain_text("Tall Vase")
        expect(featured).to_contain_text("Pinned by the seller")
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    finally:
        server.stop()
