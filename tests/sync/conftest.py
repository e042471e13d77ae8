"""Sync fixtures: connections made straight in SQL (the shape of migration 0004)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.entities.models import Entity
from waycore.domain.orgs import service as orgs
from waycore.domain.partition import Partition
from waycore.ids import prefixed


@dataclass(frozen=True)
class ConnectionRow:
    id: str
    partition: Partition
    entity_id: UUID


MakeConnection = Callable[..., Awaitable[ConnectionRow]]


async def insert_connection(
    session: AsyncSession,
    org_name: str | None = None,
    environment: str = "test",
    status: str = "active",
) -> ConnectionRow:
    org = await orgs.get_or_create(session, org_name or f"org-{secrets.token_hex(6)}")
    async with session.begin():
        entity_id = (
            await session.execute(
                select(Entity.id).where(Entity.org_id == org.id, Entity.is_default.is_(True))
            )
        ).scalar_one()
        connection_id = prefixed("conn")
        await session.execute(
            text(
                "insert into connections (id, org_id, environment, entity_id, portal_url, "
                "status, kind, sync_status) values (:id, :org, :env, :entity, :url, :status, "
                "'ready', 'syncing')"
            ),
            {
                "id": connection_id,
                "org": org.id,
                "env": environment,
                "entity": entity_id,
                "url": f"http://bank.example/{connection_id}",
                "status": status,
            },
        )
    return ConnectionRow(connection_id, Partition(org.id, environment), entity_id)  # type: ignore[arg-type]


@pytest.fixture
def make_connection(session: AsyncSession) -> MakeConnection:
    async def factory(**kwargs: Any) -> ConnectionRow:
        return await insert_connection(session, **kwargs)

    return factory
