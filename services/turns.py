"""Turns at a process's socket actions: at most `AT_ONCE` run at once, the others wait for a turn.

A crowd's actions (bids in an auction's last seconds) come faster than the cores can answer them.
Run all at once, they interleave: each one's database work and answer come later, and the rounds
of bids that hold an auction's row wait behind the crowd for every round trip. An action that goes
on to wait for work that others do (a bid waiting for its auction's round, `services.auctions`)
gives its turn back first: it does no work meanwhile, and holding the turn kept the crowd's next
actions (the next bids) waiting for nothing. Both were measured (docs/benchmarks.md, issue 14).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import gevent.lock

AT_ONCE = 5

_turns = gevent.lock.BoundedSemaphore(AT_ONCE)
# Per greenlet under gevent (gunicorn's worker patches threading), per thread without it.
_holding = threading.local()


@contextmanager
def turn() -> Iterator[None]:
    """Hold one of the turns for the block (or until `give_back`)."""
    _turns.acquire()
    _holding.turn = True
    try:
        yield
    finally:
        give_back()


def give_back() -> None:
    """Give back the turn this greenlet holds, if any, for the rest of its action."""
    if getattr(_holding, "turn", False):
        _holding.turn = False
        _turns.release()
