"""What the TikTokLive library costs to decode one event, in the benchmark's own process, with the
frames the emulator sends (tests/tiktok_emulator/): the fixed CPU price of following a LIVE, paid
before the writer sees anything.

    python -m bench.decode --frames 2000 --per-frame 3

Each frame is what `bench/ingest_fleet.py`'s rooms send (a gzipped push frame carrying a few
comments, likes and gifts); it is decoded with the library's own functions, as its websocket loop
does: the push frame, the gzipped fetch result inside it, the frame's ack (the library's
`send_ack`, up to the socket's send), then every message into its events by the client's method for
it (`_parse_webcast_response_message`: the library's, or the worker's own). The middle line
splits the cost: the decode as the library does it out of the box (it validates every message it
parses, building a new pydantic `SchemaValidator` each time), the same with that validation
switched off for the measurement only, to show what validation costs, and with each class's
validator built once. The last line is what the worker pays: that, the faster parse
(`ingest/protobuf.py`), the acks and gunzip of `ingest/push_frames.py`, all applied by the ingest
supervisor, and the worker's client class (`ingest.client.client_class`), which makes no blank event
and no `WebsocketResponseEvent` per message. (Before 3 December 2026, 12:00, the figures left the
ack out; before 4 December 2026, 11:00, every figure parsed with `EVENT_MAPPINGS[method]().parse`,
the library's own call, rather than the client's method around it.)

Last line: `decode: N events -> U µs per event, C events/s per core`.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def frames(count: int, per_frame: int, seed: int = 1) -> list[bytes]:
    """`count` push frames of `per_frame` events each, as the emulator's generated rooms send them."""
    from tests.tiktok_emulator import server as emulator
    from tests.tiktok_emulator.generate import viewer
    from tests.tiktok_emulator.server import BaseProtoMessage, ProtoMessageFetchResult, PushHeader, WebcastPushFrame

    rng = random.Random(seed)
    room_id = 7_400_000_000_000_000_001
    built = []
    for number in range(count):
        messages = []
        for index in range(per_frame):
            who = viewer(rng.randrange(200), 10_000_000)
            roll = rng.random()
            if roll < 0.5:
                messages.append(emulator.msg_comment(room_id, who, f"comment {number}.{index}"))
            elif roll < 0.85:
                messages.append(emulator.msg_like(room_id, who, rng.randint(1, 15), 1000))
            else:
                messages.append(emulator.msg_gift(room_id, who, "Rose", 1, 1, group_id=number))
        result = ProtoMessageFetchResult(
            messages=[BaseProtoMessage(method=method, payload=payload, msg_id=number * 10 + index, msg_type=0)
                      for index, (method, payload) in enumerate(messages)],
            cursor=f"r-{number}", fetch_interval=0, now=int(time.time() * 1000), need_ack=True, is_first=False)
        frame = WebcastPushFrame(seq_id=number, log_id=number, service=1, method=1,
                                 headers=[PushHeader(key="compress_type", value="gzip")],
                                 payload_encoding="pb", payload_type="msg", payload=gzip.compress(bytes(result)))
        built.append(bytes(frame))
    return built


class _Socket:
    """Stands in for the websocket: the ack is measured up to the socket's send."""

    open = True

    async def send(self, message: bytes) -> None:
        pass


def _ack_client():  # noqa: ANN202
    from types import SimpleNamespace

    from TikTokLive.client.ws.ws_client import WebcastWSClient

    client = WebcastWSClient()
    client._connection_generator = SimpleNamespace(ws=_Socket())
    return client


def _finished(coroutine: Any) -> Any:
    """What a coroutine that never waits returns, run to its end here."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("the coroutine waited")


def decode_all(raw_frames: list[bytes], client_class: type) -> tuple[int, float]:
    """Decode and ack every frame, and decode its events by `client_class`'s method, as the library's
    websocket loop does; (events, CPU seconds)."""
    from TikTokLive.client.ws import ws_utils

    client = _ack_client()
    parse_message = client_class(unique_id="@bench")._parse_webcast_response_message
    events = 0
    started = time.process_time()
    for raw in raw_frames:
        frame = ws_utils.extract_webcast_push_frame(raw)
        response = ws_utils.extract_webcast_response_message(frame)
        ack = client.send_ack(webcast_response=response, webcast_push_frame=frame)
        _finished(ack)  # nothing in it waits: the socket's send returns at once
        for message in response.messages:
            _finished(parse_message(response, message))
            events += 1
    return events, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--per-frame", type=int, default=3, help="events per push frame (a room at 10 events/s "
                        "sends about 2.5 per frame)")
    args = parser.parse_args()

    import betterproto2
    from TikTokLive import TikTokLiveClient

    from ingest.client import client_class
    from ingest.protobuf import parse_messages_faster, reuse_message_validators
    from ingest.push_frames import send_acks_and_unzip_faster

    raw_frames = frames(args.frames, args.per_frame)
    decode_all(raw_frames[:50], TikTokLiveClient)  # warm up: the library builds its per-class metadata on first use
    _, as_shipped = decode_all(raw_frames, TikTokLiveClient)

    is_pydantic = betterproto2.Message._is_pydantic
    betterproto2.Message._is_pydantic = lambda self: False  # for this measurement only
    try:
        _, unvalidated = decode_all(raw_frames, TikTokLiveClient)
    finally:
        betterproto2.Message._is_pydantic = is_pydantic

    reuse_message_validators()
    decode_all(raw_frames[:50], TikTokLiveClient)
    _, validators_once = decode_all(raw_frames, TikTokLiveClient)

    parse_messages_faster()
    send_acks_and_unzip_faster()
    decode_all(raw_frames[:50], TikTokLiveClient)
    _, library_client = decode_all(raw_frames, TikTokLiveClient)
    decode_all(raw_frames[:50], client_class())
    events, seconds = decode_all(raw_frames, client_class())

    per_event = seconds / events
    print(f"{events} events in {args.frames} frames: the library as shipped {as_shipped:.2f} s of CPU, without "
          f"its pydantic validation {unvalidated:.2f} s ({100 * (as_shipped - unvalidated) / as_shipped:.0f}% of "
          f"the price is validation), with each class's validator built once {validators_once:.2f} s, and with "
          f"the faster parse, acks and gunzip too {library_client:.2f} s by the library's client, "
          f"{seconds:.2f} s by the worker's (the worker)")
    print(f"decode: {events} events -> {per_event * 1e6:.0f} µs per event, {1 / per_event:.0f} events/s per core")


if __name__ == "__main__":
    main()
