"""Connection jobs. Thin: unpack ids, bind log context, call one function (STYLE.md 6).

Names and arguments are those ``domain.connections`` enqueues: ``connection.activate``
(``connection_id``) on queue ``activation`` and ``connection.sync`` (``connection_id``,
``sync_id``, ``trigger``) on queue ``sync``, both under ``lock=connection_id`` (never two bank
sessions for one delegated user). The worker's ``Runtime`` comes in the job context.
"""

from __future__ import annotations

from uuid import UUID

import structlog
from procrastinate import JobContext

from waycore.activation import run as activation
from waycore.activation.runtime import Runtime
from waycore.domain.connections.service.common import (
    ACTIVATE_TASK,
    ACTIVATION_QUEUE,
    SYNC_QUEUE,
    SYNC_TASK,
)
from waycore.jobs.app import BANK_RETRY, app, is_final_attempt
from waycore.sync import run as sync_run


def runtime_of(context: JobContext) -> Runtime:
    runtime: Runtime = context.additional_context["runtime"]
    return runtime


def _bind(context: JobContext, **values: str) -> None:
    assert context.job is not None
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        job_id=context.job.id, attempt=context.job.attempts + 1, **values
    )


@app.task(name=ACTIVATE_TASK, queue=ACTIVATION_QUEUE, retry=BANK_RETRY, pass_context=True)
async def activate_connection(context: JobContext, *, connection_id: str) -> str:
    _bind(context, connection_id=connection_id)
    return await activation.activate(
        runtime_of(context), connection_id, final_attempt=is_final_attempt(context)
    )


@app.task(name=SYNC_TASK, queue=SYNC_QUEUE, retry=BANK_RETRY, pass_context=True)
async def sync_connection(
    context: JobContext, *, connection_id: str, sync_id: str | None = None, trigger: str
) -> str:
    _bind(context, connection_id=connection_id, sync_id=sync_id or "")
    return await sync_run.sync_connection(
        runtime_of(context),
        connection_id,
        sync_id=UUID(sync_id) if sync_id else None,
        trigger=trigger,
        final_attempt=is_final_attempt(context),
    )
