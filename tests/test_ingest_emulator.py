"""The whole ingest path with real parts: the unmodified TikTokLive client in a gunicorn worker
(INGEST_ENABLED) connects to the TikTok emulator, and a scripted LIVE lands in the database."""

from __future__ import annotations

import base64
import re

import pytest
import sqlalchemy as sa
from TikTokLiveProto.v3.webcast.model.message import WebcastChatMessage
from TikTokLiveProto.v3.webcast.shared.message import CommonMessageData

from extensions import db
from models import TikTokAccount, ViewerActivity, ViewerGift, ViewerInteraction, ViewerProfile, ViewerSession
from services import tiktok
from services.local_time import heatmap_bucket
from tests.emulator_support import ingest_env, running_emulator, user
from tests.factories import make_user
from tests.support import running_server, wait_for
from tests.tiktok_emulator.server import encode_fields

pytestmark = pytest.mark.server

ALICE = user(1001, "alice_shop", "Alice", badges=[{"scene": "FANS", "level": 7, "url": "https://p16.test/fans.png"}])
BOB = user(1002, "bob_buyer", "Bob")
CAROL = user(1003, "carol", "Carol")
DAVE = user(1004, "dave_d", "Dave")
ERIN = user(1005, "erin", "Erin")

SCRIPT = [
    {"type": "join", "user": ALICE, "member_count": 12},
    {"type": "viewers", "total": 12, "total_user": 30, "top": [{**BOB, "score": 300}]},
    {"type": "comment", "user": ALICE, "text": "How much is the red bag?"},
    {"type": "gift_streak", "user": BOB, "gift": "Rose", "count": 5, "interval": 0.05},
    {"type": "gift", "user": CAROL, "gift": "Corgi"},
    {"type": "like", "user": ALICE, "count": 15, "total": 215},
    # A comment with no user, which the worker cannot read: logged and skipped, the stream goes on.
    {"type": "raw", "method": "WebcastChatMessage", "payload_b64": base64.b64encode(encode_fields(
        WebcastChatMessage, common=encode_fields(CommonMessageData, method="WebcastChatMessage", msg_id=777),
        content="who am I?")).decode()},
    {"type": "follow", "user": DAVE},
    {"type": "share", "user": CAROL},
    {"type": "drop"},  # an abrupt TCP drop: the ingester must reconnect by itself
    {"type": "comment", "user": ALICE, "text": "back again"},
    {"type": "live_end"},
]


def fresh(statement):  # noqa: ANN001, ANN201
    """Read what the server committed (and end our read transaction at once)."""
    try:
        return db.session.execute(statement).all()
    finally:
        db.session.rollback()


def test_scripted_live_through_the_real_client(app_ctx, tmp_path):
    streamer = make_user("streamer")
    account = tiktok.link_account(streamer, "@emu.host", "America/Los_Angeles")
    account_id = account.id
    # History the sign server sends on every (re)connect: the same message id each time.
    history = [{"type": "comment", "user": ERIN, "text": "earlier comment", "msg_id": 555}]
    rooms = [{"unique_id": "emu.host", "room_id": 7300000000000000042, "script": SCRIPT,
              "initial_messages": history}]
    with running_emulator(tmp_path, rooms) as emulator, running_server(ingest_env(app_ctx, emulator)) as server:
        wait_for(lambda: fresh(sa.select(TikTokAccount.status).where(TikTokAccount.id == account_id,
                                                                       TikTokAccount.room_id.is_not(None)))
                 == [("offline",)], timeout=120, message="the LIVE to end")
        state = emulator.state()
        log = server.output()

    assert len(state["ws_connections"]) == 2, log  # connected, dropped, re-established
    assert log.count("skipping a comment event on @emu.host that could not be read") == 1, log
    assert state["client_frames"]["im_enter_room"] == 2
    # Every push frame was acknowledged as TikTok expects (ingest/push_frames.py writes the bytes):
    # the frame's log id echoed, the fetch result's internal_ext as the payload.
    acks = state["acks"]
    assert len(acks) >= len(SCRIPT) - 2, acks
    assert all(ack["log_id"] > 0 and re.fullmatch(
        r"internal_src:dim\|wss_push_room_id:7300000000000000042\|seq:\d+\|wss_msg_type:r", ack["payload"])
        for ack in acks), acks

    profiles = {row.tiktok_user_id: row for row in db.session.scalars(sa.select(ViewerProfile))}
    assert set(profiles) == {1001, 1002, 1003, 1004, 1005}
    alice, bob, carol, dave, erin = (profiles[i] for i in (1001, 1002, 1003, 1004, 1005))
    assert (alice.handle, alice.nickname, alice.fan_level) == ("alice_shop", "Alice", 7)
    assert (alice.total_comments, alice.total_likes, alice.total_visits) == (2, 15, 1)
    assert (bob.total_coins, bob.total_gifts, bob.total_visits) == (5, 5, 1)  # one streak of 5 roses
    assert (carol.total_coins, carol.total_gifts, carol.total_shares) == (299, 1, 1)
    assert dave.follows_streamer and dave.followed_at is not None
    assert erin.total_comments == 1  # the history comment came twice, counted once
    assert all(profile.total_visits == 1 for profile in profiles.values())

    gifts = fresh(sa.select(ViewerGift.viewer_id, ViewerGift.gift_name, ViewerGift.quantity, ViewerGift.coins,
                            ViewerGift.sent_at).order_by(ViewerGift.id))
    assert [(g.viewer_id, g.gift_name, g.quantity, g.coins) for g in gifts] == [
        (bob.id, "Rose", 5, 5), (carol.id, "Corgi", 1, 299)]

    sessions = fresh(sa.select(ViewerSession.viewer_id, ViewerSession.room_id, ViewerSession.ended_at,
                               ViewerSession.open_viewer_id))
    assert sorted(s.viewer_id for s in sessions) == sorted(p.id for p in profiles.values())  # one each
    assert all(s.ended_at is not None and s.open_viewer_id is None for s in sessions)  # live end closed them
    assert {s.room_id for s in sessions} == {"7300000000000000042"}

    heat = fresh(sa.select(ViewerActivity.viewer_id, ViewerActivity.weekday, ViewerActivity.hour,
                           ViewerActivity.hits, ViewerActivity.coins))
    hits = {row.viewer_id: 0 for row in heat}
    for row in heat:
        hits[row.viewer_id] += row.hits
    # alice: join, comment, like, comment; bob: the gift (being in the top list is not a hit);
    # carol: gift, share; dave: follow; erin: comment.
    assert hits == {alice.id: 4, bob.id: 1, carol.id: 2, dave.id: 1, erin.id: 1}
    bob_rows = [row for row in heat if row.viewer_id == bob.id]
    assert [(r.weekday, r.hour, r.coins) for r in bob_rows] == [(*heatmap_bucket(gifts[0].sent_at,
                                                                                   "America/Los_Angeles"), 5)]
    likes = fresh(sa.select(ViewerInteraction.kind, ViewerInteraction.count).where(
        ViewerInteraction.viewer_id == alice.id).order_by(ViewerInteraction.id))
    assert likes == [("comment", 1), ("like", 15), ("comment", 1)]


