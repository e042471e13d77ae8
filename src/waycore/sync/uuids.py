"""UUIDv7 ids for bulk loads, made a few thousand at a time, as hex text.

Per id, ``waycore.ids.uuid7`` costs a system call and Python integer arithmetic, and the
``waycore_uuid7()`` column default a dozen SQL function calls on the database server, which
is the busy side of a COPY. Here one ``os.urandom`` call fills a block of ids and slice
assignment stamps the time, version, counter and variant into all of them at once.

Layout (RFC 9562, UUIDv7 with a dedicated counter, section 6.2 method 1): 48 bits of Unix
time in milliseconds, version 7, a 12-bit counter numbering the ids of a block, variant
``10``, 62 random bits. Each block takes a millisecond later than the one before, so the
ids of one call strictly increase and are appended at the right edge of the primary key.

Ids travel as 32 hex digits: asyncpg encodes such a string as a ``uuid`` in C, and, unlike
``uuid.UUID`` objects, strings (and tuples holding only strings, numbers and dates) are not
tracked by Python's garbage collector, so holding a hundred thousand of them does not set off
full collections over everything else in memory.
"""

from __future__ import annotations

import os
import time
import uuid

BLOCK = 4096  # ids per block: what a 12-bit counter can number
_HIGH = bytes(0x70 | (i >> 8) for i in range(BLOCK))  # version 7 + counter bits 11..8
_LOW = bytes(i & 0xFF for i in range(BLOCK))  # counter bits 7..0
_VARIANT = bytes(0x80 | (b & 0x3F) for b in range(256))  # variant 10 + 6 random bits


def block(millis: int) -> bytes:
    """``BLOCK`` ids of millisecond ``millis``, 16 bytes each, in increasing order."""
    raw = bytearray(os.urandom(16 * BLOCK))
    stamp = millis.to_bytes(6, "big")
    for k in range(6):
        raw[k::16] = stamp[k : k + 1] * BLOCK
    raw[6::16] = _HIGH
    raw[7::16] = _LOW
    raw[8::16] = raw[8::16].translate(_VARIANT)
    return bytes(raw)


def uuid7_hex(count: int) -> list[str]:
    """``count`` increasing UUIDv7, each as 32 lowercase hex digits."""
    ids: list[str] = []
    last = 0
    while len(ids) < count:
        last = max(time.time_ns() // 1_000_000, last + 1)
        digits = block(last).hex()
        size = 32 * min(BLOCK, count - len(ids))
        ids.extend(digits[i : i + 32] for i in range(0, size, 32))
    return ids


def hex32(value: uuid.UUID) -> str:
    """``value`` as 32 hex digits, the form in which bulk records carry ids."""
    return value.hex
