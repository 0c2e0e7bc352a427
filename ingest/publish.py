"""What the writer pushes to the streamer's studio after a batch: the account's card and notices."""

from __future__ import annotations

from collections.abc import Iterable

from extensions import db
from models import TikTokAccount
from realtime import publish
from realtime.channels import studio_channel
from realtime.fragments import render_oob
from services.notices import Notice
from services.tiktok import account_totals


def publish_account(account_id: int, notices: Iterable[Notice] = ()) -> None:
    """Render the account card (and any notices) once and publish them on the studio channel."""
    account = db.session.get(TikTokAccount, account_id)
    if account is None:
        return
    html = render_oob("studio/_account_card.html", account=account, totals=account_totals(account))
    notices = list(notices)
    if notices:
        html += render_oob("studio/_notices.html", account=account, notices=notices[-20:])
    publish(studio_channel(account_id), html)
