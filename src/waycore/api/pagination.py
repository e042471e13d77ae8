"""Keyset pagination over a SQLAlchemy select, with signed cursors (API.md section 4.1)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

from fastapi import Request
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from waycore.api import cursors
from waycore.api.deps import PageParams
from waycore.api.schemas import ListOut, Pagination, meta
from waycore.domain.partition import Partition
from waycore.errors import InvalidCursor

T = TypeVar("T")
Order = Sequence[tuple[InstrumentedAttribute[Any], Literal["asc", "desc"]]]


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _decode(value: Any, column: InstrumentedAttribute[Any]) -> Any:
    if isinstance(value, dict) and "t" in value:
        try:
            return datetime.fromisoformat(str(value["t"]))
        except ValueError:
            raise InvalidCursor() from None
    python_type = column.type.python_type
    if value is None or isinstance(value, python_type):
        return value
    try:
        return python_type(value)
    except (TypeError, ValueError):
        raise InvalidCursor() from None


def _after(order: Order, position: list[Any]) -> Any:
    """Rows strictly after ``position`` in the given order (keyset condition)."""
    clauses = []
    for i, (column, direction) in enumerate(order):
        value = _decode(position[i], column)
        equal = [c == _decode(position[j], c) for j, (c, _) in enumerate(order[:i])]
        step = column < value if direction == "desc" else column > value
        clauses.append(and_(*equal, step))
    return or_(*clauses)


async def cursor_key(request: Request) -> bytes:
    """The deployment's cursor key (loaded at start, or on first use if the database was down)."""
    state = request.app.state
    if state.cursor_key is None:
        from waycore.vault import app_secrets

        state.cursor_key = await app_secrets.load_or_create(
            state.engine, state.keyring, "cursor_key"
        )
    key: bytes = state.cursor_key
    return key


async def keyset_page(
    request: Request,
    session: AsyncSession,
    stmt: Select[Any],
    page: PageParams,
    *,
    partition: Partition,
    filters: dict[str, Any],
    order: Order,
    to_out: Callable[[Any], T],
) -> ListOut[T]:
    key = await cursor_key(request)
    endpoint = request.scope["route"].path
    if page.cursor is not None:
        position = cursors.read(key, page.cursor, endpoint, partition, filters)
        if len(position) != len(order):
            raise InvalidCursor()
        stmt = stmt.where(_after(order, position))
    stmt = stmt.order_by(*[(c.desc() if d == "desc" else c.asc()) for c, d in order]).limit(
        page.limit + 1
    )
    async with session.begin():
        rows = list((await session.execute(stmt)).scalars())
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = None
    if has_more:
        last = rows[-1]
        position = [_encode(getattr(last, c.key)) for c, _ in order]
        next_cursor = cursors.issue(key, endpoint, partition, filters, position)
    return ListOut[T](
        data=[to_out(r) for r in rows],
        pagination=Pagination(has_more=has_more, next_cursor=next_cursor),
        meta=meta(),
    )
