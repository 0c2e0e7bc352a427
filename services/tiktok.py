"""Linked TikTok accounts (the streamer's side) and one-time link codes (the shopper's side)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import available_timezones

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import VIEWER_ROWS, IngestedMessage, TikTokAccount, TikTokLinkCode, User, ViewerProfile
from services.clock import SYSTEM_CLOCK, Clock
from services.errors import FieldError
from services.vip import seed_default_tiers

HANDLE = re.compile(r"^[a-z0-9_.]{2,24}$")
LINK_CODE_MINUTES = 15
# No 0/O or 1/I: the code is read off one screen and typed into another.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MAX_PENDING_CODES = 5


def fold(text: str) -> str:
    """Text as the search and the link codes compare it (casefolded)."""
    return text.casefold()


def normalise_handle(value: str, field: str = "handle") -> str:
    """A TikTok handle as we store it: lower-cased, without "@"; raises `FieldError` if impossible."""
    handle = (value or "").strip().lstrip("@").lower()
    if not HANDLE.match(handle):
        raise FieldError(field, "A TikTok handle has 2–24 letters, digits, dots or underscores.")
    return handle


def time_zones() -> list[str]:
    return sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC")


def owned_account(user: User, account_id: int) -> TikTokAccount | None:
    """The account if `user` owns it, else None (callers answer 404)."""
    account = db.session.get(TikTokAccount, account_id)
    return account if account is not None and account.owner_id == user.id else None


def user_accounts(user: User) -> list[TikTokAccount]:
    return list(db.session.scalars(
        sa.select(TikTokAccount).where(TikTokAccount.owner_id == user.id).order_by(TikTokAccount.created_at)
    ))


def link_account(user: User, handle: str, time_zone: str = "UTC") -> TikTokAccount:
    """Link a TikTok account by @handle for `user`, with the default VIP tiers."""
    handle = normalise_handle(handle)
    if time_zone not in available_timezones():
        raise FieldError("time_zone", "Choose a time zone from the list.")
    if db.session.scalar(sa.select(TikTokAccount.id).where(TikTokAccount.handle == handle)):
        raise FieldError("handle", "This TikTok account is already linked.")
    account = TikTokAccount(owner_id=user.id, handle=handle, time_zone=time_zone)
    db.session.add(account)
    try:
        db.session.flush()
        seed_default_tiers(account)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise FieldError("handle", "This TikTok account was just linked.") from None
    return account


@dataclass(frozen=True)
class AccountSettings:
    time_zone: str
    auto_vip: bool
    birthday_notices: bool
    session_timeout: int
    big_gift_threshold: int


def update_settings(account: TikTokAccount, settings: AccountSettings) -> None:
    if settings.time_zone not in available_timezones():
        raise FieldError("time_zone", "Choose a time zone from the list.")
    if not 30 <= settings.session_timeout <= 3600:
        raise FieldError("session_timeout", "The session timeout is between 30 and 3600 seconds.")
    if settings.big_gift_threshold < 0:
        raise FieldError("big_gift_threshold", "The big-gift threshold cannot be negative.")
    account.time_zone = settings.time_zone
    account.auto_vip = settings.auto_vip
    account.birthday_notices = settings.birthday_notices
    account.session_timeout = settings.session_timeout
    account.big_gift_threshold = settings.big_gift_threshold
    db.session.commit()


def set_paused(account: TikTokAccount, paused: bool) -> None:
    """Pause or resume ingest; the supervisor stops or starts the client within a lease period."""
    account.paused = paused
    if paused:
        account.status, account.last_error = "idle", None
    db.session.commit()


def unlink_account(account: TikTokAccount) -> None:
    """Remove the account and everything recorded about its viewers: their profiles (a cascade),
    their rows and the message ids it applied, which have no foreign key (models.tiktok.VIEWER_ROWS)."""
    account_id = account.id
    db.session.delete(account)
    # The account first: its delete waits for a batch or a sweep in flight (each holds a key-share
    # lock on the account's row: `hold_accounts`), so the rows they wrote are deleted too.
    db.session.flush()
    for model in (*VIEWER_ROWS, IngestedMessage):
        db.session.execute(sa.delete(model).where(model.account_id == account_id))
    db.session.commit()


def hold_accounts(account_ids: list[int]) -> dict[int, TikTokAccount]:
    """The accounts of these ids that exist, each held with a key-share lock until the transaction
    ends: what the writer and the sweep take before they write a viewer's rows or message ids,
    whose tables have no foreign key (models.tiktok.VIEWER_ROWS). It is the lock a foreign key's
    check takes; deleting a viewer or an account takes a stronger one, so each waits for the other."""
    return {account.id: account for account in db.session.scalars(
        sa.select(TikTokAccount).where(TikTokAccount.id.in_(account_ids)).with_for_update(key_share=True))}


def hold_account_exclusively(account_id: int) -> None:
    """Hold the account's row until the transaction ends against the writer and the sweep
    (`hold_accounts`): a batch in flight is waited for, and the next waits for this transaction."""
    db.session.execute(sa.select(TikTokAccount.id).where(TikTokAccount.id == account_id).with_for_update())


# --- shoppers linking their TikTok profile ----------------------------------------------------


def find_account(handle: str) -> TikTokAccount | None:
    try:
        handle = normalise_handle(handle, "account")
    except FieldError:
        return None
    return db.session.scalar(sa.select(TikTokAccount).where(TikTokAccount.handle == handle))


def request_link_code(user: User, account_handle: str, own_handle: str, clock: Clock = SYSTEM_CLOCK
                      ) -> TikTokLinkCode:
    """A one-time code, valid 15 minutes, that `user` types in the streamer's LIVE chat as @own_handle."""
    account = find_account(account_handle)
    if account is None:
        raise FieldError("account", "No streamer on Streamshop has linked this TikTok account.")
    own = normalise_handle(own_handle, "handle")
    now = clock.now()
    pending = db.session.scalar(sa.select(sa.func.count()).select_from(TikTokLinkCode).where(
        TikTokLinkCode.user_id == user.id, TikTokLinkCode.used_at.is_(None), TikTokLinkCode.expires_at > now))
    if pending >= MAX_PENDING_CODES:
        raise FieldError("handle", "You have several codes waiting; use one or wait for them to expire.")
    for _ in range(5):
        code = TikTokLinkCode(user_id=user.id, account_id=account.id, handle=fold(own),
                              code="".join(secrets.choice(CODE_ALPHABET) for _ in range(6)),
                              created_at=now, expires_at=now + timedelta(minutes=LINK_CODE_MINUTES))
        db.session.add(code)
        try:
            db.session.commit()
            return code
        except IntegrityError:  # the same code is pending for this account: draw another
            db.session.rollback()
    raise FieldError("handle", "Could not make a code; try again.")


