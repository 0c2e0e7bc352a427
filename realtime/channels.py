"""Channel kinds and who may subscribe to them.

A channel is named `kind:key` (`user:12`, later `stream:5`, `studio:3`). Each kind registers one
rule, checked when a socket subscribes, by the same standard as the page the channel belongs to.
An unknown kind is refused.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_login import AnonymousUserMixin

from models import User

Viewer = User | AnonymousUserMixin
Rule = Callable[[Viewer, str], bool]

_rules: dict[str, Rule] = {}


def channel_rule(kind: str) -> Callable[[Rule], Rule]:
    """Register the rule deciding who may subscribe to channels of `kind`."""

    def register(rule: Rule) -> Rule:
        _rules[kind] = rule
        return rule

    return register


def may_subscribe(viewer: Viewer, channel: str) -> bool:
    kind, separator, key = channel.partition(":")
    rule = _rules.get(kind)
    return bool(separator and key and rule is not None and rule(viewer, key))


@channel_rule("user")
def _own_account_only(viewer: Viewer, key: str) -> bool:
    """A user's channel (their header: nav, cart badge) is theirs alone."""
    return bool(viewer.is_authenticated and str(viewer.id) == key)


@channel_rule("studio")
def _account_owner_only(viewer: Viewer, key: str) -> bool:
    """A linked TikTok account's studio channel (notices, status, viewer data) is its owner's alone."""
    if not viewer.is_authenticated or not key.isdigit():
        return False
    from extensions import db
    from models import TikTokAccount

    account = db.session.get(TikTokAccount, int(key))
    return account is not None and account.owner_id == viewer.id
