"""betterproto2's message validation, with each message class's validator built once.

TikTokLive's event classes are betterproto2 messages whose fields are pydantic dataclasses, and
betterproto2 (0.9.1 and 0.10.0) validates every message it parses or encodes by building a new
`pydantic_core.SchemaValidator` from the class's schema, then throwing it away. Building it costs
more than the validation: it was 41% of the library's price for decoding one event, and about a
fifth of a worker's CPU following 200 LIVEs (docs/benchmarks.md, "Issue 13").

`reuse_message_validators` keeps the validation exactly as the library does it (the same schema, the
same checks, the same errors) and builds each class's validator once. It changes nothing else in the
library and is applied once per process, before the first client starts.
"""

from __future__ import annotations

import functools
from typing import Any

#: The library's own `_validate`, kept for the test that compares with it.
library_functions: dict[str, Any] = {}


@functools.cache
def _validator_for(message_class: type) -> Any:
    import pydantic_core

    return pydantic_core.SchemaValidator(message_class.__pydantic_core_schema__)


def _validate(self: Any) -> None:
    """betterproto2's `Message._validate`, with the class's validator built once rather than per call."""
    if not self._is_pydantic():
        raise TypeError("Validation is only available for pydantic dataclasses.")
    values = self.__dict__.copy()
    del values["_unknown_fields"]
    _validator_for(type(self)).validate_python(values)


def reuse_message_validators() -> None:
    """Make betterproto2 validate each message with a validator built once per class (idempotent)."""
    import betterproto2

    library_functions.setdefault("_validate", betterproto2.Message.__dict__["_validate"])
    betterproto2.Message._validate = _validate
