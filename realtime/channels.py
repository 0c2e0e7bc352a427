"""Channels: every channel name, and who may subscribe to each kind.

A channel is named `kind:key` (`user:12`, `stream:5`, `stream-seller:5`, `studio:3`). Names are
built only by the functions below, and each kind has one rule, checked when a socket subscribes,
by the same standard as the page the channel belongs to. An unknown kind, or a key that is not an
id in range, is refused.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_login import AnonymousUserMixin

from models import MAX_ID, User

Viewer = User | AnonymousUserMixin
Rule = Callable[[Viewer, int], bool]

# --- names -------------------------------------------------------------------------------------


def user_channel(user_id: int) -> str:
    """A user's own header (navigation, cart badge), on every page they open."""
    return f"user:{user_id}"


def stream_channel(stream_id: int) -> str:
    """A show's public page: status, counts, chat, featured products. Public data only."""
    return f"stream:{stream_id}"


def seller_channel(stream_id: int) -> str:
    """A show's stream interface: stats with revenue, viewers with names, orders with buyers."""
    return f"stream-seller:{stream_id}"


def studio_channel(account_id: int) -> str:
    """A linked TikTok account's studio: status, notices, viewer data."""
    return f"studio:{account_id}"


def auction_floors_channel() -> str:
    """Between processes only: each auction's lowest acceptable bid after every accepted bid
    (services/auctions.py). Its kind has no rule, so no socket may subscribe to it."""
    return "internal:auction-floors"


def parse_id(key: str) -> int | None:
    """The id in a channel key, or None when the key is not a positive id in range."""
    if not key.isascii() or not key.isdigit() or len(key) > len(str(MAX_ID)):
        return None
    value = int(key)
    return value if 0 < value <= MAX_ID else None


# --- rules -------------------------------------------------------------------------------------

_rules: dict[str, Rule] = {}


def _rule(kind: str) -> Callable[[Rule], Rule]:
    def register(rule: Rule) -> Rule:
        _rules[kind] = rule
        return rule

    return register


def may_subscribe(viewer: Viewer, channel: str) -> bool:
    """Whether `viewer` may receive what is published on `channel`."""
    kind, _, key = channel.partition(":")
    rule = _rules.get(kind)
    ident = parse_id(key)
    return bool(rule is not None and ident is not None and rule(viewer, ident))


@_rule("user")
def _own_account_only(viewer: Viewer, user_id: int) -> bool:
    """A user's channel (their header: nav, cart badge) is theirs alone."""
    return bool(viewer.is_authenticated and viewer.id == user_id)


@_rule("stream")
def _anyone_may_watch(viewer: Viewer, stream_id: int) -> bool:
    """A show's public channel carries only what its public page shows."""
    from services.live import public_stream

    return public_stream(stream_id) is not None


@_rule("stream-seller")
def _show_owner_only(viewer: Viewer, stream_id: int) -> bool:
    """A show's stream interface is its seller's alone."""
    from extensions import db
    from models import LiveStream

    stream = db.session.get(LiveStream, stream_id)
    return bool(stream and viewer.is_authenticated and viewer.shop and stream.shop_id == viewer.shop.id)


@_rule("studio")
def _account_owner_only(viewer: Viewer, account_id: int) -> bool:
    """A linked TikTok account's studio channel (notices, status, viewer data) is its owner's alone."""
    if not viewer.is_authenticated:
        return False
    from extensions import db
    from models import TikTokAccount

    account = db.session.get(TikTokAccount, account_id)
    return account is not None and account.owner_id == viewer.id
