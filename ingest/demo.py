"""A generator of realistic demo LIVEs in the replay format (docs/ingest-events.md).

A few thousand viewers whose activity is long-tailed (most watch and leave a like, a few chat
all the time, a handful pay for most of the gifts), join waves, like storms, gift streaks at
real catalogue prices, a viewer whose birthday it is and a big gifter about to become a VIP.
The same seed gives the same file.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from ingest.gifts import GIFTS
from ingest.records import EventRecord, Viewer
from services.demo import KNOWN_BIRTHDAY, KNOWN_GIFTER

#: Two viewers the demo streamer knows already (services/demo.py seeds their profiles).
BIRTHDAY_VIEWER = Viewer(id=KNOWN_BIRTHDAY.id, handle=KNOWN_BIRTHDAY.handle, nickname=KNOWN_BIRTHDAY.nickname)
BIG_GIFTER = Viewer(id=KNOWN_GIFTER.id, handle=KNOWN_GIFTER.handle, nickname=KNOWN_GIFTER.nickname,
                    badges=({"scene": "USER_GRADE", "level": 31},))
COMMENTS = (
    "hi from Berlin!", "how much is the mug?", "love this", "is the tote still available?", "😍😍😍",
    "first time here", "can you show the back?", "what size is it?", "ordered one!", "shipping to Canada?",
    "the candle smells amazing", "restock soon pls", "👋", "that colour 🔥", "link please",
)
FIRST = ("sam", "alex", "jo", "kai", "mia", "noah", "lea", "omar", "ivy", "ben", "zoe", "luca", "ana", "finn")
SECOND = ("shop", "loves", "daily", "x", "official", "makes", "art", "fan", "live", "home")
SMALL_GIFTS = ("Rose", "TikTok", "GG", "Ice Cream Cone", "Heart Me", "Finger Heart", "Perfume", "Doughnut")
BIG_GIFTS = ("Hand Hearts", "Corgi", "Money Gun", "Galaxy")


def _viewers(rng: random.Random, count: int) -> list[tuple[Viewer, float]]:
    """Viewers with a Pareto-distributed activity weight: a long tail of quiet ones."""
    people = []
    for index in range(count):
        handle = f"{rng.choice(FIRST)}.{rng.choice(SECOND)}{index}"
        badges = ({"scene": "FANS", "level": rng.randint(1, 20)},) if rng.random() < 0.1 else ()
        viewer = Viewer(id=7_000_000_000 + index * 7919, handle=handle, nickname=handle.split(".")[0].title(),
                        avatar=_avatar(handle, rng), badges=badges)
        people.append((viewer, rng.paretovariate(1.2)))
    return people


def _avatar(handle: str, rng: random.Random) -> str:
    """A drawn avatar as a data: URL, so the demo needs no image host (TikTok's are signed CDN links)."""
    colour = rng.choice(("e0245e", "6c4cf1", "1f8a4c", "a86400", "0f7cbf", "8e44ad"))
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'><circle cx='16' cy='16' r='16' "
           f"fill='#{colour}'/><text x='16' y='21' font-size='15' text-anchor='middle' fill='white' "
           f"font-family='sans-serif'>{handle[:1].upper()}</text></svg>")
    return "data:image/svg+xml," + quote(svg)


def generate(seed: int = 5, viewers: int = 3000, minutes: int = 60,
             start: datetime = datetime(2026, 1, 9, 19, 0, tzinfo=UTC),
             room_id: str = "7400000000000000001") -> list[EventRecord]:
    rng = random.Random(seed)
    people = _viewers(rng, viewers)
    end = start + timedelta(minutes=minutes)
    events: list[tuple[datetime, str, Viewer | None, dict]] = []

    def at(offset_seconds: float) -> datetime:
        return start + timedelta(seconds=min(offset_seconds, minutes * 60 - 1))

    # Join waves: at the start, a third in, and two thirds in (people arriving from shares).
    waves = (0.0, minutes * 20.0, minutes * 40.0)
    joined: list[tuple[Viewer, float, datetime]] = []
    for viewer, weight in people:
        arrival = at(rng.choice(waves) + rng.expovariate(1 / 90))
        joined.append((viewer, weight, arrival))
        events.append((arrival, "join", viewer, {}))
    for viewer, weight, arrival in joined:
        stay = min((end - arrival).total_seconds(), rng.expovariate(1 / 900) * min(weight, 6))
        for _ in range(int(min(weight ** 1.6, 80)) if rng.random() < 0.4 else 0):
            events.append((arrival + timedelta(seconds=rng.uniform(0, stay)), "comment", viewer,
                           {"text": rng.choice(COMMENTS)}))
        if rng.random() < 0.5:
            events.append((arrival + timedelta(seconds=rng.uniform(0, stay)), "like", viewer,
                           {"count": rng.randint(1, 15)}))
        if rng.random() < 0.03:
            events.append((arrival + timedelta(seconds=rng.uniform(0, stay)), "share", viewer, {}))
        if rng.random() < 0.05:
            events.append((arrival + timedelta(seconds=rng.uniform(0, stay)), "follow", viewer, {}))
        if weight > 3 and rng.random() < 0.5:
            name = rng.choice(BIG_GIFTS if weight > 12 else SMALL_GIFTS)
            events.append((arrival + timedelta(seconds=rng.uniform(0, stay)), "gift", viewer,
                           _gift(name, rng.randint(1, 30) if GIFTS[name][2] else 1)))
    # Like storms: three bursts of a minute where a few hundred viewers tap away.
    for storm in (minutes * 12.0, minutes * 33.0, minutes * 52.0):
        for viewer, _, _ in rng.sample(joined, min(300, len(joined))):
            events.append((at(storm + rng.uniform(0, 60)), "like", viewer, {"count": rng.randint(5, 50)}))
    # The birthday viewer comes with the first wave and says so; the big gifter crowns the LIVE with a Lion.
    events.append((at(20), "join", BIRTHDAY_VIEWER, {}))
    events.append((at(45), "comment", BIRTHDAY_VIEWER, {"text": "it's my birthday today!! 🎉"}))
    events.append((at(600), "join", BIG_GIFTER, {}))
    events.append((at(900), "gift", BIG_GIFTER, _gift("Rose", 99)))
    events.append((at(minutes * 45), "gift", BIG_GIFTER, _gift("Lion", 1)))
    events.sort(key=lambda item: item[0])

    records = [EventRecord("live_start", "demo-start", start, room_id)]
    top: list[Viewer] = []
    next_count = start
    for number, (moment, kind, viewer, data) in enumerate(events):
        while next_count <= moment:
            present = sum(1 for _, _, arrival in joined if arrival <= next_count)
            records.append(EventRecord("viewers", f"demo-v{int((next_count - start).total_seconds())}", next_count,
                                       room_id, data={"total": present, "top": top[:5]}))
            next_count += timedelta(seconds=30)
        if kind == "gift":
            top = [viewer, *[other for other in top if other.id != viewer.id]][:5]
        records.append(EventRecord(kind, f"demo-{number}", moment, room_id, viewer, data))
    records.append(EventRecord("live_end", "demo-end", end, room_id))
    return records


def _gift(name: str, repeat: int) -> dict:
    gift_id, coins, _ = GIFTS[name]
    return {"gift_id": gift_id, "gift_name": name, "diamond_count": coins, "repeat_count": repeat,
            "streaking": False}


def write(path: Path | str, records: list[EventRecord]) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        out.write("# Streamshop ingest events, one JSON object per line (docs/ingest-events.md)\n")
        for record in records:
            out.write(record.to_json() + "\n")
    return len(records)

