"""Per-request context shared by middleware, dependencies and error handlers."""

from __future__ import annotations

import re
from contextvars import ContextVar

from waycore.ids import prefixed

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

request_id_var: ContextVar[str] = ContextVar("request_id", default="")


def choose_request_id(presented: str | None) -> str:
    if presented and REQUEST_ID_PATTERN.match(presented):
        return presented
    return prefixed("req")


def current_request_id() -> str:
    return request_id_var.get() or prefixed("req")
