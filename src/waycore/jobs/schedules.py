"""Periodic jobs: scheduled syncs and cleanup (procrastinate periodic tasks, one per minute).

``queue_due_syncs`` queues a ``scheduled`` sync for every ``active`` or ``errored`` connection
whose ``next_sync_at`` has come and that has no sync queued or running (``queueing_lock``
de-duplicates against manual ones). ``cleanup`` drops expired inbox messages, idempotency keys
older than a day, events older than 30 days and finished jobs older than a week, and sends
jobs of dead workers (no heartbeat) back to the queue.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from procrastinate import JobContext
from sqlalchemy import text

from waycore import queue
from waycore.activation.runtime import Runtime
from waycore.domain.connections.service.common import SYNC_QUEUE, SYNC_TASK
from waycore.ids import uuid7
from waycore.inbox.store import delete_expired
from waycore.jobs.app import app

log = structlog.get_logger(__name__)

DUE_BATCH = 500
EVENT_RETENTION = timedelta(days=30)
IDEMPOTENCY_RETENTION = timedelta(hours=24)
JOB_RETENTION_HOURS = 24 * 7
STALLED_AFTER_S = 60.0

_DUE_SQL = text(
    """
    select id from connections
    where status in ('active', 'errored') and next_sync_at <= now() and sync_status = 'idle'
    order by next_sync_at limit :n for update skip locked
    """
)


async def queue_due_syncs(rt: Runtime, *, limit: int = DUE_BATCH) -> int:
    """Queue a scheduled sync for each due connection; returns how many were queued."""
    queued = 0
    async with rt.sessions() as session, session.begin():
        for (connection_id,) in (await session.execute(_DUE_SQL, {"n": limit})).all():
            sync_id = uuid7()
            job = await queue.enqueue(
                session,
                SYNC_TASK,
                queue=SYNC_QUEUE,
                lock=connection_id,
                queueing_lock=f"sync:{connection_id}",
                connection_id=connection_id,
                sync_id=str(sync_id),
                trigger="scheduled",
            )
            if job is None:
                continue
            await session.execute(
                text(
                    "update connections set sync_status = 'syncing', current_sync_id = :sid "
                    "where id = :cid"
                ),
                {"sid": sync_id, "cid": connection_id},
            )
            queued += 1
    if queued:
        log.info("scheduled_syncs_queued", count=queued)
    return queued


async def retry_stalled_jobs(
    job_app: object, *, seconds_since_heartbeat: float = STALLED_AFTER_S
) -> list[int]:
    """Send jobs of workers without a recent heartbeat back to ``todo`` (procrastinate's
    stalled-job API); the retried jobs are idempotent."""
    manager = job_app.job_manager  # type: ignore[attr-defined]
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat)
    ids = []
    for job in stalled:
        await manager.retry_job(job)
        ids.append(job.id)
    if ids:
        log.warning("stalled_jobs_retried", job_ids=ids)
    return ids


async def cleanup(rt: Runtime, job_app: object) -> dict[str, int]:
    """Retention and stalled-job recovery; returns counts (tests read them)."""
    counts: dict[str, int] = {}
    async with rt.sessions() as session:
        counts["inbox"] = await delete_expired(session)  # its own transaction
    async with rt.sessions() as session, session.begin():
        for name, stmt, age in (
            (
                "idempotency",
                "delete from idempotency_keys where created_at < now() - cast(:age as interval)",
                IDEMPOTENCY_RETENTION,
            ),
            (
                "events",
                "delete from events where created_at < now() - cast(:age as interval)",
                EVENT_RETENTION,
            ),
        ):
            result = await session.execute(text(stmt), {"age": age})
            counts[name] = int(result.rowcount)  # type: ignore[attr-defined]
    counts["stalled"] = len(await retry_stalled_jobs(job_app))
    manager = job_app.job_manager  # type: ignore[attr-defined]
    await manager.delete_old_jobs(nb_hours=JOB_RETENTION_HOURS, include_failed=True)
    return counts


@app.periodic(cron="* * * * *")
@app.task(name="schedules.due_syncs", queue="default", pass_context=True)
async def due_syncs(context: JobContext, timestamp: int) -> int:
    return await queue_due_syncs(context.additional_context["runtime"])


@app.periodic(cron="*/5 * * * *")
@app.task(name="schedules.cleanup", queue="default", pass_context=True)
async def periodic_cleanup(context: JobContext, timestamp: int) -> dict[str, int]:
    return await cleanup(context.additional_context["runtime"], context.app)
