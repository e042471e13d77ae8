"""Reusable field types for request bodies (API.md section 1).

``Annotated[str, CleanStr(min, max)]``: a strict string of ``min``-``max`` code points without
control characters (U+0000-U+001F, U+007F). ``Metadata``: the integrator-owned object of
entities, connections and webhooks, at most 50 keys of 1-40 characters ``^[A-Za-z0-9_.-]+$``
with string values of at most 500 characters (also free of control characters).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from annotated_types import GroupedMetadata
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
METADATA_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
METADATA_MAX_KEYS = 50
METADATA_MAX_VALUE = 500

_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"


def no_control_chars(value: str) -> str:
    if CONTROL_CHARS.search(value):
        raise PydanticCustomError("control_characters", "must not contain control characters")
    return value


@dataclass(frozen=True)
class CleanStr(GroupedMetadata):
    """Constraints of a strict string without control characters, ``min_length``-``max_length``
    code points: ``name: Annotated[str, CleanStr(1, 200)]``."""

    min_length: int = 0
    max_length: int | None = None

    def __iter__(self) -> Iterator[Any]:
        yield StringConstraints(strict=True, min_length=self.min_length, max_length=self.max_length)
        yield AfterValidator(no_control_chars)
        yield Field(json_schema_extra={"pattern": _NO_CONTROL})


def _check_metadata(value: Any) -> Any:
    if not isinstance(value, dict):
        raise PydanticCustomError("metadata", "must be an object with string values")
    if len(value) > METADATA_MAX_KEYS:
        raise PydanticCustomError("metadata", f"must have at most {METADATA_MAX_KEYS} keys")
    problems: list[str] = []
    for key, item in value.items():
        if not METADATA_KEY.fullmatch(key):
            problems.append(f"key {key[:40]!r} must be 1-40 characters of A-Z a-z 0-9 _ . -")
        elif not isinstance(item, str):
            problems.append(f"value of {key!r} must be a string")
        elif len(item) > METADATA_MAX_VALUE:
            problems.append(f"value of {key!r} must be at most {METADATA_MAX_VALUE} characters")
        elif CONTROL_CHARS.search(item):
            problems.append(f"value of {key!r} must not contain control characters")
    if problems:
        message = "; ".join(problems).replace("{", "(").replace("}", ")")
        raise PydanticCustomError("metadata", message)
    return value


Metadata = Annotated[
    dict[str, str],
    BeforeValidator(_check_metadata),
    Field(
        json_schema_extra={
            "maxProperties": METADATA_MAX_KEYS,
            "propertyNames": {"pattern": r"^[A-Za-z0-9_.-]{1,40}$"},
            "additionalProperties": {"type": "string", "maxLength": METADATA_MAX_VALUE},
        },
        description="Integrator-owned string map: at most 50 keys of 1-40 characters "
        "[A-Za-z0-9_.-], values at most 500 characters.",
    ),
]
