"""Shared fixtures: a real PostgreSQL database per test run, migrated once.

``WAYCORE_TEST_DATABASE_URL`` names a server (CI: the machine's PostgreSQL); each run creates
its own database there and drops it at the end. Unset, an embedded server is started in a
temporary folder.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
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
def database_url(pg_server: str) -> Iterator[str]:
    """A migrated database shared by the run (tests isolate through rollback or own rows)."""
    name = f"waycore_test_{os.getpid()}_{secrets.token_hex(3)}"
    url = create_database(pg_server, name)
    migrate.upgrade(url)
    yield url
    drop_database(pg_server, name)


@pytest.fixture
def make_database(pg_server: str, database_url: str) -> Iterator[object]:
    """Clone the migrated database for tests that span processes; dropped afterwards."""
    created: list[str] = []
    template = database_url.rsplit("/", 1)[1]

    def factory() -> str:
        name = f"waycore_clone_{secrets.token_hex(4)}"
        created.append(name)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where datname = current_database() and pid <> pg_backend_pid()"
            )
        return create_database(pg_server, name, template=template)

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
