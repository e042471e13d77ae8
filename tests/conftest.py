"""Shared fixtures: a real PostgreSQL database per test run, migrated once.

``WAYCORE_TEST_DATABASE_URL`` names a server (CI: the machine's PostgreSQL); each run creates
its own database there and drops it at the end. Unset, an embedded server is started in a
temporary folder.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from waycore import migrate, pgembed
from waycore.db import make_engine


def _server_url() -> tuple[str, pgembed.EmbeddedServer | None]:
    url = os.environ.get("WAYCORE_TEST_DATABASE_URL")
    if url:
        return url, None
    state = Path(tempfile.mkdtemp(prefix="waycore-test-"))
    server = pgembed.start(state)
    return server.url, server


def _with_database(url: str, name: str) -> str:
    base = url.rsplit("/", 1)[0]
    return f"{base}/{name}"


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(_with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        suffix = f' template "{template}"' if template else ""
        conn.execute(f'create database "{name}"{suffix}')
    return _with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(_with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    url, server = _server_url()
    yield url
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def template_database(pg_server: str) -> Iterator[str]:
    """A migrated database nobody connects to: the source of every clone."""
    name = f"waycore_tpl_{os.getpid()}_{secrets.token_hex(3)}"
    url = create_database(pg_server, name)
    migrate.upgrade(url)
    yield name
    drop_database(pg_server, name)


@pytest.fixture(scope="session")
def database_url(pg_server: str, template_database: str) -> Iterator[str]:
    """A migrated database shared by the run (tests isolate through rollback or own rows)."""
    name = f"waycore_test_{os.getpid()}_{secrets.token_hex(3)}"
    url = create_database(pg_server, name, template=template_database)
    yield url
    drop_database(pg_server, name)


@pytest.fixture
def make_database(pg_server: str, template_database: str) -> Iterator[Callable[[], str]]:
    """Fresh migrated databases for tests that span processes; dropped afterwards."""
    created: list[str] = []

    def factory() -> str:
        name = f"waycore_clone_{secrets.token_hex(4)}"
        created.append(name)
        return create_database(pg_server, name, template=template_database)

    yield factory
    for name in created:
        drop_database(pg_server, name)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose writes vanish: services' begin()/commit become savepoints."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        async with AsyncSession(
            bind=conn,
            autobegin=False,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        ) as s:
            yield s
        await outer.rollback()
