"""Lifecycle verbs: read, PATCH (metadata, pause/resume), manual sync, revoke."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from waycore import queue
from waycore.domain.common import utcnow
from waycore.domain.connections.models import STATUSES, Connection, ConnectionCredentials
from waycore.domain.connections.service import phones
from waycore.domain.connections.service.common import (
    SYNC_QUEUE,
    SYNC_TASK,
    audit,
    get_for_update,
    get_row,
    refuse,
    set_status,
)
from waycore.domain.partition import Partition
from waycore.errors import SyncInProgress
from waycore.ids import uuid7

PAUSABLE = frozenset({"active", "paused"})
NOT_REVOKED = frozenset(STATUSES) - {"revoked"}


async def get_connection(
    session: AsyncSession, partition: Partition, connection_id: str
) -> Connection:
    async with session.begin():
        return await get_row(session, partition, connection_id)


def list_statement(
    partition: Partition,
    *,
    entity_id: UUID | None,
    institution_id: str | None,
    status: str | None,
    kind: str | None,
) -> Select[Any]:
    stmt = select(Connection).where(
        Connection.org_id == partition.org_id, Connection.environment == partition.environment
    )
    if entity_id is not None:
        stmt = stmt.where(Connection.entity_id == entity_id)
    if institution_id is not None:
        stmt = stmt.where(Connection.institution_id == institution_id)
    if status is not None:
        stmt = stmt.where(Connection.status == status)
    if kind is not None:
        stmt = stmt.where(Connection.kind == kind)
    return stmt


async def _queue_sync(session: AsyncSession, connection: Connection, trigger: str) -> UUID:
    sync_id = uuid7()
    connection.sync_status = "syncing"
    connection.current_sync_id = sync_id
    await queue.enqueue(
        session,
        SYNC_TASK,
        queue=SYNC_QUEUE,
        lock=connection.id,
        queueing_lock=f"sync:{connection.id}",
        connection_id=connection.id,
        sync_id=str(sync_id),
        trigger=trigger,
    )
    return sync_id


async def update_connection(
    session: AsyncSession, partition: Partition, connection_id: str, changes: dict[str, Any]
) -> Connection:
    """``metadata`` replaces (``None`` clears); ``status`` pauses or resumes."""
    async with session.begin():
        connection = await get_for_update(session, partition, connection_id)
        if connection.status == "revoked":
            refuse(connection.status, NOT_REVOKED)
        target = changes.get("status")
        if target is not None and target != connection.status:
            if connection.status not in PAUSABLE:
                refuse(connection.status, PAUSABLE)
            await set_status(session, partition, connection, target)
            if target == "paused":
                await queue.cancel_queued(session, lock=connection.id, task_name=SYNC_TASK)
                connection.sync_status = "idle"
                connection.current_sync_id = None
                connection.next_sync_at = None
            else:
                await _queue_sync(session, connection, "manual")
        if "metadata" in changes:
            connection.metadata_ = dict(changes["metadata"] or {})
        connection.updated_at = utcnow()
        await audit(
            session, partition, "connection.update", connection.id, {"fields": sorted(changes)}
        )
    return connection


async def request_sync(
    session: AsyncSession, partition: Partition, connection_id: str
) -> tuple[Connection, UUID]:
    """Queue a manual sync: only ``active``, one queued or running at a time."""
    async with session.begin():
        connection = await get_for_update(session, partition, connection_id)
        if connection.status != "active":
            refuse(connection.status, {"active"})
        if connection.sync_status == "syncing" and connection.current_sync_id is not None:
            raise SyncInProgress(sync_id=str(connection.current_sync_id))
        sync_id = await _queue_sync(session, connection, "manual")
        connection.updated_at = utcnow()
        await audit(session, partition, "connection.sync", connection.id, {"syncId": str(sync_id)})
    return connection, sync_id


async def revoke_connection(
    session: AsyncSession, partition: Partition, connection_id: str
) -> Connection:
    """Revoke for good: erase credentials, free the phone number, drop queued jobs."""
    async with session.begin():
        connection = await get_for_update(session, partition, connection_id)
        if connection.status == "revoked":
            return connection
        await set_status(session, partition, connection, "revoked")
        await session.execute(
            delete(ConnectionCredentials).where(
                ConnectionCredentials.connection_id == connection.id
            )
        )
        await phones.release(session, connection.id)
        await queue.cancel_queued(session, lock=connection.id)
        connection.setup_status = None
        connection.credentials_present = False
        connection.phone_number = None
        connection.email = None
        connection.sync_status = "idle"
        connection.current_sync_id = None
        connection.next_sync_at = None
        connection.revoked_at = connection.updated_at = utcnow()
        await audit(session, partition, "connection.revoke", connection.id)
    return connection
