"""Presence hooks: channel kinds whose sockets count as someone being there (a show's viewers).

A kind registers a `PresenceTracker`; the websocket endpoint calls `join` when a socket opens on
such a channel, `heartbeat` whenever the client sends one, and `leave` shortly after the socket
closes (the short grace means a page reload does not count as leaving and coming back). The
tracker's `sweep` runs about every 10 s in each process that holds such sockets and retires
viewers whose heartbeats stopped (sockets that died without closing, a crashed worker's sockets).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: (channel key, user id or None, anonymous visitor id or None)
Hook = Callable[[str, "int | None", "str | None"], None]


@dataclass(frozen=True)
class PresenceTracker:
    join: Hook
    heartbeat: Hook
    leave: Hook
    sweep: Callable[[], None]


_trackers: dict[str, PresenceTracker] = {}

#: Seconds between client heartbeats (static/js/app.js sends them) and sweeps.
HEARTBEAT_SECONDS = 20
SWEEP_SECONDS = 10
#: How long after a socket closes its viewer is counted as gone, unless they reconnect (a reload).
LEAVE_GRACE_SECONDS = 0.5


def track_presence(kind: str, tracker: PresenceTracker) -> None:
    _trackers[kind] = tracker


def tracked(channels: list[str]) -> list[tuple[PresenceTracker, str]]:
    """The presence-tracked channels among `channels`, as (tracker, key)."""
    found = []
    for channel in channels:
        kind, _, key = channel.partition(":")
        if kind in _trackers:
            found.append((_trackers[kind], key))
    return found


def trackers() -> list[PresenceTracker]:
    return list(_trackers.values())
