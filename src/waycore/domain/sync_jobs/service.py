"""Sync jobs: created when a sync is requested or scheduled, finished by the sync engine.

``create_sync_job`` and ``start_sync_job`` join the caller's transaction when one is open (the
request that enqueues the job, the worker that picks it up) and otherwise open their own.
At most one job per connection is ``queued`` or ``running`` (a unique index): a second
request meets ``IntegrityError``; use ``active_sync_job`` to answer ``sync_in_progress``.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.common import utcnow
from waycore.domain.partition import Partition
from waycore.domain.sync_jobs.models import SyncJob
from waycore.ids import uuid7

TRIGGERS = ("activation", "scheduled", "manual")


def _transaction(session: AsyncSession) -> AbstractAsyncContextManager[Any]:
    return nullcontext() if session.in_transaction() else session.begin()


async def create_sync_job(
    session: AsyncSession, partition: Partition, connection_id: str, *, trigger: str
) -> SyncJob:
    if trigger not in TRIGGERS:
        raise ValueError(f"unknown trigger {trigger!r}")
    async with _transaction(session):
        job = SyncJob(
            id=uuid7(),
            connection_id=connection_id,
            org_id=partition.org_id,
            environment=partition.environment,
            trigger=trigger,
            status="queued",
            created_at=utcnow(),
        )
        session.add(job)
        await session.flush()
    return job


async def active_sync_job(session: AsyncSession, connection_id: str) -> SyncJob | None:
    """The connection's queued or running job, if any."""
    async with _transaction(session):
        result = await session.execute(
            select(SyncJob).where(
                SyncJob.connection_id == connection_id,
                SyncJob.status.in_(("queued", "running")),
            )
        )
        return result.scalar_one_or_none()


async def start_sync_job(session: AsyncSession, sync_id: UUID) -> None:
    """Mark a job ``running`` (the worker calls this as it starts the bank session)."""
    async with _transaction(session):
        await session.execute(
            update(SyncJob)
            .where(SyncJob.id == sync_id, SyncJob.status.in_(("queued", "running")))
            .values(status="running", started_at=utcnow())
        )