def test_offline_account_is_rechecked_and_shown_offline(app_ctx, tmp_path):
    streamer = make_user("streamer")
    account_id = tiktok.link_account(streamer, "@sleepy", "UTC").id
    rooms = [{"unique_id": "sleepy", "live": False, "script": []}]
    with running_emulator(tmp_path, rooms) as emulator, running_server(ingest_env(app_ctx, emulator)):
        wait_for(lambda: fresh(sa.select(TikTokAccount.status).where(TikTokAccount.id == account_id))
                 == [("offline",)], timeout=120, message="status offline")
        # Checked again about once a recheck period (1 s here), never connected.
        wait_for(lambda: sum(1 for r in emulator.state()["http_requests"] if r["path"] == "/@sleepy/live") >= 3,
                 timeout=120, message="re-checks")
        assert emulator.state()["ws_connections"] == []


def test_rate_limited_sign_service_is_waited_out_and_reported(app_ctx, tmp_path):
    streamer = make_user("streamer")
    account_id = tiktok.link_account(streamer, "@busy.host", "UTC").id
    rooms = [{"unique_id": "busy.host", "script": [{"type": "wait", "delay": 30}]}]
    with running_emulator(tmp_path, rooms) as emulator:
        import httpx

        httpx.get(emulator.url + "/__emulator/sign_fail", params={"status": 429, "count": 1, "retry_after": 2})
        with running_server(ingest_env(app_ctx, emulator)):
            error = wait_for(lambda: fresh(sa.select(TikTokAccount.last_error).where(
                TikTokAccount.id == account_id, TikTokAccount.status == "error")), timeout=120, message="error")
            assert "Rate limited" in error[0][0]
            signed_at = [r for r in emulator.state()["sign_requests"]]
            wait_for(lambda: fresh(sa.select(TikTokAccount.status).where(TikTokAccount.id == account_id))
                     == [("live",)], timeout=120, message="live after the wait")
            state = emulator.state()
    assert len(state["sign_requests"]) == 2 and signed_at


def test_link_code_typed_in_the_live_chat_links_the_shopper(app_ctx, tmp_path):
    """A shopper's code typed in the emulator's chat by their handle links them; an expired code,
    a wrong code, or the right code from someone else's handle does not."""
    from datetime import timedelta

    from extensions import utcnow
    from tests.ingest_support import FakeClock

    streamer = make_user("streamer")
    tiktok.link_account(streamer, "@shop.host", "UTC")
    good, late, wrong, thief = (make_user(name) for name in ("goodshopper", "lateshopper", "wrongshopper", "victim"))
    good_code = tiktok.request_link_code(good, "@shop.host", "@good.tt").code
    late_code = tiktok.request_link_code(late, "shop.host", "late.tt",
                                         clock=FakeClock(utcnow() - timedelta(minutes=16))).code
    tiktok.request_link_code(wrong, "shop.host", "wrong.tt")
    victim_code = tiktok.request_link_code(thief, "shop.host", "victim.tt").code
    script = [
        {"type": "comment", "user": user(2001, "good.tt"), "text": f"link {good_code} please"},
        {"type": "comment", "user": user(2002, "late.tt"), "text": late_code},
        {"type": "comment", "user": user(2003, "wrong.tt"), "text": "ZZZZZZ"},
        {"type": "comment", "user": user(2004, "someone.else"), "text": victim_code},
        {"type": "live_end"},
    ]
    with running_emulator(tmp_path, [{"unique_id": "shop.host", "script": script}]) as emulator, \
            running_server(ingest_env(app_ctx, emulator)):
        wait_for(lambda: fresh(sa.select(sa.func.count()).select_from(ViewerProfile)) == [(4,)]
                 and fresh(sa.select(TikTokAccount.status).where(TikTokAccount.room_id.is_not(None)))
                 == [("offline",)], timeout=120, message="the LIVE to end")
    linked = dict(fresh(sa.select(ViewerProfile.handle, ViewerProfile.linked_user_id)))
    assert linked == {"good.tt": good.id, "late.tt": None, "wrong.tt": None, "someone.else": None}
