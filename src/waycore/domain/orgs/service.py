"""Organizations: created by the CLI, each with its default entity."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.entities.models import DEFAULT_EXTERNAL_ID, Entity
from waycore.domain.orgs.models import Organization
from waycore.ids import uuid7


async def _get_or_create(session: AsyncSession, name: str) -> tuple[Organization, bool]:
    await session.execute(
        insert(Organization)
        .values(id=uuid7(), name=name)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    org = (
        await session.execute(select(Organization).where(Organization.name == name))
    ).scalar_one()
    created = (
        await session.execute(
            insert(Entity)
            .values(
                id=uuid7(),
                org_id=org.id,
                external_entity_id=DEFAULT_EXTERNAL_ID,
                name=None,
                is_default=True,
                contact_emails=[],
                metadata_={},
            )
            .on_conflict_do_nothing(index_elements=["org_id", "external_entity_id"])
            .returning(Entity.id)
        )
    ).first()
    return org, created is not None


async def get_or_create(session: AsyncSession, name: str) -> Organization:
    """The named organization, created with its default entity if missing."""
    async with session.begin():
        org, _ = await _get_or_create(session, name)
    return org


async def create(session: AsyncSession, name: str) -> tuple[Organization, bool]:
    async with session.begin():
        return await _get_or_create(session, name)


async def list_all(session: AsyncSession) -> list[Organization]:
    async with session.begin():
        return list(
            (await session.execute(select(Organization).order_by(Organization.name))).scalars()
        )
