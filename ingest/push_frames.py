"""TikTokLive's handling of each push frame, as the worker runs it: the same bytes on the wire and
the same fetch results, for less CPU.

For every push frame it receives, the library's websocket loop gunzips the payload through a
`GzipFile` over a `BytesIO`, then acknowledges the frame: it builds a `WebcastPushFrame` (a pydantic
dataclass, validated when built and again when encoded), formats the frame's `repr` for a debug line
(an f-string, so even with debug logging off) and encodes it with betterproto2's generic encoder.
Following 100 LIVEs on PostgreSQL that was about 13% of the worker's CPU (py-spy; the acks 10%,
docs/benchmarks.md), about 95 µs a frame.

- `ack_frame` writes the ack's bytes directly: the fields the library sets, in its order, checked
  against the library's own encoding when the patch is applied (and for any log id and cursor in
  `tests/test_ingest_client.py`).
- `_extract_response` gunzips a payload with `gzip.decompress`, one call over the bytes: the same
  bytes, and the same errors for a damaged payload. Frames not gzipped go to the library's function.

`send_acks_and_unzip_faster` applies both once per process, before the first client starts, as
`ingest/protobuf.py` does for the parse. They belong upstream.
"""

from __future__ import annotations

import gzip
import logging
from typing import Any

log = logging.getLogger(__name__)

#: The library's own functions: its gunzip-less path for frames not gzipped, and for the tests that compare.
library_functions: dict[str, Any] = {}

_INT64_RANGE = range(-(2 ** 63), 2 ** 63)


def varint(value: int) -> bytes:
    """A protobuf varint; a negative int64 takes ten bytes (its two's complement), as betterproto2 writes it."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


#: Field 2 (log_id) as a varint, then fields 6 and 7 (payload_encoding "pb", payload_type "ack"), then
#: field 8 (payload) as bytes: the order betterproto2 writes WebcastPushFrame's fields in.
_LOG_ID_TAG = b"\x10"
_ENCODING_AND_TYPE = b"2\x02pb:\x03ack"
_PAYLOAD_TAG = b"B"


def ack_frame(log_id: int, internal_ext: str | None) -> bytes:
    """The bytes of the library's ack of a push frame: `WebcastPushFrame(payload_type="ack",
    payload_encoding="pb", log_id=log_id, payload=(internal_ext or "-").encode())`."""
    if type(log_id) is not int or log_id not in _INT64_RANGE:
        return _library_ack(log_id, internal_ext)  # never from a parsed frame; the library's error
    payload = (internal_ext or "-").encode()
    head = _LOG_ID_TAG + varint(log_id) if log_id else b""
    return head + _ENCODING_AND_TYPE + _PAYLOAD_TAG + varint(len(payload)) + payload


def _library_ack(log_id: Any, internal_ext: str | None) -> bytes:
    from TikTokLive.proto import WebcastPushFrame

    return bytes(WebcastPushFrame(payload_type="ack", payload_encoding="pb", log_id=log_id,
                                  payload=(internal_ext or "-").encode()))


async def _send_ack(self: Any, webcast_response: Any, webcast_push_frame: Any) -> None:
    """`WebcastWSClient.send_ack`, sending `ack_frame`'s bytes through the library's own `send`."""
    if not self.connected:
        return
    await self.send(message=ack_frame(webcast_push_frame.log_id, webcast_response.internal_ext))


def _extract_response(push_frame: Any, logger: logging.Logger | None = None) -> Any:
    """The library's `extract_webcast_response_message`, gunzipping in one call."""
    compress_type = next((header.value for header in push_frame.headers or [] if header.key == "compress_type"),
                         None)
    if compress_type != "gzip":
        library = library_functions["extract_webcast_response_message"]
        return library(push_frame) if logger is None else library(push_frame, logger=logger)
    from TikTokLive.proto import ProtoMessageFetchResult

    return ProtoMessageFetchResult().parse(gzip.decompress(push_frame.payload))


def send_acks_and_unzip_faster() -> bool:
    """Make TikTokLive ack with `ack_frame` and gunzip with `_extract_response` (idempotent). Leaves
    the library as it is, and says so, if `ack_frame` no longer writes what the library writes."""
    from TikTokLive.client.ws import ws_client, ws_connect, ws_utils

    if "send_ack" in library_functions:
        return True
    samples = [(0, ""), (1, "x"), (7_400_000_000_000_000_001, "fetch-cursor"), (-5, None), (2 ** 63 - 1, "é" * 200)]
    if any(ack_frame(log_id, ext) != _library_ack(log_id, ext) for log_id, ext in samples):
        log.warning("TikTokLive's ack frame changed: acks are built by the library")
        return False
    library_functions["send_ack"] = ws_client.WebcastWSClient.send_ack
    library_functions["extract_webcast_response_message"] = ws_utils.extract_webcast_response_message
    ws_client.WebcastWSClient.send_ack = _send_ack
    # ws_connect imported the function by name: both names point at ours.
    ws_utils.extract_webcast_response_message = _extract_response
    ws_connect.extract_webcast_response_message = _extract_response
    return True
