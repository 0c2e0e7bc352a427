"""betterproto2's parsing and validation as the worker runs them: the same results, for less CPU.

TikTokLive's event classes are betterproto2 messages whose fields are pydantic dataclasses. Decoding
the events was most of a worker's CPU following 200 LIVEs (docs/benchmarks.md, "Issue 13"), for
four reasons this module removes, each without changing what a parse gives:

- betterproto2 (0.9.1 and 0.10.0) validates every message it parses or encodes by building a new
  `pydantic_core.SchemaValidator` from the class's schema, then throwing it away.
  `reuse_message_validators` keeps the validation exactly (the same schema, checks and errors) and
  builds each class's validator once.
- It starts every message, nested ones included, from a blank instance made by the pydantic
  constructor, which validates every default (a TikTok `User` has about a hundred fields).
- It reads the wire format a byte at a time from a stream. `parse_messages_faster` makes
  `Message.parse` read the buffer by index and start from a copy of the class's blank instance;
  the fields, values, unknown-field bytes, validation and errors are the library's (the tests
  compare the two on every kind of event and on damaged and arbitrary bytes).
- It validates every message it parses, although a message whose fields all came with their declared
  wire type cannot fail (each value is already of its type and range). `_parse` validates a message
  only when a field came otherwise; the outcome is the library's either way (same tests). This took a
  comment's parse from about 70 to 44 µs (4 December 2026; docs/benchmarks.md).

They change nothing else in the library and are applied once per process, before the first client
starts. They belong upstream.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

# Imported once here, not in `_parse`: it runs for every message, nested ones too.
from betterproto2 import (
    PACKED_TYPES,
    TYPE_DOUBLE,
    TYPE_FIXED32,
    TYPE_FIXED64,
    TYPE_FLOAT,
    TYPE_MAP,
    TYPE_SFIXED32,
    TYPE_SFIXED64,
    WIRE_FIXED_32,
    WIRE_FIXED_32_TYPES,
    WIRE_FIXED_64,
    WIRE_FIXED_64_TYPES,
    WIRE_LEN_DELIM,
    WIRE_LEN_DELIM_TYPES,
    WIRE_VARINT,
    WIRE_VARINT_TYPES,
)

#: The library's own `_validate` and `parse`, kept for the tests that compare with them.
library_functions: dict[str, Any] = {}


@functools.cache
def _validator_for(message_class: type) -> Any:
    import pydantic_core

    return pydantic_core.SchemaValidator(message_class.__pydantic_core_schema__)


@functools.cache
def _validates(message_class: type) -> bool:
    import pydantic

    return pydantic.dataclasses.is_pydantic_dataclass(message_class)


def _validate(self: Any) -> None:
    """betterproto2's `Message._validate`, with the class's validator built once rather than per call."""
    if not _validates(type(self)):
        raise TypeError("Validation is only available for pydantic dataclasses.")
    values = self.__dict__.copy()
    del values["_unknown_fields"]
    _validator_for(type(self)).validate_python(values)


def reuse_message_validators() -> None:
    """Make betterproto2 validate each message with a validator built once per class (idempotent)."""
    import betterproto2

    library_functions.setdefault("_validate", betterproto2.Message.__dict__["_validate"])
    betterproto2.Message._validate = _validate


# -- parsing -----------------------------------------------------------------------------------------


_IMMUTABLE_DEFAULTS = (type(None), bool, int, float, str, bytes)


def _template_for(message_class: type) -> tuple[dict[str, Any], tuple[tuple[str, type], ...]] | None:
    """What a blank instance built by the class's own constructor holds: the values to share (immutable)
    and the fields that need a fresh empty list or dict. None if a default is anything else."""
    import enum

    blank = message_class()
    shared: dict[str, Any] = {}
    fresh: list[tuple[str, type]] = []
    for name, value in blank.__dict__.items():
        if type(value) in _IMMUTABLE_DEFAULTS or isinstance(value, enum.Enum):
            shared[name] = value
        elif type(value) in (list, dict) and not value:
            fresh.append((name, type(value)))
        else:
            return None
    return shared, tuple(fresh)


_templates: dict[type, Any] = {}


def _blank(message_class: type) -> Any:
    """A new blank message, equal attribute for attribute to `message_class()`, without running
    pydantic's validation of the ~100 defaults of a TikTok `User` for every message parsed."""
    template = _templates.get(message_class)
    if template is None:
        template = _templates[message_class] = _template_for(message_class) or False
    if template is False:
        return message_class()
    shared, fresh = template
    message = object.__new__(message_class)
    state = message.__dict__
    state.update(shared)
    for name, empty in fresh:
        state[name] = empty()
    return message


def _declared_wire_types(message_class: type) -> dict[str, frozenset[int]]:
    """Per field of the class, the wire types its declared type is sent with (a packed list of
    numbers too, for a repeated one)."""
    wire_of = {**dict.fromkeys(WIRE_VARINT_TYPES, WIRE_VARINT), **dict.fromkeys(WIRE_FIXED_32_TYPES, WIRE_FIXED_32),
               **dict.fromkeys(WIRE_FIXED_64_TYPES, WIRE_FIXED_64),
               **dict.fromkeys(WIRE_LEN_DELIM_TYPES, WIRE_LEN_DELIM)}
    declared = {}
    for name, meta in message_class._betterproto.meta_by_field_name.items():
        wires = {wire_of[meta.proto_type]} if meta.proto_type in wire_of else set()
        if meta.repeated and meta.proto_type in PACKED_TYPES:
            wires.add(WIRE_LEN_DELIM)
        declared[name] = frozenset(wires)
    return declared


