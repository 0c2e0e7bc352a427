"""The client runner's pure parts: backoff, endpoint settings; and where the ingester may start."""

from __future__ import annotations

import random

import pytest

from ingest.client import backoff_delay, web_kwargs


def test_backoff_doubles_with_jitter_and_is_capped_at_five_minutes():
    random.seed(4)
    for attempt, ceiling in ((1, 2), (2, 4), (3, 8), (6, 64)):
        delays = [backoff_delay(attempt, 2, 300) for _ in range(200)]
        assert ceiling / 2 <= min(delays) and max(delays) <= ceiling
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not all reconnecting at once
    assert all(150 <= backoff_delay(attempt, 2, 300) <= 300 for attempt in range(9, 40))


def test_every_client_gets_its_own_settings_dict():
    """The library mutates the dicts it is given: sharing one between clients would leak state. The
    TLS context is shared on purpose (building one per client is the dear part of starting it),
    and it still verifies certificates."""
    import ssl

    config = {"TIKTOK_SIGN_URL": "http://127.0.0.1:9/", "TIKTOK_SIGN_API_KEY": "k"}
    first, second = web_kwargs(config), web_kwargs(config)
    assert first["signer_kwargs"] == second["signer_kwargs"] == {"sign_api_base": "http://127.0.0.1:9",
                                                                   "sign_api_key": "k"}
    assert first is not second and first["signer_kwargs"] is not second["signer_kwargs"]
    assert first["httpx_kwargs"] is not second["httpx_kwargs"]
    context = first["httpx_kwargs"]["verify"]
    assert context is second["httpx_kwargs"]["verify"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert set(web_kwargs({})) == {"httpx_kwargs"}


def test_the_ingester_never_starts_in_tests_or_commands(tmp_path):
    """INGEST_ENABLED starts clients only in a gevent server process (a gunicorn worker)."""
    import ingest.supervisor
    from app import create_app

    create_app({"STREAMSHOP_ENV": "testing", "SECRET_KEY": "x", "INGEST_ENABLED": True,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}", "INSTANCE_PATH": str(tmp_path)})
    assert ingest.supervisor._supervisor is None


def test_messages_are_validated_as_the_library_does_with_one_validator_per_class():
    """The worker makes betterproto2 build each message class's validator once
    (ingest/protobuf.py); the library's own checks must still run, with the same outcome."""
    import pydantic
    import pydantic_core
    from TikTokLive.events.proto_events import EVENT_MAPPINGS

    from ingest.protobuf import _validator_for, reuse_message_validators
    from tests.tiktok_emulator.server import msg_comment

    reuse_message_validators()
    method, payload = msg_comment(7_400_000_000_000_000_001, {"id": 42, "unique_id": "fan42"}, "hello")
    event_class = EVENT_MAPPINGS[method]
    event = event_class().parse(payload)
    assert (event.user.id, event.user.unique_id, event.content, event.common.room_id) == \
        (42, "fan42", "hello", 7_400_000_000_000_000_001)
    built = _validator_for.cache_info().misses
    assert built > 0  # the parse built its classes' validators (their defaults checked once, ingest/protobuf.py)
    for _ in range(3):
        event_class().parse(payload)
    assert _validator_for.cache_info().misses == built  # no validator built again for the same classes

    # A value the schema refuses (an int64 out of range) fails as with the library's own per-call validator.
    common = event.common
    common.room_id = 2 ** 64
    values = {name: value for name, value in common.__dict__.items() if name != "_unknown_fields"}
    with pytest.raises(pydantic.ValidationError) as ours:
        common._validate()
    with pytest.raises(pydantic_core.ValidationError) as library:
        pydantic_core.SchemaValidator(type(common).__pydantic_core_schema__).validate_python(values)
    assert ours.value.errors() == library.value.errors()
    assert [error["loc"] for error in ours.value.errors()] == [("room_id",)]


#: The viewer of `_every_kind_of_event`.
FAN = {"id": 42, "unique_id": "fan42", "nickname": "Fan", "badges": [{"scene": "FANS", "level": 7}]}


def _every_kind_of_event() -> list[tuple[str, bytes]]:
    """(method, payload) of each kind of message the emulator sends, as a TikTok LIVE would."""
    from tests.tiktok_emulator import server as emulator

    room = 7_400_000_000_000_000_001
    fan = FAN
    return [
        emulator.msg_comment(room, fan, "hello"),
        emulator.msg_gift(room, fan, emulator.resolve_gift("Rose"), 3, 1, 99),
        emulator.msg_like(room, fan, 5, 100),
        emulator.msg_social(room, fan, "follow", follow_count=1),
        emulator.msg_join(room, fan, 12),
        emulator.msg_viewers(room, 12, 20, [fan]),
        emulator.msg_control(room, emulator.ControlAction.STREAM_ENDED),
    ]


def test_the_emulators_users_and_gifts_encoded_once_are_the_messages_the_library_encodes():
    """The emulator encodes a viewer's User and a gift once and writes their bytes into each message
    (tests/tiktok_emulator/server.py): each message must read exactly as the one betterproto2
    encodes with those fields built in place."""
    from TikTokLive.events.proto_events import EVENT_MAPPINGS

    from tests.ingest_support import message_state
    from tests.tiktok_emulator import server as emulator

    compared = 0
    for method, payload in _every_kind_of_event():
        sent = EVENT_MAPPINGS[method]().parse(payload)
        if getattr(sent, "user", None) is None:
            continue
        in_place = EVENT_MAPPINGS[method]().parse(payload)
        in_place.user = emulator.build_user(FAN)
        if method == "WebcastGiftMessage":
            in_place.gift = emulator.build_gift_model(emulator.resolve_gift("Rose"))
        assert message_state(EVENT_MAPPINGS[method]().parse(bytes(in_place))) == message_state(sent), method
        compared += 1
    assert compared == 5  # comment, gift, like, follow, join


def test_the_emulators_directly_written_messages_are_the_messages_betterproto2_writes():
    """The emulator writes its hot messages field by field (`encode_fields`) rather than building
    and encoding betterproto2 messages: each must be as long as the library's and read back as the
    same message (fields may come in another order, which protobuf allows), negative and zero
    numbers, empty strings, nested and repeated messages included; a type it does not write is refused."""
    from TikTokLiveProto.v3.webcast.im import PushHeader, WebcastPushFrame
    from TikTokLiveProto.v3.webcast.model import Gift
    from TikTokLiveProto.v3.webcast.model.message import WebcastChatMessage, WebcastGiftMessage
    from TikTokLiveProto.v3.webcast.shared.message import BaseProtoMessage, CommonMessageData

    from tests.tiktok_emulator.server import build_user, encode_fields

    def same(message_class: type, **fields: object) -> None:
        ours, library = encode_fields(message_class, **fields), bytes(message_class(**fields))
        assert len(ours) == len(library)
        assert message_class().parse(ours) == message_class().parse(library)

    # (Not a local named `common`: pydantic resolves the classes' "common.Text" in the caller's frame.)
    header = {"method": "WebcastChatMessage", "msg_id": -7, "room_id": 7_400_000_000_000_000_001,
              "create_time": 0, "is_show_msg": True}
    same(CommonMessageData, **header)
    same(WebcastChatMessage, common=CommonMessageData(**header), content="héllo", content_language="",
         user=build_user(FAN))
    chat = encode_fields(WebcastChatMessage, common=encode_fields(CommonMessageData, **header), content="héllo",
                         user=bytes(build_user(FAN)))
    assert WebcastChatMessage().parse(chat) == WebcastChatMessage(common=CommonMessageData(**header), content="héllo",
                                                                  user=build_user(FAN))
    same(WebcastGiftMessage, gift_id=5655, repeat_count=3, repeat_end=0, group_id=-(2 ** 63), log_id="ff", send_type=1)
    same(WebcastPushFrame, seq_id=3, log_id=2 ** 62, payload_type="msg", payload=b"\x00\xff",
         headers=[PushHeader(key="compress_type", value="gzip"), PushHeader(key="", value="x")])
    same(BaseProtoMessage, method="m", payload=b"", msg_id=1)
    with pytest.raises(TypeError, match="not encoded here"):
        encode_fields(Gift, id=1, tracker_params={"a": "b"})


def test_every_event_the_emulator_sends_parses_as_with_the_library_alone():
    """With the validators built once per class and the faster parse (ingest/protobuf.py), a parse
    gives the very messages the library's own gives, field by field, nested messages included. In a
    new interpreter, as in a worker: there pydantic has built no class's schema yet (it defers that
    to a class's first construction)."""
    import json
    import subprocess
    import sys

    from tests.support import ROOT

    payloads = _every_kind_of_event()
    # Built here, parsed there: building them constructs (and so completes) the classes.
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", _COMPARE_PARSES], cwd=ROOT, capture_output=True,
                            text=True, timeout=600,
                            input=json.dumps([[method, payload.hex()] for method, payload in payloads]))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["7", "events", "alike"]


#: Run in its own interpreter by the test above: parse with our validation first, then with the library's own.
_COMPARE_PARSES = """
import betterproto2
from ingest import protobuf

protobuf.reuse_message_validators()  # before any message class is used, as the supervisor does
protobuf.parse_messages_faster()

import json
import sys

from TikTokLive.events.proto_events import EVENT_MAPPINGS

from tests.ingest_support import message_state as state

payloads = [(method, bytes.fromhex(payload)) for method, payload in json.load(sys.stdin)]
ours = [EVENT_MAPPINGS[method]().parse(payload) for method, payload in payloads]
betterproto2.Message._validate = protobuf.library_functions["_validate"]
betterproto2.Message.parse = protobuf.library_functions["parse"]
theirs = [EVENT_MAPPINGS[method]().parse(payload) for method, payload in payloads]

assert ours[0].user.unique_id == "fan42" and ours[1].repeat_count == 3, ours[:2]
for mine, library in zip(ours, theirs, strict=True):
    assert state(mine) == state(library), (state(mine), state(library))
print(len(ours), "events alike")
"""


def _library_parse(message_class, data):  # noqa: ANN001, ANN202
    """The library's own `parse` (nested messages too), with the worker's validation."""
    import betterproto2

    from ingest import protobuf

    protobuf.reuse_message_validators()
    faster = betterproto2.Message.__dict__["parse"]
    betterproto2.Message.parse = protobuf.library_functions.get("parse", faster)
    try:
        return message_class.parse(data)
    finally:
        betterproto2.Message.parse = faster


def _outcome(parse, message_class, data):  # noqa: ANN001, ANN202
    """What a parse gives: ("ok", every attribute recursively with its type) or ("error", its type and text)."""
    from tests.ingest_support import message_state

    try:
        return "ok", message_state(parse(message_class, data))
    except Exception as error:  # noqa: BLE001 - the comparison is the point
        return "error", type(error), str(error)


def test_the_faster_parse_gives_what_the_librarys_gives_for_any_bytes():
    """ingest/protobuf.py's parse against the library's, on real events cut short, with bytes
    changed, inserted or appended, and on arbitrary bytes: the same messages (unknown fields
    kept byte for byte), or the same error."""
    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as st
    from TikTokLive.events.proto_events import EVENT_MAPPINGS

    from ingest import protobuf

    protobuf.parse_messages_faster()
    samples = _every_kind_of_event()

    @st.composite
    def damaged(draw):  # noqa: ANN001, ANN202
        method, payload = draw(st.sampled_from(samples))
        data = bytearray(payload)
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(data)))
            change = draw(st.sampled_from(["cut", "set", "insert", "append"]))
            if change == "cut":
                del data[at:]
            elif change == "set" and at < len(data):
                data[at] = draw(st.integers(0, 255))
            elif change == "insert":
                data[at:at] = draw(st.binary(max_size=12))
            else:
                data += draw(st.binary(max_size=12))
        return EVENT_MAPPINGS[method], bytes(data)

    compared = {"ok": 0, "error": 0}
    comment = EVENT_MAPPINGS[samples[0][0]]

    @example((comment, b"\x08" + b"\xff" * 9 + b"\x01"))  # a ten-byte varint, the longest there is
    @example((comment, b"\x08" + b"\xff" * 10 + b"\x01"))  # one byte too many
    @example((comment, b"\xf8" + b"\xff" * 10 + b"\x01"))  # a field number too long
    @example((comment, b"\x1a\x05ab"))  # a string that ends early
    @example((comment, b"\x08\x80"))  # a varint that ends early
    @example((comment, b"\x02" + b"\xff" * 9 + b"\x01"))  # a length no index can hold (the library's read refuses it)
    @example((comment, b"\x02" + b"\xff" * 8 + b"\x7f"))  # the longest it takes (to the end of the data)
    @example((comment, b"\xa0\x9c\x01\x05" + b"\x8f\x01\x01"))  # unknown fields, kept as they came
    # A field sent with another wire type than its own leaves a value of another type, which only the
    # validation refuses (a parse whose fields all came as declared skips it: ingest/protobuf.py).
    @example((comment, b"\x0a\x02\x08\x01"))  # the common part's method, a string, sent as a number
    @example((comment, b"\x0a\x03\x12\x01\x05"))  # its message id, one number, sent as a packed list
    @example((comment, b"\x0a\x05\x0d\x01\x02\x03\x04"))  # the method sent as four fixed bytes
    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.one_of(damaged(), st.tuples(st.sampled_from([EVENT_MAPPINGS[m] for m, _ in samples]),
                                          st.binary(max_size=64))))
    def compare(case):  # noqa: ANN001, ANN202
        message_class, data = case
        ours = _outcome(lambda cls, raw: cls.parse(raw), message_class, data)
        assert ours == _outcome(_library_parse, message_class, data)
        compared[ours[0]] += 1

    compare()
    assert compared["ok"] > 50 and compared["error"] > 10, compared  # both paths were compared


