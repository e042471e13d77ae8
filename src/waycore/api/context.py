"""Per-request context shared by middleware, dependencies and error handlers."""

from __future__ import annotations

import os
import re
from contextvars import ContextVar

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

request_id_var: ContextVar[str] = ContextVar("request_id", default="")


# byte -> base32 character: 256 = 8 x 32, so a uniform byte gives a uniform character
_BASE32 = bytes.maketrans(bytes(range(256)), b"abcdefghijklmnopqrstuvwxyz234567" * 8)


def new_request_id() -> str:
    """``req_`` + 24 lowercase base32 characters, uniformly random (the format of
    ``waycore.ids.prefixed``), from one read of the system's random source rather than one
    per character: it runs on every request."""
    return "req_" + os.urandom(24).translate(_BASE32).decode("ascii")


def choose_request_id(presented: str | None) -> str:
    if presented and REQUEST_ID_PATTERN.match(presented):
        return presented
    return new_request_id()


def current_request_id() -> str:
    return request_id_var.get() or new_request_id()
