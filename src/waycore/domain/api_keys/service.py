"""API keys: minting, verification (SHA-256 of the secret), listing and revocation."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.api_keys.models import ApiKey
from waycore.domain.api_keys.scopes import ALL_SCOPES, effective
from waycore.domain.audit.service import record_audit
from waycore.domain.common import utcnow
from waycore.domain.orgs import service as orgs
from waycore.domain.partition import Partition
from waycore.errors import ApiKeyExpired, InsufficientScope, InvalidApiKey, NotFound
from waycore.ids import random_base32

KEY_PATTERN = re.compile(r"^way_(live|test)_([a-z2-7]{16})_([A-Za-z0-9_-]{32,128})$")
DEFAULT_EXPIRY_DAYS = 365
MAX_EXPIRY_DAYS = 730
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class MintedKey:
    api_key: ApiKey
    key: str


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def key_status(api_key: ApiKey, now: datetime | None = None) -> str:
    if api_key.revoked_at is not None:
        return "revoked"
    if api_key.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def partition_of(api_key: ApiKey) -> Partition:
    return Partition(org_id=api_key.org_id, environment=api_key.environment)  # type: ignore[arg-type]


async def _mint(
    session: AsyncSession,
    partition: Partition,
    *,
    name: str,
    scopes: list[str],
    expires_in_days: int,
    created_by_key_id: str | None,
) -> MintedKey:
    key_id = random_base32(16)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    api_key = ApiKey(
        id=key_id,
        org_id=partition.org_id,
        environment=partition.environment,
        name=name,
        secret_hash=_hash(secret),
        scopes=sorted(set(scopes), key=ALL_SCOPES.index),
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days),
        last_used_at=None,
        revoked_at=None,
        created_by_key_id=created_by_key_id,
    )
    session.add(api_key)
    await session.flush()
    await record_audit(
        session, partition, action="apiKey.create", resource_type="apiKey", resource_id=key_id
    )
    return MintedKey(api_key=api_key, key=f"way_{partition.environment}_{key_id}_{secret}")


async def create_key(
    session: AsyncSession,
    caller: ApiKey,
    *,
    name: str,
    scopes: list[str],
    expires_in_days: int,
) -> MintedKey:
    """Mint a key in the caller's partition with at most the caller's effective scopes."""
    missing = sorted(set(scopes) - effective(caller.scopes))
    if missing:
        raise InsufficientScope(
            "A key can only grant scopes its creator holds.", missing_scopes=missing
        )
    async with session.begin():
        return await _mint(
            session,
            partition_of(caller),
            name=name,
            scopes=scopes,
            expires_in_days=expires_in_days,
            created_by_key_id=caller.id,
        )


async def create_key_for_org(
    session: AsyncSession,
    *,
    org: str,
    environment: str,
    name: str,
    scopes: list[str] | None,
    expires_in_days: int,
) -> MintedKey:
    """The CLI's bootstrap path: the organization (and default entity) is created if needed."""
    organization = await orgs.get_or_create(session, org)
    partition = Partition(org_id=organization.id, environment=environment)  # type: ignore[arg-type]
    async with session.begin():
        return await _mint(
            session,
            partition,
            name=name,
            scopes=list(scopes or ALL_SCOPES),
            expires_in_days=expires_in_days,
            created_by_key_id=None,
        )


async def create_key_cli(
    database_url: str,
    *,
    org: str,
    environment: str,
    name: str,
    scopes: list[str] | None,
    expires_in_days: int,
) -> MintedKey:
    from waycore.db import make_engine, make_sessionmaker

    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session:
            return await create_key_for_org(
                session,
                org=org,
                environment=environment,
                name=name,
                scopes=scopes,
                expires_in_days=expires_in_days,
            )
    finally:
        await engine.dispose()


async def verify(session: AsyncSession, presented: str) -> ApiKey:
    """The active key for a presented bearer token, or the matching 401 error."""
    match = KEY_PATTERN.match(presented)
    if match is None:
        raise InvalidApiKey()
    environment, key_id, secret = match.groups()
    async with session.begin():
        api_key = await session.get(ApiKey, key_id)
        if api_key is not None:
            session.expunge(api_key)  # cached across requests: keep it detached
    if (
        api_key is None
        or api_key.environment != environment
        or not hmac.compare_digest(api_key.secret_hash, _hash(secret))
        or api_key.revoked_at is not None
    ):
        raise InvalidApiKey()
    if api_key.expires_at <= utcnow():
        raise ApiKeyExpired()
    return api_key


async def touch_last_used(session: AsyncSession, api_key: ApiKey) -> None:
    """Record use at most once a minute."""
    now = utcnow()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    async with session.begin():
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == api_key.id)
            .where(
                (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < now - LAST_USED_RESOLUTION)
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    api_key.last_used_at = now


async def get_key(session: AsyncSession, partition: Partition, key_id: str) -> ApiKey:
    async with session.begin():
        api_key = (
            await session.execute(
                select(ApiKey).where(
                    ApiKey.id == key_id,
                    ApiKey.org_id == partition.org_id,
                    ApiKey.environment == partition.environment,
                )
            )
        ).scalar_one_or_none()
    if api_key is None:
        raise NotFound("API key not found.")
    return api_key


async def revoke_key(session: AsyncSession, partition: Partition, key_id: str) -> ApiKey:
    async with session.begin():
        api_key = (
            await session.execute(
                select(ApiKey)
                .where(
                    ApiKey.id == key_id,
                    ApiKey.org_id == partition.org_id,
                    ApiKey.environment == partition.environment,
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if api_key is None:
            raise NotFound("API key not found.")
        if api_key.revoked_at is None:
            api_key.revoked_at = utcnow()
            await record_audit(
                session,
                partition,
                action="apiKey.revoke",
                resource_type="apiKey",
                resource_id=key_id,
            )
    return api_key


def filter_status(stmt: Select[Any], status: str | None) -> Select[Any]:
    now = utcnow()
    if status == "revoked":
        return stmt.where(ApiKey.revoked_at.is_not(None))
    if status == "expired":
        return stmt.where(ApiKey.revoked_at.is_(None), ApiKey.expires_at <= now)
    if status == "active":
        return stmt.where(ApiKey.revoked_at.is_(None), ApiKey.expires_at > now)
    return stmt
