"""Identifier formats of API.md section 1."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Callable

_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def random_base32(length: int) -> str:
    return "".join(secrets.choice(_B32) for _ in range(length))


def prefixed(prefix: str) -> str:
    """`conn_`, `wh_`, `dlv_`, `evt_`, `req_` + 24 lowercase base32 characters."""
    return f"{prefix}_{random_base32(24)}"


def new_id(prefix: str) -> Callable[[], str]:
    return lambda: prefixed(prefix)


def uuid7() -> uuid.UUID:
    """A UUIDv7: 48-bit millisecond timestamp, version and variant bits, random rest."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFFFFFFFFFF) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def uuid7_str() -> str:
    return str(uuid7())


def parse_uuid(value: str) -> uuid.UUID | None:
    """The UUID in a path id, or None when malformed (the caller answers 404)."""
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
    return parsed if str(parsed) == value else None
