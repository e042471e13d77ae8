"""The delegated user's secrets for one job: read, decrypt, store back (all sealed).

Fields are sealed exactly as the connections service seals them (``field_aad``), so the API
and the worker read each other's blobs. Plaintext stays in this process's memory only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text

from waycore.activation.runtime import Runtime
from waycore.domain.connections.service.setup import field_aad
from waycore.vault.datakeys import decrypt_for_org, encrypt_for_org

SECRET_FIELDS = ("bank_username", "bank_customer_id", "password", "totp_secret", "storage_state")


@dataclass(frozen=True)
class ConnectionInfo:
    """The connection facts a job needs (no secrets)."""

    id: str
    org_id: UUID
    environment: str
    entity_id: UUID
    institution_id: str | None
    portal_url: str
    status: str
    setup_status: str | None
    kind: str
    email: str | None
    phone_number: str | None
    created_at: datetime
    last_synced_at: datetime | None
    current_sync_id: UUID | None


@dataclass
class Secrets:
    bank_username: str | None = None
    bank_customer_id: str | None = None
    password: str | None = field(default=None, repr=False)
    totp_secret: str | None = field(default=None, repr=False)
    storage_state: bytes | None = field(default=None, repr=False)


_INFO_SQL = text(
    "select id, org_id, environment, entity_id, institution_id, portal_url, status, "
    "setup_status, kind, email, phone_number, created_at, last_synced_at, current_sync_id "
    "from connections where id = :cid"
)


async def load_connection(rt: Runtime, connection_id: str) -> ConnectionInfo | None:
    async with rt.engine.connect() as conn:
        row = (await conn.execute(_INFO_SQL, {"cid": connection_id})).mappings().first()
    return None if row is None else ConnectionInfo(**dict(row))


async def load_secrets(rt: Runtime, connection: ConnectionInfo) -> Secrets:
    found = Secrets()
    async with rt.sessions() as session, session.begin():
        row = (
            (
                await session.execute(
                    text(
                        "select bank_username, bank_customer_id, password, totp_secret, "
                        "storage_state from connection_credentials where connection_id = :cid"
                    ),
                    {"cid": connection.id},
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return found
        for name in SECRET_FIELDS:
            blob = row[name]
            if blob is None:
                continue
            plain = await decrypt_for_org(
                session, rt.keyring, connection.org_id, bytes(blob), field_aad(connection.id, name)
            )
            setattr(found, name, plain if name == "storage_state" else plain.decode())
    return found


async def store_secret(
    rt: Runtime, connection: ConnectionInfo, name: str, value: str | bytes | None
) -> None:
    """Seal and store one field (``password``, ``totp_secret``, ``storage_state``)."""
    if name not in SECRET_FIELDS:
        raise ValueError(name)
    async with rt.sessions() as session, session.begin():
        sealed: Any = None
        if value is not None:
            sealed = await encrypt_for_org(
                session, rt.keyring, connection.org_id, value, field_aad(connection.id, name)
            )
        # the credentials row exists once any credential was stored; a revoked connection
        # has none, and nothing is written for it
        await session.execute(
            text(
                f"update connection_credentials set {name} = :v, updated_at = now() "  # noqa: S608
                "where connection_id = :cid"
            ),
            {"v": sealed, "cid": connection.id},
        )


async def take_verification_code(rt: Runtime, connection: ConnectionInfo) -> str | None:
    """The code the end user sent through the API, cleared once taken (a stale one is cleared
    when the connection starts waiting, ``transitions.await_code``)."""
    async with rt.sessions() as session, session.begin():
        row = (
            await session.execute(
                text(
                    "select verification_code from connection_credentials "
                    "where connection_id = :cid and verification_code is not null for update"
                ),
                {"cid": connection.id},
            )
        ).first()
        if row is None:
            return None
        plain = await decrypt_for_org(
            session,
            rt.keyring,
            connection.org_id,
            bytes(row[0]),
            field_aad(connection.id, "verification_code"),
        )
        await session.execute(
            text(
                "update connection_credentials set verification_code = null "
                "where connection_id = :cid"
            ),
            {"cid": connection.id},
        )
    return plain.decode()
