"""The audit log: who did what to which resource, when, from where.

The actor and request come from a context variable the API (or CLI) binds per request, so
services record audit rows without taking HTTP objects.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.audit.models import AuditRecord
from waycore.domain.common import utcnow
from waycore.domain.partition import Partition


@dataclass(frozen=True)
class Actor:
    name: str  # "key:<keyId>", "cli", "operator:<name>", "system"
    request_id: str | None = None
    remote_addr: str | None = None


SYSTEM = Actor("system")
current_actor: ContextVar[Actor] = ContextVar("current_actor", default=SYSTEM)


async def record_audit(
    session: AsyncSession,
    partition: Partition,
    *,
    action: str,
    resource_type: str,
    resource_id: str | None,
    details: dict[str, Any] | None = None,
    shared: bool = False,
) -> None:
    """Add an audit row in the caller's transaction (``shared``: org-wide resource)."""
    actor = current_actor.get()
    session.add(
        AuditRecord(
            org_id=partition.org_id,
            environment=None if shared else partition.environment,
            actor=actor.name,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            request_id=actor.request_id,
            remote_addr=actor.remote_addr,
            details=details or {},
            created_at=utcnow(),
        )
    )
