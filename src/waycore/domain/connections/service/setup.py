"""Setup verbs: credentials, setup completion, verification code (API.md sections 8.2, 8.3)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waycore import queue
from waycore.domain.common import utcnow
from waycore.domain.connections.models import WITH_SETUP, Connection, ConnectionCredentials
from waycore.domain.connections.service.common import (
    ACTIVATE_TASK,
    ACTIVATION_QUEUE,
    audit,
    get_for_update,
    refuse,
    set_status,
)
from waycore.domain.partition import Partition
from waycore.vault.datakeys import data_key, encrypt_for_org
from waycore.vault.keyring import Keyring

CREDENTIAL_FIELDS = ("bank_username", "bank_customer_id", "password")
RESTART_FROM = frozenset({"awaitingCredentials", "activationFailed"})


def field_aad(connection_id: str, field: str) -> bytes:
    """Binds a ciphertext to its connection and field: a blob cannot be moved elsewhere."""
    return f"{connection_id}:{field}".encode()


async def start_activation(
    session: AsyncSession, partition: Partition, connection: Connection
) -> None:
    """A new activation attempt: ``setup.status`` ``activating`` and the job, one transaction."""
    connection.setup_status = "activating"
    connection.updated_at = utcnow()
    await queue.enqueue(
        session,
        ACTIVATE_TASK,
        queue=ACTIVATION_QUEUE,
        lock=connection.id,
        queueing_lock=f"activate:{connection.id}",
        connection_id=connection.id,
    )


async def _credentials_row(
    session: AsyncSession, keyring: Keyring, connection: Connection
) -> ConnectionCredentials:
    row = (
        await session.execute(
            select(ConnectionCredentials)
            .where(ConnectionCredentials.connection_id == connection.id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        key_id, _ = await data_key(session, keyring, connection.org_id)
        row = ConnectionCredentials(
            connection_id=connection.id,
            org_id=connection.org_id,
            data_key_id=key_id,
            updated_at=utcnow(),
        )
        session.add(row)
    return row


async def put_credentials(
    session: AsyncSession,
    partition: Partition,
    keyring: Keyring,
    connection_id: str,
    changes: dict[str, str | None],
) -> Connection:
    """Store, replace or clear the delegated user's bank login; never echoed back."""
    async with session.begin():
        connection = await get_for_update(session, partition, connection_id)
        if connection.status not in WITH_SETUP:
            refuse(connection.status, WITH_SETUP)
        row = await _credentials_row(session, keyring, connection)
        for field, value in changes.items():
            sealed = None
            if value is not None:
                sealed = await encrypt_for_org(
                    session, keyring, connection.org_id, value, field_aad(connection.id, field)
                )
            setattr(row, field, sealed)
        row.updated_at = utcnow()
        connection.credentials_present = any(getattr(row, f) is not None for f in CREDENTIAL_FIELDS)
        connection.updated_at = utcnow()
        if connection.status == "reauthRequired" or (
            connection.status == "pendingActivation" and connection.setup_status in RESTART_FROM
        ):
            await start_activation(session, partition, connection)
        await audit(
            session,
            partition,
            "connection.credentials",
            connection.id,
            {
                "fields": sorted(changes),
                "cleared": sorted(k for k, v in changes.items() if v is None),
            },
        )
    return connection


async def complete_setup(
    session: AsyncSession, partition: Partition, connection_id: str
) -> Connection:
    """The end user confirms the delegated user exists and accepts the terms."""
    async with session.begin():
        connection = await get_for_update(session, partition, connection_id)
        if connection.status == "draft":
            await set_status(session, partition, connection, "pendingActivation")
            await start_activation(session, partition, connection)
        elif connection.status == "pendingActivation":
            if connection.setup_status != "activationFailed":
                return connection
            await start_activation(session, partition, connection)
        elif connection.status == "reauthRequired":
            await start_activation(session, partition, connection)
        else:
            refuse(connection.status, WITH_SETUP)
        await audit(session, partition, "connection.setupCompletion", connection.id)
    return connection


async def submit_verification_code(
    session: AsyncSession, partition: Partition, keyring: Keyring, connection_id: str, code: str
) -> Connection:
    """Hand a one-time code to the waiting bank session (sealed; the worker reads it)."""
    async with session.begin():
        connection = await get_for_update(session, partition, connection_id)
        if (
            connection.status not in WITH_SETUP
            or connection.setup_status != "awaitingVerificationCode"
        ):
            refuse(connection.setup_status or connection.status, {"awaitingVerificationCode"})
        row = await _credentials_row(session, keyring, connection)
        row.verification_code = await encrypt_for_org(
            session,
            keyring,
            connection.org_id,
            code,
            field_aad(connection.id, "verification_code"),
        )
        row.verification_code_at = row.updated_at = utcnow()
        connection.setup_status = "activating"
        connection.updated_at = utcnow()
        await audit(session, partition, "connection.verificationCode", connection.id)
    return connection
