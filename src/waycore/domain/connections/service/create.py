"""Create-or-return (API.md section 8.2, ``POST /v1/connections``)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.config import Settings
from waycore.domain.common import utcnow
from waycore.domain.connections.models import Connection
from waycore.domain.connections.schemas import ConnectionCreate
from waycore.domain.connections.service import phones
from waycore.domain.connections.service.common import audit
from waycore.domain.entities.models import Entity
from waycore.domain.institutions.service import get_institution, resolve_portal_url
from waycore.domain.institutions.urls import host_of, normalize_portal_url
from waycore.domain.partition import Partition
from waycore.errors import NotFound, ValidationFailed
from waycore.ids import prefixed

RESOLVE_TIMEOUT_S = 2.0
ANCHOR = ["org_id", "environment", "entity_id", "portal_url"]


def _bad_url(message: str) -> ValidationFailed:
    return ValidationFailed.single("portalUrl", message)


def check_portal_url(raw: str, environment: str) -> str:
    """The normalized portal URL, or 422: https (test also http), absolute, no userinfo."""
    try:
        parts = urlsplit(raw)
    except ValueError:
        raise _bad_url("must be an absolute URL") from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if environment == "test" else ("https",)
    if scheme not in allowed:
        raise _bad_url("must use https" if environment == "live" else "must use https or http")
    if "@" in parts.netloc:
        raise _bad_url("must not contain userinfo")
    try:
        if not parts.hostname:
            raise _bad_url("must be an absolute URL with a host")
        return normalize_portal_url(raw)
    except ValueError:
        raise _bad_url("must be an absolute URL with a valid host") from None


def forbidden_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Private, loopback or link-local (IPv4-mapped IPv6 judged as its IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private or address.is_loopback or address.is_link_local or address.is_unspecified
    )


async def check_address(host: str) -> None:
    """Live only: refuse a host that is, or resolves to, a private address (2 s lookup bound)."""
    bare = host.strip("[]")
    try:
        literal = ipaddress.ip_address(bare)
    except ValueError:
        literal = None
    if literal is not None:
        if forbidden_address(literal):
            raise _bad_url("must not point to a private, loopback or link-local address")
        return
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(bare, None, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (TimeoutError, OSError, UnicodeError):
        return  # not resolving now: accepted at save, rechecked at every connect
    for info in infos:
        try:
            resolved = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        except ValueError:
            continue
        if forbidden_address(resolved):
            raise _bad_url("resolves to a private, loopback or link-local address")


async def _entity(session: AsyncSession, partition: Partition, entity_id: UUID | None) -> Entity:
    stmt = select(Entity).where(Entity.org_id == partition.org_id)
    stmt = (
        stmt.where(Entity.is_default) if entity_id is None else stmt.where(Entity.id == entity_id)
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("Entity not found.")
    return found


async def _existing(
    session: AsyncSession, partition: Partition, entity_id: UUID, portal_url: str
) -> Connection | None:
    stmt = select(Connection).where(
        Connection.org_id == partition.org_id,
        Connection.environment == partition.environment,
        Connection.entity_id == entity_id,
        Connection.portal_url == portal_url,
        Connection.status != "revoked",
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _insert(
    session: AsyncSession,
    partition: Partition,
    settings: Settings,
    *,
    entity_id: UUID,
    portal_url: str,
    institution_id: str | None,
    metadata: dict[str, str],
) -> str | None:
    """Insert a draft; ``None`` when a concurrent request created the same anchor first."""
    for _ in range(3):
        connection_id = prefixed("conn")
        suffix = connection_id.removeprefix("conn_")[:8]
        now = utcnow()
        stmt = (
            insert(Connection)
            .values(
                id=connection_id,
                org_id=partition.org_id,
                environment=partition.environment,
                entity_id=entity_id,
                institution_id=institution_id,
                portal_url=portal_url,
                status="draft",
                kind="setup",
                setup_status="awaitingDelegatedUserCreation",
                metadata_=metadata,
                username=f"waycore{suffix}",
                email=f"wc.{suffix}@{settings.inbox_domain}",
                email_status="provisioned",
                phone_status="pending",
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=ANCHOR, index_where=text("status <> 'revoked'"))
            .returning(Connection.id)
        )
        try:
            async with session.begin_nested():
                inserted = (await session.execute(stmt)).scalar()
        except IntegrityError:
            continue  # the generated username or id collided: draw again
        return None if inserted is None else str(inserted)
    raise RuntimeError("could not allocate a connection id")


async def create_connection(
    session: AsyncSession, partition: Partition, settings: Settings, body: ConnectionCreate
) -> tuple[Connection, bool]:
    """The entity's connection to this portal: (connection, created)."""
    environment = partition.environment
    portal_url = None
    if body.portal_url is not None:
        portal_url = check_portal_url(body.portal_url, environment)
        if environment == "live":
            await check_address(host_of(portal_url))
    async with session.begin():
        entity = await _entity(session, partition, body.entity_id)
        if body.institution_id is not None:
            institution = get_institution(settings, environment, body.institution_id)
            if institution is None:
                raise NotFound("Institution not found.")
            if portal_url is None:
                portal_url = institution.default_portal_url
            elif not institution.matches_host(host_of(portal_url)):
                raise _bad_url(f"does not belong to institution {institution.institution_id}")
        else:
            assert portal_url is not None
            institution = resolve_portal_url(settings, environment, portal_url)
        existing = await _existing(session, partition, entity.id, portal_url)
        if existing is not None:
            return existing, False
        new_id = await _insert(
            session,
            partition,
            settings,
            entity_id=entity.id,
            portal_url=portal_url,
            institution_id=institution.institution_id if institution else None,
            metadata=dict(body.metadata or {}),
        )
        if new_id is None:
            raced = await _existing(session, partition, entity.id, portal_url)
            assert raced is not None
            return raced, False
        connection = (
            await session.execute(select(Connection).where(Connection.id == new_id))
        ).scalar_one()
        number = await phones.lease(session, settings.phone_pool, connection.id)
        connection.phone_number = number
        connection.phone_status = "provisioned" if number else "failed"
        await audit(
            session,
            partition,
            "connection.create",
            connection.id,
            {"portalUrl": portal_url, "entityId": str(entity.id)},
        )
    return connection, True
