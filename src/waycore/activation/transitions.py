"""Connection state changes made by the worker (API.md section 8.3), one transaction each.

Each function locks the connection row, refuses quietly (returns ``False``) when the row is gone
or no longer in a state the change applies to (revoked, paused, already moved on), and writes
the status change with its ``connection.status_changed`` event (``set_status``) and any other
event in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.activation.runtime import Runtime
from waycore.domain.common import utcnow
from waycore.domain.connections.models import Connection
from waycore.domain.connections.service.common import set_status
from waycore.domain.events.service import record_event
from waycore.domain.partition import Partition

IN_SETUP = frozenset({"pendingActivation", "reauthRequired"})
RUNNING = frozenset({"active", "errored"})
#: error codes an end user fixes, and the setup status each leads to (API.md 8.1)
USER_FIXABLE = {
    "invalid_credentials": "awaitingCredentials",
    "password_expired": "awaitingCredentials",
    "verification_required": "awaitingVerificationCode",
    "verification_timeout": "activationFailed",
    "account_locked": "activationFailed",
    "permission_denied": "activationFailed",
}


async def _locked(session: AsyncSession, connection_id: str) -> Connection | None:
    stmt = select(Connection).where(Connection.id == connection_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def _partition(connection: Connection) -> Partition:
    return Partition(org_id=connection.org_id, environment=connection.environment)  # type: ignore[arg-type]


async def _into_setup(
    session: AsyncSession,
    connection: Connection,
    setup_status: str,
    code: str | None,
    text_: str | None,
) -> bool:
    """Set the setup status; a running connection becomes ``reauthRequired`` first."""
    if connection.status not in IN_SETUP | RUNNING:
        return False
    connection.error_code = code
    connection.error_message = text_
    connection.setup_status = setup_status
    if connection.status in RUNNING:
        connection.sync_status = "idle"
        connection.current_sync_id = None
        connection.next_sync_at = None
        await set_status(session, _partition(connection), connection, "reauthRequired")
    connection.updated_at = utcnow()
    return True


async def setup_failed(
    rt: Runtime, connection_id: str, setup_status: str, code: str | None, message: str | None
) -> bool:
    """``awaitingCredentials`` / ``activationFailed`` / ``awaitingOperator`` with its error."""
    async with rt.sessions() as session, session.begin():
        connection = await _locked(session, connection_id)
        if connection is None:
            return False
        return await _into_setup(session, connection, setup_status, code, message)


async def await_code(rt: Runtime, connection_id: str, channel: str, expires_at: datetime) -> bool:
    """``awaitingVerificationCode`` and ``connection.verification_code_required``; a code
    left from an earlier wait is discarded."""
    async with rt.sessions() as session, session.begin():
        connection = await _locked(session, connection_id)
        if connection is None:
            return False
        if not await _into_setup(
            session,
            connection,
            "awaitingVerificationCode",
            "verification_required",
            "The bank asks for a one-time code that only the end user can provide.",
        ):
            return False
        await session.execute(
            text(
                "update connection_credentials set verification_code = null, "
                "verification_code_at = null where connection_id = :cid"
            ),
            {"cid": connection_id},
        )
        await record_event(
            session,
            _partition(connection),
            "connection.verification_code_required",
            {
                "connectionId": connection.id,
                "entityId": str(connection.entity_id),
                "channel": channel,
                "expiresAt": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )
        return True


async def setup_status(rt: Runtime, connection_id: str) -> tuple[str, str | None] | None:
    async with rt.engine.connect() as conn:
        row = (
            await conn.execute(
                text("select status, setup_status from connections where id = :cid"),
                {"cid": connection_id},
            )
        ).first()
    return None if row is None else (row[0], row[1])


async def activated(rt: Runtime, connection_id: str, sync_id: UUID) -> bool:
    """Login succeeded: ``active``, ``kind: ready``, ``setup: null``, and the first sync
    (``sync_id``) marked running, so ``PUT …/sync`` answers ``sync_in_progress``."""
    async with rt.sessions() as session, session.begin():
        connection = await _locked(session, connection_id)
        if connection is None or connection.status not in IN_SETUP:
            return False
        connection.kind = "ready"
        connection.setup_status = None
        connection.error_code = None
        connection.error_message = None
        connection.sync_status = "syncing"
        connection.current_sync_id = sync_id
        await set_status(session, _partition(connection), connection, "active")
        connection.updated_at = utcnow()
        return True


async def sync_started(rt: Runtime, connection_id: str, sync_id: UUID) -> bool:
    """A running connection starts sync ``sync_id`` (keeps the one the API queued)."""
    async with rt.sessions() as session, session.begin():
        connection = await _locked(session, connection_id)
        if connection is None or connection.status not in RUNNING:
            return False
        connection.sync_status = "syncing"
        connection.current_sync_id = sync_id
        return True


async def recovered(rt: Runtime, connection_id: str) -> bool:
    """A re-login or retried sync worked: ``reauthRequired``/``errored`` → ``active``."""
    async with rt.sessions() as session, session.begin():
        connection = await _locked(session, connection_id)
        if connection is None or connection.status not in {"reauthRequired", "errored"}:
            return False
        connection.setup_status = None
        connection.error_code = None
        connection.error_message = None
        await set_status(session, _partition(connection), connection, "active")
        return True


async def errored(rt: Runtime, connection_id: str, code: str, message: str) -> bool:
    """A Waycore-side failure after retries: ``active`` → ``errored``."""
    async with rt.sessions() as session, session.begin():
        connection = await _locked(session, connection_id)
        if connection is None or connection.status not in RUNNING:
            return False
        connection.error_code = code
        connection.error_message = message
        await set_status(session, _partition(connection), connection, "errored")
        return True


async def free_sync(rt: Runtime, connection_id: str, sync_id: UUID | None) -> None:
    """Release ``syncStatus`` when a sync ends without results (stale job, revoked)."""
    async with rt.sessions() as session, session.begin():
        await session.execute(
            text(
                "update connections set sync_status = 'idle', current_sync_id = null "
                "where id = :cid and (current_sync_id is null or current_sync_id = :sid)"
            ),
            {"cid": connection_id, "sid": sync_id},
        )
