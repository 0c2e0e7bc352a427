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
    assert built > 0  # the parse went through the validators built once per class
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
