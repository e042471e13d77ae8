"""Transactional enqueue into procrastinate on the caller's session (DESIGN.md section 3).

procrastinate's own connector joins a caller's transaction only on psycopg; Waycore's sessions
run on asyncpg. So jobs are deferred by calling procrastinate's SQL function
``procrastinate_defer_jobs_v1`` on the session's own connection: the job commits with the state
change that caused it, a rollback leaves none, and workers are notified at commit.

Each defer runs inside a SAVEPOINT, so a duplicate ``queueing_lock`` (a unique violation) rolls
back only the defer: ``enqueue`` then answers ``None`` ("already queued") and the caller's
transaction goes on.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

QUEUEING_LOCK_INDEX = "procrastinate_jobs_queueing_lock_idx_v1"

_DEFER = text(
    "select procrastinate_defer_jobs_v1(array[row("
    "cast(:queue_name as varchar), cast(:task_name as varchar), cast(:priority as integer), "
    "cast(:lock as text), cast(:queueing_lock as text), cast(:args as jsonb), "
    "cast(:scheduled_at as timestamptz))::procrastinate_job_to_defer_v1])"
)


def _is_queueing_lock_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return sqlstate == "23505" and QUEUEING_LOCK_INDEX in str(orig)


async def enqueue(
    session: AsyncSession,
    task_name: str,
    *,
    queue: str = "default",
    lock: str | None = None,
    queueing_lock: str | None = None,
    priority: int = 0,
    scheduled_at: datetime | None = None,
    **args: Any,
) -> int | None:
    """Defer ``task_name`` in the caller's transaction; the job id, or ``None`` if already queued.

    ``args`` are the task's keyword arguments: ids and plain values, never secrets.
    """
    params = {
        "queue_name": queue,
        "task_name": task_name,
        "priority": priority,
        "lock": lock,
        "queueing_lock": queueing_lock,
        "args": json.dumps(args, default=str),
        "scheduled_at": scheduled_at,
    }
    try:
        async with session.begin_nested():
            ids = (await session.execute(_DEFER, params)).scalar_one()
    except IntegrityError as exc:
        if queueing_lock is not None and _is_queueing_lock_violation(exc):
            return None
        raise
    return int(ids[0])


async def cancel_queued(session: AsyncSession, *, lock: str, task_name: str | None = None) -> int:
    """Cancel jobs still waiting (``todo``) under ``lock``; running ones finish. Returns a count."""
    stmt = (
        "update procrastinate_jobs set status = 'cancelled' where status = 'todo' and lock = :lock"
    )
    params: dict[str, Any] = {"lock": lock}
    if task_name is not None:
        stmt += " and task_name = :task_name"
        params["task_name"] = task_name
    result = await session.execute(text(stmt), params)
    return int(result.rowcount)  # type: ignore[attr-defined]
