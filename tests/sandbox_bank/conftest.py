"""Fixtures for the Sandbox Bank's core tests (the portal's live in browser/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.config import Settings
from waycore.sandbox_bank import clock, service
from waycore.sandbox_bank.app import create_app

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


@pytest.fixture
def bank_settings() -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"sandbox_start_date": START.isoformat()}
        values.update(overrides)
        return Settings(**values)

    return factory


@pytest.fixture
async def bank_client(
    database_url: str, bank_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., Any]]:
    """``async with bank_client(**settings) as (client, app)``: the bank app, lifespan run,
    behind an httpx client from loopback (``client_host`` to change)."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def open_client(client_host: str = "127.0.0.1", **overrides: Any):
        app = create_app(bank_settings(**overrides), database_url)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=(client_host, 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://bank") as client:
                yield client, app
            await service.wait_for_deliveries()

    yield open_client