def pending_codes(user: User, now: datetime) -> list[TikTokLinkCode]:
    return list(db.session.scalars(
        sa.select(TikTokLinkCode).where(TikTokLinkCode.user_id == user.id, TikTokLinkCode.used_at.is_(None),
                                        TikTokLinkCode.expires_at > now)
        .order_by(TikTokLinkCode.created_at.desc())
    ))


def linked_profiles(user: User) -> list[ViewerProfile]:
    """The TikTok viewer profiles linked to this shopper, with the streamer's account."""
    return list(db.session.scalars(
        sa.select(ViewerProfile).where(ViewerProfile.linked_user_id == user.id).order_by(ViewerProfile.id)
    ))


def account_linked_profiles(account: TikTokAccount) -> list[ViewerProfile]:
    return list(db.session.scalars(
        sa.select(ViewerProfile).where(ViewerProfile.account_id == account.id,
                                       ViewerProfile.linked_user_id.is_not(None))
        .order_by(ViewerProfile.handle)
    ))


def unlink_profile_by_shopper(user: User, profile_id: int) -> bool:
    """The shopper removes the link; False if that profile is not linked to them."""
    done = db.session.execute(sa.update(ViewerProfile).where(
        ViewerProfile.id == profile_id, ViewerProfile.linked_user_id == user.id).values(linked_user_id=None))
    db.session.commit()
    return done.rowcount == 1


def unlink_profile_by_streamer(account: TikTokAccount, profile_id: int) -> bool:
    done = db.session.execute(sa.update(ViewerProfile).where(
        ViewerProfile.id == profile_id, ViewerProfile.account_id == account.id).values(linked_user_id=None))
    db.session.commit()
    return done.rowcount == 1


def account_totals(account: TikTokAccount) -> dict[str, int]:
    """The status card's totals, kept on the account row (services/account_figures.py)."""
    return {"viewers": account.total_viewers, "coins": account.total_coins}
