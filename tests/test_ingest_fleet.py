"""Many LIVEs in one worker: one gunicorn gevent worker follows several accounts at once, each
against its own room of the emulator at its own rate, through the real TikTokLive client. The same
TikTok users watch every LIVE; each account's profiles must be exactly what its own LIVE sent."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from extensions import db
from models import IngestLease, TikTokAccount, ViewerProfile
from services import tiktok
from tests.emulator_support import ingest_env, running_emulator
from tests.factories import make_user
from tests.support import running_server, wait_for
from tests.tiktok_emulator.generate import generated_script, truth

pytestmark = pytest.mark.server

#: handle -> the room's generator: its own rate, length and seed; the same viewer ids everywhere.
LIVES = {
    "fleet.fast": {"rate": 40, "events": 160, "viewers": 12, "seed": 1},
    "fleet.mid": {"rate": 15, "events": 90, "viewers": 12, "seed": 2},
    "fleet.slow": {"rate": 5, "events": 30, "viewers": 12, "seed": 3},
    "fleet.tiny": {"rate": 2, "events": 8, "viewers": 12, "seed": 4},
}


def fresh(statement):  # noqa: ANN001, ANN201
    try:
        return db.session.execute(statement).all()
    finally:
        db.session.rollback()


def profiles(account_id: int) -> dict[int, dict[str, int]]:
    rows = fresh(sa.select(ViewerProfile.tiktok_user_id, ViewerProfile.total_comments, ViewerProfile.total_likes,
                           ViewerProfile.total_coins).where(ViewerProfile.account_id == account_id))
    return {row[0]: {"comments": row[1], "likes": row[2], "coins": row[3]} for row in rows}


def test_one_worker_follows_several_lives_and_keeps_them_apart(app_ctx, tmp_path):
    streamer = make_user("fleet.streamer")
    accounts = {handle: tiktok.link_account(make_user(f"owner.{handle}") if n else streamer, f"@{handle}", "UTC").id
                for n, handle in enumerate(LIVES)}
    rooms = [{"unique_id": handle, "generate": spec} for handle, spec in LIVES.items()]
    with running_emulator(tmp_path, rooms) as emulator, running_server(ingest_env(app_ctx, emulator)):
        ids = list(accounts.values())
        wait_for(lambda: fresh(sa.select(sa.func.count()).select_from(TikTokAccount).where(
            TikTokAccount.id.in_(ids), TikTokAccount.status == "offline", TikTokAccount.room_id.is_not(None)))
                 == [(len(ids),)], timeout=300, message="every LIVE to end")
        holders = {row[0] for row in fresh(sa.select(IngestLease.holder).where(IngestLease.account_id.in_(ids)))}
        connections = emulator.state()["ws_connections"]
    # One process ran them all, one connection per LIVE.
    assert len(holders) == 1
    assert sorted(c["room_id"] for c in connections) == sorted(
        {c["room_id"] for c in connections}) and len(connections) == len(LIVES)
    for handle, spec in LIVES.items():
        expected = truth(generated_script(**spec))
        assert profiles(accounts[handle]) == expected, handle


def test_the_accounts_are_spread_over_the_workers(app_ctx, tmp_path):
    """Two workers, six LIVEs: each worker ends up following three (a worker that took more hands
    the surplus over), and no LIVE is followed by both."""
    owners = [make_user(f"spread.owner{n}") for n in range(6)]
    ids = [tiktok.link_account(owner, f"@spread.{n}", "UTC").id for n, owner in enumerate(owners)]
    rooms = [{"unique_id": f"spread.{n}", "generate": {"rate": 2, "events": 1000, "viewers": 5, "seed": n}}
             for n in range(6)]
    with running_emulator(tmp_path, rooms) as emulator, running_server(ingest_env(app_ctx, emulator), workers=2):

        def split() -> list[int] | None:
            rows = fresh(sa.select(IngestLease.holder, sa.func.count()).where(IngestLease.account_id.in_(ids))
                         .group_by(IngestLease.holder))
            counts = sorted(count for _, count in rows)
            return counts if counts == [3, 3] else None

        wait_for(split, timeout=180, message="three LIVEs per worker")

        def open_per_room() -> dict[int, int]:
            state = emulator.state()
            counts: dict[int, int] = {}
            for connection in state["ws_connections"]:
                counts[connection["room_id"]] = counts.get(connection["room_id"], 0) + 1
            for closed in state["ws_closed"]:
                counts[closed["room_id"]] -= 1
            return counts

        # One client per LIVE: a LIVE handed over was closed by one worker before the other opened it.
        wait_for(lambda: sorted(open_per_room().values()) == [1] * 6, timeout=120,
                 message="one connection per LIVE")
        assert split() == [3, 3]
