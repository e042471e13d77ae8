"""Entities: the businesses that own connections, shared by an organization's test and live keys.

Entities belong to the organization, not to a partition: every query filters on ``org_id`` only,
and audit rows are recorded as org-wide (``shared=True``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.audit.service import record_audit
from waycore.domain.entities.models import Entity
from waycore.domain.entities.schemas import EntityCreate, EntityUpdate
from waycore.domain.partition import Partition
from waycore.errors import DefaultEntityImmutable, EntityHasConnections, NotFound
from waycore.ids import parse_uuid, uuid7


async def create_or_get_entity(
    session: AsyncSession, partition: Partition, body: EntityCreate
) -> tuple[Entity, bool]:
    """The new entity and ``True``, or the existing one with this ``externalEntityId``
    (unchanged) and ``False``. Concurrent identical calls create one row."""
    async with session.begin():
        inserted = (
            await session.execute(
                insert(Entity)
                .values(
                    id=uuid7(),
                    org_id=partition.org_id,
                    external_entity_id=body.external_entity_id,
                    name=body.name,
                    is_default=False,
                    contact_emails=list(body.contact_emails),
                    metadata_=dict(body.metadata or {}),
                )
                .on_conflict_do_nothing(index_elements=["org_id", "external_entity_id"])
                .returning(Entity.id)
            )
        ).scalar_one_or_none()
        entity = (
            await session.execute(
                select(Entity)
                .where(
                    Entity.org_id == partition.org_id,
                    Entity.external_entity_id == body.external_entity_id,
                )
                .execution_options(populate_existing=True)
            )
        ).scalar_one()
        if inserted is not None:
            await record_audit(
                session,
                partition,
                action="entity.create",
                resource_type="entity",
                resource_id=str(entity.id),
                shared=True,
            )
    return entity, inserted is not None


async def _get(
    session: AsyncSession, partition: Partition, entity_id: str, *, for_update: bool = False
) -> Entity:
    parsed = parse_uuid(entity_id)
    if parsed is None:
        raise NotFound()
    stmt = select(Entity).where(Entity.org_id == partition.org_id, Entity.id == parsed)
    if for_update:
        stmt = stmt.with_for_update()
    entity = (
        await session.execute(stmt.execution_options(populate_existing=True))
    ).scalar_one_or_none()
    if entity is None:
        raise NotFound()
    return entity


async def get_entity(session: AsyncSession, partition: Partition, entity_id: str) -> Entity:
    """The organization's entity with this id (either environment's key), else ``NotFound``."""
    async with session.begin():
        return await _get(session, partition, entity_id)


async def update_entity(
    session: AsyncSession, partition: Partition, entity_id: str, body: EntityUpdate
) -> Entity:
    """Apply the supplied fields; the default entity is immutable."""
    async with session.begin():
        entity = await _get(session, partition, entity_id, for_update=True)
        if entity.is_default:
            raise DefaultEntityImmutable()
        changes: dict[str, Any] = body.changes()
        await session.execute(
            update(Entity).where(Entity.id == entity.id).values(**changes, updated_at=func.now())
        )
        entity = await _get(session, partition, entity_id)
        await record_audit(
            session,
            partition,
            action="entity.update",
            resource_type="entity",
            resource_id=str(entity.id),
            details={"fields": sorted(body.model_fields_set)},
            shared=True,
        )
    return entity


async def _connections_table_exists(session: AsyncSession) -> bool:
    found = await session.execute(text("select to_regclass('public.connections') is not null"))
    return bool(found.scalar_one())


async def count_live_connections(session: AsyncSession, entity_id: UUID) -> int:
    """Non-revoked connections of the entity, both environments (0 before connections exist)."""
    if not await _connections_table_exists(session):
        return 0
    result = await session.execute(
        text("select count(*) from connections where entity_id = :id and status <> 'revoked'"),
        {"id": entity_id},
    )
    return int(result.scalar_one())


async def delete_entity_rows(session: AsyncSession, entity: Entity) -> None:
    """Delete the entity with its revoked connections (both environments) and their data.

    The hook the connections module extends: by the time it runs the entity is locked and owns
    no non-revoked connection. Accounts, transactions, balances and statements hang off
    connections (deleted with them); transfers must stay readable.
    """
    if await _connections_table_exists(session):
        await session.execute(
            text("delete from connections where entity_id = :id"), {"id": entity.id}
        )
    await session.delete(entity)
    await session.flush()


async def delete_entity(session: AsyncSession, partition: Partition, entity_id: str) -> None:
    """Delete the entity; refused for the default entity and while connections are live."""
    async with session.begin():
        entity = await _get(session, partition, entity_id, for_update=True)
        if entity.is_default:
            raise DefaultEntityImmutable()
        count = await count_live_connections(session, entity.id)
        if count:
            raise EntityHasConnections(connection_count=count)
        await delete_entity_rows(session, entity)
        await record_audit(
            session,
            partition,
            action="entity.delete",
            resource_type="entity",
            resource_id=str(entity.id),
            shared=True,
        )


def list_statement(partition: Partition, external_entity_id: str | None) -> Any:
    """The organization's entities, optionally filtered by ``externalEntityId``."""
    stmt = select(Entity).where(Entity.org_id == partition.org_id)
    if external_entity_id is not None:
        stmt = stmt.where(Entity.external_entity_id == external_entity_id)
    return stmt
