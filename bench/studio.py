"""The studio's viewer table and overview over N generated viewer profiles, timed server-side.

    python -m bench.studio --profiles 100000                 # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1/postgres \\
        python -m bench.studio --profiles 100000             # a fresh PostgreSQL database

One linked account (with its default VIP tiers) gets N generated profiles in bulk: long-tailed
coins, watchtime, visits, comments and likes, last seen over 90 days, automatic VIPs (and a few
set by hand), favorites, birthdays, 1-3 sessions each, gifts for about one in ten, 2-4 heatmap
buckets each. Then the owner, logged in, requests through the Flask test client (in-process:
routing, login, queries and template rendering; no sockets):

- table: the viewer table page, first page (the full page, as opening the table);
- search: the table fragment (htmx) for five name fragments and one viewer's whole handle;
- sort: the table fragment (htmx) for each of the 7 sorts in both directions;
- overview: the account's overview page (the full page).

The kinds are interleaved, after a warm-up. The last line reads
`studio: N profiles -> table p95 A ms, search p95 B ms, sort p95 C ms, overview p95 D ms`.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bench_app  # noqa: E402
from extensions import UTCDateTime  # noqa: E402
from runtime import keep_start_up_objects_out_of_full_collections  # noqa: E402
from tests.support import TEST_PASSWORD, csrf_from  # noqa: E402

FIRST = (
    "aaron", "abby", "adam", "adele", "ahmed", "aiko", "alba", "alex", "alice", "amir", "amy", "ana", "andre",
    "anna", "arjun", "aria", "ava", "axel", "ayse", "bea", "bella", "ben", "bianca", "bo", "brad", "bruno",
    "caleb", "cara", "carlos", "chen", "chloe", "cleo", "cody", "dora", "dani", "david", "diana", "diego",
    "dima", "eli", "ella", "emil", "emma", "enzo", "eric", "erin", "eva", "felix", "finn", "flo", "fran",
    "gabe", "gina", "greta", "gus", "hanne", "hugo", "ian", "ida", "igor", "ines", "iris", "ivan", "ivy",
    "jack", "jade", "jan", "jay", "jess", "jo", "joel", "jon", "jose", "jules", "kai", "kara", "kate",
    "kenji", "kim", "kira", "kofi", "lara", "lea", "leo", "liam", "lily", "lina", "lou", "luca", "lucy",
    "luis", "luna", "mads", "maja", "malik", "mara", "mark", "mateo", "max", "maya", "mia", "mika", "milo",
    "mina", "nate", "nia", "nico", "nina", "noah", "nora", "olga", "oli", "omar", "oscar", "otto", "paul",
    "pia", "priya", "quinn", "rafa", "ravi", "remi", "rick", "rita", "rosa", "ruby", "ryan", "sam", "sara",
    "sean", "sofia", "sol", "sven", "tara", "ted", "theo", "tim", "tina", "tom", "uma", "vera", "vic",
    "wes", "will", "xena", "yara", "yuki", "yusuf", "zane", "zara", "zoe",
)
WORDS = ("shop", "loves", "daily", "x", "official", "makes", "art", "fan", "live", "home", "vibes", "music",
         "games", "cooks", "style", "gg", "tv", "real", "the.one", "crafts", "plays", "fit", "travels", "cat",
         "dog", "moon", "sun", "pixel", "queen", "king")
ACCENTED = {"zoe": "Zoë", "jose": "José", "ayse": "Ayşe", "ines": "Inês", "andre": "André", "chloe": "Chloé"}
EMOJI = ("✨", "🌸", "🔥", "💜", "🎮", "🐱", "🌙", "⭐")
GIFTS = (("Rose", 5655, 1), ("TikTok", 5269, 1), ("Finger Heart", 5487, 5), ("Doughnut", 5879, 30),
         ("Hand Hearts", 5660, 100), ("Corgi", 6267, 299), ("Money Gun", 7168, 500), ("Galaxy", 11046, 1000))
SEARCHES = ("ana", "max", "@kai", "moon", "zoë")
SORTS = ("coins", "watchtime", "visits", "last_seen", "first_seen", "comments", "likes")
CHUNK = 20_000


def generated_rows(count: int, account_id: int, tiers: list[Any], now: datetime,
                   seed: int = 7) -> Iterator[tuple[list[dict], list[dict], list[dict], list[dict]]]:
    """Profiles with their sessions, gifts and heatmap rows, in chunks of CHUNK profiles; ids are
    given (1..count) so the child rows can point at them without a round trip."""
    from services.vip import qualifying_tier

    rng = random.Random(seed)
    rooms = [f"75{number:017d}" for number in range(120)]
    for start in range(1, count + 1, CHUNK):
        profiles: list[dict] = []
        sessions: list[dict] = []
        gifts: list[dict] = []
        heatmap: list[dict] = []
        for viewer_id in range(start, min(count, start + CHUNK - 1) + 1):
            first = rng.choice(FIRST)
            number = rng.randrange(10_000) if rng.random() < 0.7 else ""
            handle = f"{first}{rng.choice(('', '.', '_'))}{rng.choice(WORDS)}{number}"
            nickname = ACCENTED.get(first, first.title())
            roll = rng.random()
            if roll < 0.3:
                nickname = f"{nickname} {rng.choice(FIRST).title()}"
            elif roll < 0.4:
                nickname = f"{nickname} {rng.choice(EMOJI)}"
            activity = rng.paretovariate(1.2)
            visits = max(1, min(400, int(activity * rng.uniform(0.5, 2))))
            watch = min(visits * 7200, int(visits * rng.uniform(30, 1800) * min(activity, 5)))
            coins = int(min(2_000_000, rng.paretovariate(0.8) * 5)) if rng.random() < 0.12 else 0
            comments = int(rng.paretovariate(1.1) * 2) if rng.random() < 0.45 else 0
            likes = int(rng.paretovariate(1.0) * 10) if rng.random() < 0.55 else 0
            last_seen = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
            first_seen = last_seen - timedelta(seconds=rng.uniform(0, 1.0) * min(visits, 60) * 3 * 86400)
            tier = qualifying_tier(tiers, coins, watch, visits)
            vip_source = "auto" if tier else None
            if rng.random() < 0.002:  # set by hand by the streamer
                tier, vip_source = rng.choice(tiers), "manual"
            birthday = rng.random() < 0.05
            month, day = rng.randint(1, 12), rng.randint(1, 28)
            profiles.append({
                "id": viewer_id, "account_id": account_id, "tiktok_user_id": 7_000_000_000 + viewer_id * 7919,
                "handle": handle, "handle_folded": handle.casefold(), "nickname": nickname,
                "nickname_folded": nickname.casefold(),
                "avatar_url": f"https://p16-sign.tiktokcdn.com/avatar/{viewer_id}.webp" if rng.random() < 0.8 else None,
                "badges": [{"scene": "FANS", "level": rng.randint(1, 20)}] if rng.random() < 0.1 else [],
                "fan_level": None, "gifter_level": None, "is_tiktok_moderator": False, "is_subscriber": False,
                "follows_streamer": rng.random() < 0.3, "follower_count": None, "following_count": None,
                "first_seen_at": first_seen, "last_seen_at": last_seen, "total_visits": visits,
                "last_visit_room_id": rng.choice(rooms), "total_watch_seconds": watch, "total_coins": coins,
                "total_gifts": max(1, coins // 20) if coins else 0, "total_comments": comments,
                "total_likes": likes, "total_shares": int(rng.random() < 0.05), "followed_at": None,
                "tts_voice": None, "discord_username": None,
                "birthday_month": month if birthday else None, "birthday_day": day if birthday else None,
                "birthday_year": rng.randint(1970, 2008) if birthday and rng.random() < 0.5 else None,
                "birthday_greeted_on": None, "notes": "", "tags": [],
                "is_favorite": rng.random() < 0.01, "is_moderator": rng.random() < 0.001,
                "is_blocked": rng.random() < 0.002,
                "vip_tier_id": tier.id if tier else None, "vip_source": vip_source,
                "vip_since": last_seen if tier else None, "linked_user_id": None,
                "created_at": first_seen, "updated_at": last_seen,
            })
            for number in range(rng.randint(1, 3)):
                started = last_seen - timedelta(days=number * rng.uniform(1, 10), seconds=rng.uniform(60, 3600))
                credited = rng.randint(30, 3600)
                sessions.append({
                    "viewer_id": viewer_id, "account_id": account_id, "room_id": rng.choice(rooms),
                    "live_stream_id": None, "started_at": started,
                    "last_activity_at": started + timedelta(seconds=credited),
                    "ended_at": started + timedelta(seconds=credited), "credited_seconds": credited,
                    "open_viewer_id": None, "vip": tier is not None,
                })
            if coins:
                for _ in range(rng.randint(1, 3)):
                    name, gift_id, price = rng.choice(GIFTS)
                    quantity = max(1, min(99, coins // price // 3)) if price <= coins else 1
                    gifts.append({
                        "viewer_id": viewer_id, "account_id": account_id, "room_id": rng.choice(rooms),
                        "gift_id": gift_id, "gift_name": name, "diamond_count": price, "quantity": quantity,
                        "coins": price * quantity, "sent_at": last_seen - timedelta(seconds=rng.uniform(0, 30 * 86400)),
                    })
            buckets: set[tuple[int, int]] = set()
            wanted = rng.randint(2, 4)
            while len(buckets) < wanted:
                buckets.add((rng.randrange(7), rng.choice((12, 17, 18, 19, 20, 20, 21, 21, 22, 23, rng.randrange(24)))))
            for weekday, hour in buckets:
                heatmap.append({"viewer_id": viewer_id, "account_id": account_id, "weekday": weekday, "hour": hour,
                                "hits": rng.randint(1, 40), "coins": coins // len(buckets)})
        yield profiles, sessions, gifts, heatmap


def _converters(table: sa.Table, dialect: str) -> list[Any]:
    """Per column, how a generated value becomes what the driver is given directly (None: as it is),
    as the app's column types would bind it: JSON as its text, and on SQLite a datetime as naive
    UTC text in SQLAlchemy's storage format (so range comparisons match the app's own values)."""
    converters: list[Any] = []
    for column in table.columns:
        if isinstance(column.type, sa.JSON):
            converters.append(json.dumps)
        elif isinstance(column.type, UTCDateTime) and dialect == "sqlite":
            converters.append(lambda value: value and value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"))
        else:
            converters.append(None)
    return converters


def _write(dbapi: Any, dialect: str, table: sa.Table, rows: list[dict]) -> None:
    """Write generated rows with the driver itself: one executemany of plain tuples on SQLite, a COPY
    on PostgreSQL (psycopg 3), so no per-row work is done by SQLAlchemy."""
    names = [column.name for column in table.columns if column.name in rows[0]]
    converters = [converter for column, converter in zip(table.columns, _converters(table, dialect), strict=True)
                  if column.name in rows[0]]
    pairs = list(zip(names, converters, strict=True))
    tuples = [tuple(convert(row[name]) if convert else row[name] for name, convert in pairs) for row in rows]
    cursor = dbapi.cursor()
    if dialect == "postgresql":
        with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for values in tuples:
                copy.write_row(values)
    else:
        marks = ", ".join("?" * len(names))
        # The names are our own metadata's, never input.
        cursor.executemany(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})", tuples)  # noqa: S608
    cursor.close()


def load(count: int, account_id: int, now: datetime) -> tuple[dict[str, int], dict[str, float]]:
    """Insert the generated rows in bulk, then ANALYZE; returns the row counts and the seconds each
    step took (generating the rows, writing them, building the indexes, the recount, ANALYZE).

    As a bulk import does: the four tables' secondary indexes and the search index are dropped for
    the load and built once after it (a sorted build instead of a million random inserts into each
    of them); on SQLite the FTS5 table is filled by its 'rebuild' command instead of its insert
    trigger, which is then created again. The schema afterwards is what `create_all` and the
    migrations make (models/viewer_search.py's objects included), and every profile is in the
    search index (checked)."""
    from extensions import db
    from models import ViewerActivity, ViewerGift, ViewerProfile, ViewerSession, viewer_search
    from services.account_figures import recount
    from services.vip import account_tiers

    tiers = account_tiers(account_id)
    counts = {"profiles": 0, "sessions": 0, "gifts": 0, "heatmap": 0}
    tables = {"profiles": ViewerProfile.__table__, "sessions": ViewerSession.__table__,
              "gifts": ViewerGift.__table__, "heatmap": ViewerActivity.__table__}
    dialect = db.engine.dialect.name
    indexes = [index for table in tables.values() for index in table.indexes]
    steps = dict.fromkeys(("generate", "write", "indexes", "recount", "analyze"), 0.0)
    began = time.perf_counter()
    with db.engine.begin() as connection:
        for index in indexes:
            index.drop(connection)
        if dialect == "postgresql":
            connection.exec_driver_sql("DROP INDEX ix_viewer_profiles_handle_trgm, ix_viewer_profiles_nickname_trgm")
        else:
            connection.exec_driver_sql("DROP TRIGGER viewer_search_insert")
    steps["indexes"] += time.perf_counter() - began
    chunks = generated_rows(count, account_id, tiers, now)
    while True:
        began = time.perf_counter()
        chunk = next(chunks, None)
        steps["generate"] += time.perf_counter() - began
        if chunk is None:
            break
        began = time.perf_counter()
        dbapi = db.session.connection().connection.dbapi_connection
        for key, rows in zip(counts, chunk, strict=True):
            if rows:
                _write(dbapi, dialect, tables[key], rows)
                counts[key] += len(rows)
        db.session.commit()
        steps["write"] += time.perf_counter() - began
    began = time.perf_counter()
    with db.engine.begin() as connection:
        for index in indexes:
            index.create(connection)
        if dialect == "postgresql":
            for statement in viewer_search.POSTGRESQL_CREATE[1:]:
                connection.exec_driver_sql(statement)
        else:
            connection.exec_driver_sql("INSERT INTO viewer_search(viewer_search) VALUES ('rebuild')")
            connection.exec_driver_sql(next(statement for statement in viewer_search.SQLITE_CREATE
                                            if "TRIGGER viewer_search_insert " in statement))
            indexed = connection.exec_driver_sql("SELECT count(*) FROM viewer_search").scalar()
            assert indexed == counts["profiles"], f"search index holds {indexed} of {counts['profiles']} profiles"
    steps["indexes"] += time.perf_counter() - began
    began = time.perf_counter()
    recount(account_id)  # the account's figures, as the writer would have kept them
    db.session.commit()
    steps["recount"] = time.perf_counter() - began
    began = time.perf_counter()
    if dialect == "postgresql":
        # The ids were given, so the sequence is moved past them for any later insert.
        db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence('viewer_profiles', 'id'), "
                                   "(SELECT max(id) FROM viewer_profiles))"))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
    else:
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    steps["analyze"] = time.perf_counter() - began
    return counts, steps


def p95(samples: list[float]) -> float:
    """Nearest-rank 95th percentile, in milliseconds."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000


def log_in(client: Any, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"csrf_token": csrf_from(page), "identifier": username,
                                           "password": TEST_PASSWORD})
    assert response.status_code == 303, f"login failed: {response.status_code}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=40,
                        help="timed requests of the table and of the overview, and of the searches together")
    parser.add_argument("--sort-samples", type=int, default=10, help="timed requests per sort and direction")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    args = parser.parse_args()
    if args.profiles < 1:
        parser.error("--profiles must be at least 1")

    from extensions import db, utcnow
    from models import TikTokAccount, ViewerProfile
    from services import studio, tiktok
    from tests.factories import make_user

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with bench_app(tmp) as (app, database_url):
            with app.app_context():
                account = tiktok.link_account(make_user("bench-streamer"), "bench.host", "Europe/Berlin")
                account_id = account.id
                began = time.perf_counter()
                counts, steps = load(args.profiles, account_id, utcnow())
                load_seconds = time.perf_counter() - began
                account = db.session.get(TikTokAccount, account_id)
                # Besides name fragments, the streamer looking up one viewer by the whole handle.
                one_viewer = db.session.scalar(sa.select(ViewerProfile.handle).where(
                    ViewerProfile.id == args.profiles // 2 + 1))
                terms = [*SEARCHES, f"@{one_viewer}"]
                matches = {term: studio.viewer_page(account, studio.ViewerQuery(search=term), utcnow()).total
                           for term in terms}
                db.session.remove()

            base = f"/studio/accounts/{account_id}"
            htmx = {"HX-Request": "true"}
            per_term = math.ceil(args.samples / len(terms))
            # (kind, label, url, headers, samples)
            plan: list[tuple[str, str, str, dict[str, str], int]] = [
                ("table", "", f"{base}/viewers", {}, args.samples),
                ("overview", "", base, {}, args.samples),
                *(("search", repr(term), f"{base}/viewers?q={quote(term)}", htmx, per_term) for term in terms),
                *(("sort", f"{sort} {direction}", f"{base}/viewers?sort={sort}&dir={direction}", htmx,
                   args.sort_samples) for sort in SORTS for direction in ("desc", "asc")),
            ]
            timings: dict[tuple[str, str], list[float]] = {(kind, label): [] for kind, label, *_ in plan}

            # As a gunicorn worker does after start-up (gunicorn.conf.py): what is loaded so far is
            # frozen out of the collector's sight and full collections run a hundred times rarer.
            keep_start_up_objects_out_of_full_collections()
            with app.test_client() as client:
                log_in(client, "bench-streamer")
                # Round-robin, so that a noisy moment on the shared machine spreads over every kind.
                for round_number in range(-args.warmup, max(samples for *_, samples in plan)):
                    for kind, label, url, headers, samples in plan:
                        if round_number >= samples:
                            continue
                        started = time.perf_counter()
                        response = client.get(url, headers=headers)
                        elapsed = time.perf_counter() - started
                        assert response.status_code == 200, f"{url}: {response.status_code}"
                        if round_number >= 0:
                            timings[kind, label].append(elapsed)

    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    pooled: dict[str, list[float]] = {}
    for (kind, _), samples in timings.items():
        pooled.setdefault(kind, []).extend(samples)

    def line(name: str, samples: list[float]) -> str:
        return (f"  {name:<26} n={len(samples):<4} median {statistics.median(samples) * 1000:6.1f} ms, "
                f"p95 {p95(samples):6.1f} ms, max {max(samples) * 1000:6.1f} ms")

    print(f"backend {backend}; {counts['profiles']} profiles, {counts['sessions']} sessions, {counts['gifts']} gifts, "
          f"{counts['heatmap']} heatmap rows loaded in {load_seconds:.1f} s ("
          + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in steps.items()) + ")")
    print("search matches: " + ", ".join(f"{term!r} {found}" for term, found in matches.items()))
    for (kind, label), samples in timings.items():
        print(line(f"{kind} {label}".strip(), samples))
    print(line("search, all terms", pooled["search"]))
    print(line("sort, all", pooled["sort"]))
    for sort in SORTS:
        both = timings["sort", f"{sort} desc"] + timings["sort", f"{sort} asc"]
        print(f"sort {sort}: p95 {p95(both):.1f} ms")
    print(f"studio: {counts['profiles']} profiles -> table p95 {p95(pooled['table']):.0f} ms, "
          f"search p95 {p95(pooled['search']):.0f} ms, sort p95 {p95(pooled['sort']):.0f} ms, "
          f"overview p95 {p95(pooled['overview']):.0f} ms")

if __name__ == "__main__":
    main()