@functools.cache
def _validation_skippable(message_class: type) -> dict[str, frozenset[int]] | None:
    """The class's declared wire types when its validation can be told from them, else None.

    Validation can only refuse a field's value, never the message (pydantic runs no model validator
    on these classes, every field has a valid default, and a field's only checks are betterproto2's
    type and range checks of `betterproto2.validators`): so a message whose fields all came with
    their declared wire type, each turned by betterproto2 into a value of that type and range (masked
    integers, unpacked floats, decoded UTF-8, nested messages that passed their own validation), always
    passes. Any other wire type leaves a value of another type, and the message is validated."""
    if not _validates(message_class):
        return None
    decorators = getattr(message_class, "__pydantic_decorators__", None)
    if decorators is None or any((decorators.model_validators, decorators.root_validators,
                                  decorators.field_validators, decorators.validators)):
        return None
    # The library's validation of a parse checks the defaults too: a class whose defaults it would
    # refuse is always validated.
    blank = _blank(message_class).__dict__.copy()
    del blank["_unknown_fields"]
    try:
        _validator_for(message_class).validate_python(blank)
    except ValueError:  # pydantic's ValidationError
        return None
    return _declared_wire_types(message_class)


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    """betterproto2's `load_varint` over a bytes object: (value, next position); EOFError if the data
    ends inside it, ValueError past ten bytes."""
    try:
        byte = data[position]
    except IndexError:
        raise EOFError("Stream ended unexpectedly while attempting to load varint.") from None
    position += 1
    if byte < 0x80:
        return byte, position
    result = byte & 0x7F
    shift = 7
    while True:
        if shift >= 64:
            raise ValueError("Too many bytes when decoding varint.")
        try:
            byte = data[position]
        except IndexError:
            raise EOFError("Stream ended unexpectedly while attempting to load varint.") from None
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _parse(cls: type, data: bytes) -> Any:
    """betterproto2's `Message.parse` (its `load` of a whole buffer), reading the buffer by index
    instead of byte by byte from a stream, and starting from `_blank`: the same fields, the same
    values, the same unknown-field bytes, the same validation and the same errors."""
    if not isinstance(data, bytes):
        data = bytes(data)
    self = _blank(cls)
    declared_wires = _validation_skippable(cls)
    # Validated at the end unless every field came with its declared wire type (see `_validation_skippable`).
    must_validate = declared_wires is None
    proto_meta = self._betterproto
    field_names = proto_meta.field_name_by_number
    metas = proto_meta.meta_by_field_name
    postprocess = self._postprocess_single
    end = len(data)
    position = 0
    while position < end:
        start = position
        try:
            number_and_wire, position = _read_varint(data, position)
        except EOFError:
            break
        number = number_and_wire >> 3
        wire_type = number_and_wire & 0x7
        value: Any = None
        if wire_type == 0:
            value, position = _read_varint(data, position)
        elif wire_type == 1:
            value = data[position:position + 8]
            position += 8
        elif wire_type == 2:
            length, position = _read_varint(data, position)
            if length > sys.maxsize:  # the library's read of its stream refuses a length no index can hold
                raise OverflowError("cannot fit 'int' into an index-sized integer")
            value = data[position:position + length]
            position += length
        elif wire_type == 5:
            value = data[position:position + 4]
            position += 4

        field_name = field_names.get(number)
        if not field_name:
            self._unknown_fields += data[start:position]
            continue
        meta = metas[field_name]
        if not must_validate and wire_type not in declared_wires[field_name]:
            must_validate = True
        packed = wire_type == 2 and meta.proto_type in PACKED_TYPES
        if packed:
            offset = 0
            items = []
            while offset < len(value):
                if meta.proto_type in (TYPE_FLOAT, TYPE_FIXED32, TYPE_SFIXED32):
                    item, offset, item_wire = value[offset:offset + 4], offset + 4, 5
                elif meta.proto_type in (TYPE_DOUBLE, TYPE_FIXED64, TYPE_SFIXED64):
                    item, offset, item_wire = value[offset:offset + 8], offset + 8, 1
                else:
                    item, offset = _read_varint(value, offset)
                    item_wire = 0
                items.append(postprocess(item_wire, meta, field_name, item))
            value = items
        else:
            value = postprocess(wire_type, meta, field_name, value)

        if meta.proto_type == TYPE_MAP:
            getattr(self, field_name)[value.key] = value.value
        elif meta.repeated:
            if packed:
                getattr(self, field_name).extend(value)
            else:
                getattr(self, field_name).append(value)
        else:
            setattr(self, field_name, value)

    if must_validate and _validates(cls):
        self._validate()
    return self


def parse_messages_faster() -> None:
    """Make betterproto2 parse with `_parse` (idempotent)."""
    import betterproto2

    library_functions.setdefault("parse", betterproto2.Message.__dict__["parse"])
    betterproto2.Message.parse = classmethod(_parse)