def test_the_workers_ack_is_the_librarys_ack_byte_for_byte():
    """ingest/push_frames.py writes a push frame's ack directly: for any log id and any cursor, the
    bytes the library's `WebcastPushFrame` gives, and the library's error for a log id out of range."""
    from hypothesis import example, given, settings
    from hypothesis import strategies as st

    from ingest.push_frames import _library_ack, ack_frame

    @example(0, "")
    @example(-1, None)
    @example(2 ** 63 - 1, "x" * 300)
    @example(-(2 ** 63), "é")
    @settings(max_examples=300, deadline=None)
    @given(st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1), st.one_of(st.none(), st.text()))
    def compare(log_id, internal_ext):  # noqa: ANN001, ANN202
        assert ack_frame(log_id, internal_ext) == _library_ack(log_id, internal_ext)

    compare()
    for out_of_range in (2 ** 63, -(2 ** 63) - 1):
        with pytest.raises(Exception) as ours:  # noqa: PT011 - whatever the library raises
            ack_frame(out_of_range, "x")
        with pytest.raises(Exception) as library:  # noqa: PT011
            _library_ack(out_of_range, "x")
        assert type(ours.value) is type(library.value)


def test_a_gzipped_frame_unzips_as_with_the_library_damaged_or_not():
    """The worker gunzips a push frame's payload in one call (ingest/push_frames.py): the same fetch
    result for the frames the emulator sends, and the same error for any damaged payload; frames
    not gzipped are the library's own path."""
    import gzip

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from TikTokLive.client.ws import ws_utils
    from TikTokLive.proto import PushHeader, WebcastPushFrame

    from bench.decode import frames
    from ingest import push_frames
    from tests.ingest_support import message_state

    assert push_frames.send_acks_and_unzip_faster()
    library = push_frames.library_functions["extract_webcast_response_message"]
    assert ws_utils.extract_webcast_response_message is push_frames._extract_response

    def outcome(extract, frame):  # noqa: ANN001, ANN202
        try:
            return "ok", message_state(extract(frame))
        except Exception as error:  # noqa: BLE001 - the comparison is the point
            return "error", type(error)

    def frame(payload: bytes, compress: str | None) -> WebcastPushFrame:
        headers = [PushHeader(key="compress_type", value=compress)] if compress else []
        return WebcastPushFrame(log_id=1, payload_type="msg", payload_encoding="pb", headers=headers, payload=payload)

    real = [WebcastPushFrame().parse(raw) for raw in frames(5, 3)]
    for sample in real:
        ours = outcome(push_frames._extract_response, sample)
        assert ours[0] == "ok" and len(ours[1][1]["messages"]) == 3, ours
        assert ours == outcome(library, sample)
    inner = gzip.decompress(real[0].payload)
    plain = frame(inner, None)
    assert outcome(push_frames._extract_response, plain) == outcome(library, plain)

    compared = {"ok": 0, "error": 0}

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.integers(0, len(real[0].payload)), st.binary(max_size=6), st.integers(0, 2))
    def compare(at, inserted, how):  # noqa: ANN001, ANN202
        data = bytearray(real[0].payload)
        if how == 0:
            del data[at:]
        elif how == 1:
            data[at:at + len(inserted)] = inserted
        else:
            data[at:at] = inserted
        damaged = frame(bytes(data), "gzip")
        ours = outcome(push_frames._extract_response, damaged)
        assert ours == outcome(library, damaged)
        compared[ours[0]] += 1

    compare()
    assert compared["ok"] > 10 and compared["error"] > 10, compared


