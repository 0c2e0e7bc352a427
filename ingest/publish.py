"""What the writer pushes after a batch: the account's card and notices to the streamer's studio,
and the LIVE's new chat and gifts to the console of a show linked to the account."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from extensions import db
from ingest.records import EventRecord
from ingest.rules import counted_gift, gift_coins
from models import LiveStream, TikTokAccount, ViewerProfile
from realtime import is_heard, publish
from realtime.channels import seller_channel, studio_channel
from realtime.fragments import render_oob
from services import live
from services.console_chat import TikTokLine
from services.notices import Notice
from services.studio_activity import gift_text
from services.tiktok import account_totals

log = logging.getLogger(__name__)


def publish_account(account_id: int, notices: Iterable[Notice] = ()) -> None:
    """Render the account card (and any notices) once and publish them on the studio channel.

    Not even rendered when no studio page can hear it (the in-process hub knows its sockets): a page
    opened later renders the card itself, and notices are only ever shown as they happen. Rendering
    the cards of 200 LIVEs nobody watched took 5% of the worker following them."""
    if not is_heard(studio_channel(account_id)):
        return
    account = db.session.get(TikTokAccount, account_id)
    if account is None:
        return
    html = render_oob("studio/_account_card.html", account=account, totals=account_totals(account))
    notices = list(notices)
    if notices:
        html += render_oob("studio/_notices.html", account=account, notices=notices[-20:])
    publish(studio_channel(account_id), html)


def _key(message_id: str) -> str:
    return "m" + re.sub(r"[^A-Za-z0-9_-]", "_", message_id)[:80]


def publish_consoles(chats: Mapping[int, Iterable[EventRecord]]) -> None:
    """Push each account's committed new TikTok comments and completed gifts (account id -> records)
    to the console of the show live with that account linked to it (if any); the shows are looked
    up with one statement for all the accounts of the batch. One account's failure is logged and
    does not stop the others."""
    wanted = {account_id: chat for account_id, records in chats.items() if (chat := [
        record for record in records if record.user is not None
        and ((record.kind == "comment" and record.data.get("text")) or counted_gift(record))])}
    if not wanted:
        return
    shows = live.live_shows_for_tiktok_accounts(list(wanted))
    for account_id, stream_id in shows.items():
        try:
            _publish_console(account_id, stream_id, wanted[account_id])
        except Exception:  # noqa: BLE001 - a failed publish must not lose the next batch
            db.session.rollback()
            log.exception("could not publish the chat of account %d to its show's console", account_id)


def _publish_console(account_id: int, stream_id: int, wanted: list[EventRecord]) -> None:
    """Blocked viewers are left out, as in the studio."""
    blocked = set(db.session.scalars(sa.select(ViewerProfile.tiktok_user_id).where(
        ViewerProfile.account_id == account_id, ViewerProfile.is_blocked.is_(True),
        ViewerProfile.tiktok_user_id.in_({record.user.id for record in wanted}))))
    lines = [
        TikTokLine(_key(record.message_id), record.time, record.kind, record.user.handle or str(record.user.id),
                   record.user.nickname or record.user.handle or str(record.user.id),
                   str(record.data["text"]) if record.kind == "comment" else
                   gift_text(str(record.data.get("gift_name") or "a gift"), record.data["repeat_count"],
                             gift_coins(record)))
        for record in sorted(wanted, key=lambda record: record.time) if record.user.id not in blocked
    ]
    if lines:
        stream = db.session.get(LiveStream, stream_id)
        publish(seller_channel(stream_id), "".join(
            render_oob("shows/_tiktok_line.html", stream=stream, line=line) for line in lines))
