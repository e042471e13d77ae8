"""Institution id -> connector class (DESIGN.md section 4).

``connector_for("sandbox_bank")`` gives ``SandboxBankConnector``; an institution without a
connector (or a portal with no catalogue entry) gives None: the connection is
operator-assisted.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from waycore.connectors.protocol import Connector

# id -> "module:Class", imported on first use (connectors pull in their pages lazily).
CONNECTORS: dict[str, str] = {
    "sandbox_bank": "waycore.connectors.sandbox_bank.connector:SandboxBankConnector",
}


def connector_class(institution_id: str | None) -> Callable[..., Connector] | None:
    """The connector class for ``institution_id``, or None (operator-assisted)."""
    target = CONNECTORS.get(institution_id or "")
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)  # type: ignore[no-any-return]


def connector_for(institution_id: str | None) -> Connector | None:
    """A ready connector instance for ``institution_id``, or None."""
    cls = connector_class(institution_id)
    return cls() if cls is not None else None


def supported() -> list[str]:
    return sorted(CONNECTORS)
