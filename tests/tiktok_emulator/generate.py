"""Generated LIVEs: a room that plays a steady stream of events at its own rate, and the totals each
viewer must end up with. The many-accounts test and `bench/ingest_fleet.py` use it.

A room in the emulator's config with `"generate": {"rate": 10, "events": 600, ...}` plays
`generated_script(...)` instead of a hand-written script. Events go out in one push frame per tick
(TikTok batches its frames too), so a room at 10 events/s sends four frames a second.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

#: (gift name, coins per unit): a streakable gift sent as its final frame, and a single one.
GIFT_CHOICES = (("Rose", 1), ("Corgi", 299))


def viewer(number: int, user_base: int) -> dict[str, Any]:
    """The same number is the same TikTok user in every room: one person watching several LIVEs."""
    return {"id": user_base + number, "unique_id": f"fan{number}", "nickname": f"Fan {number}"}


def _event(rng: random.Random, who: dict[str, Any], number: int) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.5:
        return {"type": "comment", "user": who, "text": f"comment {number}"}
    if roll < 0.85:
        return {"type": "like", "user": who, "count": rng.randint(1, 15)}
    name, _ = rng.choice(GIFT_CHOICES)
    return {"type": "gift", "user": who, "gift": name, "repeat_count": rng.randint(1, 3) if name == "Rose" else 1}


def generated_script(rate: float, events: int, *, viewers: int = 50, seed: int = 0, user_base: int = 10_000_000,
                     tick: float = 0.25, live_end: bool = True) -> list[dict[str, Any]]:
    """`events` comments, likes and gifts from `viewers` viewers at `rate` events a second, then the end."""
    rng = random.Random(seed)
    script: list[dict[str, Any]] = []
    owed = 0.0
    made = 0
    while made < events:
        owed += rate * tick
        count = min(int(owed), events - made)
        owed -= count
        steps = [_event(rng, viewer(rng.randrange(viewers), user_base), made + n) for n in range(count)]
        made += count
        script.append({"type": "batch", "delay": tick, "steps": steps} if steps else {"type": "wait", "delay": tick})
    if live_end:
        script.append({"type": "live_end", "delay": tick})
    return script


def truth(script: list[dict[str, Any]]) -> dict[int, dict[str, int]]:
    """What each viewer (by TikTok user id) sent in the script: comments, likes and coins."""
    coins = dict(GIFT_CHOICES)
    totals: dict[int, dict[str, int]] = defaultdict(lambda: {"comments": 0, "likes": 0, "coins": 0})
    for step in script:
        for event in step.get("steps", [step]):
            if "user" not in event:
                continue
            row = totals[event["user"]["id"]]
            if event["type"] == "comment":
                row["comments"] += 1
            elif event["type"] == "like":
                row["likes"] += event["count"]
            elif event["type"] == "gift":
                row["coins"] += coins[event["gift"]] * event["repeat_count"]
    return dict(totals)


def event_count(script: list[dict[str, Any]]) -> int:
    return sum(len(step["steps"]) for step in script if step["type"] == "batch")