def test_the_workers_client_gives_the_librarys_events_without_the_objects_nobody_reads(caplog):
    """The worker's client (`ingest.client.client_class`) parses each message into the events the
    library's own method gives, custom ones (follow, share, live end) included and in the same
    order, less the `WebsocketResponseEvent` the library adds beside each; a message it does not
    parse (none, untracked, broken) gets the library's handling exactly, logged as the library
    logs it."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from TikTokLive import TikTokLiveClient
    from TikTokLive.events.custom_events import WebsocketResponseEvent

    from ingest import protobuf
    from ingest.client import client_class
    from tests.ingest_support import message_state
    from tests.tiktok_emulator import server as emulator
    from tests.tiktok_emulator.server import BaseProtoMessage, ProtoMessageFetchResult

    protobuf.reuse_message_validators()
    protobuf.parse_messages_faster()
    room = 7_400_000_000_000_000_001
    messages = [BaseProtoMessage(method=method, payload=payload, msg_id=number)
                for number, (method, payload) in enumerate([
                    *_every_kind_of_event(), emulator.msg_social(room, FAN, "share"),
                    ("WebcastChatMessage", b"\x08"), ("WebcastNoSuchMessage", b"\x08\x01")])]
    response = ProtoMessageFetchResult(messages=messages, cursor="c", is_first=False)

    def kinds_and_states(events):  # noqa: ANN001, ANN202
        return [(type(event).__name__, message_state(event) if hasattr(event, "_betterproto") else None)
                for event in events]

    async def both(message):  # noqa: ANN001, ANN202
        client = client_class()(unique_id="@emu.host")
        ours = await client._parse_webcast_response_message(response, message)
        theirs = await TikTokLiveClient._parse_webcast_response_message(client, response, message)
        await asyncio.sleep(0)  # the library's live end schedules a disconnect: let it run
        return ours, theirs

    seen = []
    for message in [*messages, None]:
        with caplog.at_level("DEBUG", logger="TikTokLive"):
            caplog.clear()
            # In a thread of its own: asyncio.run refuses a thread where a loop is running, and in the
            # whole suite the session's Playwright (its sync API, tests/conftest.py) keeps one running here.
            with ThreadPoolExecutor(1) as pool:
                ours, theirs = pool.submit(asyncio.run, both(message)).result(timeout=600)
        parsed = message is not None and message.method != "WebcastNoSuchMessage" and message.payload != b"\x08"
        if parsed:
            assert not any(isinstance(event, WebsocketResponseEvent) for event in ours)
            theirs = [event for event in theirs if type(event) is not WebsocketResponseEvent]
            # The library's own parse logs nothing for these; ours must not either.
            assert not caplog.records
        else:
            # Delegated: the library's result, and its log line once per parse (it parses twice here).
            assert len(caplog.records) in (0, 2) and len({record.getMessage() for record in caplog.records}) <= 1
        assert kinds_and_states(ours) == kinds_and_states(theirs), message and message.method
        seen.extend(type(event).__name__ for event in ours)
    assert seen == ["CommentEvent", "GiftEvent", "LikeEvent", "FollowEvent", "SocialEvent", "JoinEvent",
                    "RoomUserSeqEvent", "LiveEndEvent", "ControlEvent", "ShareEvent", "SocialEvent",
                    "WebsocketResponseEvent", "WebsocketResponseEvent", "UnknownEvent"]
