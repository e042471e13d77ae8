"""Read plumbing shared by the list and get services: optional equality filters, get by id."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from waycore.errors import NotFound
from waycore.ids import parse_uuid

S = TypeVar("S", bound=Select[Any])


def where_given(stmt: S, *filters: tuple[InstrumentedAttribute[Any], object]) -> S:
    """``stmt`` narrowed to ``column == value`` for each filter whose value is not None."""
    for column, value in filters:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


async def get_by_id(
    session: AsyncSession, stmt: Select[Any], id_column: InstrumentedAttribute[Any], raw_id: str
) -> Any:
    """The one row of ``stmt`` whose ``id_column`` is ``raw_id``; NotFound for a malformed id
    or no such row."""
    parsed = parse_uuid(raw_id)
    if parsed is None:
        raise NotFound()
    async with session.begin():
        found = (await session.execute(stmt.where(id_column == parsed))).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found
