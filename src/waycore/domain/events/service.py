"""Domain events, written in the caller's transaction (DESIGN.md section 3)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.common import utcnow
from waycore.domain.events.models import Event
from waycore.domain.partition import Partition
from waycore.ids import prefixed


async def record_event(
    session: AsyncSession, partition: Partition, type_: str, data: dict[str, Any]
) -> Event:
    event = Event(
        id=prefixed("evt"),
        org_id=partition.org_id,
        environment=partition.environment,
        type=type_,
        data=data,
        created_at=utcnow(),
    )
    session.add(event)
    await session.flush()
    return event
