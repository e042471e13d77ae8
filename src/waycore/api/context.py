"""Per-request context shared by middleware, dependencies and error handlers."""

from __future__ import annotations

import base64
import os
import re
from contextvars import ContextVar

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

request_id_var: ContextVar[str] = ContextVar("request_id", default="")


def new_request_id() -> str:
    """``req_`` + 24 lowercase base32 characters (the format of ``waycore.ids.prefixed``),
    from one 15-byte read of the system's random source rather than one read per character:
    it runs on every request."""
    return "req_" + base64.b32encode(os.urandom(15)).decode("ascii").lower()


def choose_request_id(presented: str | None) -> str:
    if presented and REQUEST_ID_PATTERN.match(presented):
        return presented
    return new_request_id()


def current_request_id() -> str:
    return request_id_var.get() or new_request_id()
