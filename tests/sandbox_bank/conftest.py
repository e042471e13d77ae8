"""Fixtures for the Sandbox Bank's core tests (the portal's live in browser/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import date
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.sandbox_bank import clock, service

START = date(2026, 3, 4)


@pytest.fixture
async def bank_session(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A rolled-back session whose bank clock exists (pinned at START unless one already
    exists in the shared test database)."""
    await clock.ensure_clock(session, START)
    yield session


MakeCustomer = Callable[..., Coroutine[Any, Any, service.CreatedCustomer]]


@pytest.fixture
def make_customer(bank_session: AsyncSession) -> MakeCustomer:
    async def factory(**kwargs: Any) -> service.CreatedCustomer:
        kwargs.setdefault("name", "Acme Widgets Inc.")
        kwargs.setdefault("seed", 42)
        return await service.create_customer(bank_session, **kwargs)

    return factory
