"""API key scopes (API.md section 2): a ``:write`` scope implies its ``:read``."""

from __future__ import annotations

from typing import Literal, get_args

Scope = Literal[
    "entities:read",
    "entities:write",
    "connections:read",
    "connections:write",
    "accounts:read",
    "transactions:read",
    "statements:read",
    "transfers:read",
    "transfers:write",
    "webhooks:read",
    "webhooks:write",
    "apiKeys:read",
    "apiKeys:write",
]
ALL_SCOPES: tuple[str, ...] = get_args(Scope)


def effective(scopes: list[str] | tuple[str, ...]) -> frozenset[str]:
    """The scopes a key holds, with every ``:write`` adding its ``:read``."""
    result = set(scopes)
    for scope in scopes:
        if scope.endswith(":write"):
            result.add(scope[: -len(":write")] + ":read")
    return frozenset(result)
