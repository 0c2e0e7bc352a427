"""The TikTok gifts the emulator and the demo generator use, with their coin prices.

TikTokLive ships no gift data: in a real LIVE the price arrives on every gift event
(`gift.diamond_count`, coins per unit), and that is what the ingester counts. These are the
commonly published prices of well-known gifts; ids are best effort. `streakable` gifts (type 1)
arrive as a streak of frames and count once, at the streak's end.
"""

from __future__ import annotations

from typing import Any

#: name -> (gift id, coins per unit, streakable)
GIFTS: dict[str, tuple[int, int, bool]] = {
    "Rose": (5655, 1, True),
    "TikTok": (5269, 1, True),
    "GG": (6064, 1, True),
    "Ice Cream Cone": (5827, 1, True),
    "Heart Me": (7934, 1, True),
    "Finger Heart": (5487, 5, True),
    "Perfume": (5658, 20, True),
    "Doughnut": (5879, 30, True),
    "Hand Hearts": (5660, 100, True),
    "Corgi": (6267, 299, False),
    "Money Gun": (7168, 500, False),
    "Galaxy": (11046, 1000, False),
    "Lion": (6369, 29999, False),
    "TikTok Universe": (7312, 44999, False),
}


def gift_catalogue() -> dict[str, dict[str, Any]]:
    """The emulator's shape: name -> {id, diamond_count, type} (type 1 = streakable)."""
    return {name: {"id": gift_id, "diamond_count": coins, "type": 1 if streakable else 2}
            for name, (gift_id, coins, streakable) in GIFTS.items()}
