"""Database URLs, engines and sessions (SQLAlchemy 2 async on asyncpg)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.util import greenlet_spawn

from waycore import pgembed


class Base(DeclarativeBase):
    pass


def driver_url(url: str, driver: str) -> str:
    """``postgresql://…`` → ``postgresql+<driver>://…``."""
    scheme, rest = url.split("://", 1)
    if "+" in scheme:
        scheme = scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return f"{scheme}+{driver}://{rest}"


def resolve_url(
    database_url: str | None, state_dir: Path
) -> tuple[str, pgembed.EmbeddedServer | None]:
    """The URL to use: the setting, else the recorded embedded server, else a new one.

    Returns the server too when this process started it (the caller stops it).
    """
    if database_url:
        return database_url, None
    recorded = pgembed.recorded_url(state_dir)
    if recorded:
        return recorded, None
    server = pgembed.start(state_dir)
    return server.url, server


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def _connect_args(url: str) -> dict[str, object]:
    """No TLS negotiation on loopback unless the URL asks for an sslmode."""
    host = urlsplit(url).hostname or ""
    if "sslmode=" in url or host not in _LOOPBACK_HOSTS:
        return {}
    return {"ssl": False}


def make_engine(url: str, *, pool_size: int = 20, max_overflow: int = 10) -> AsyncEngine:
    return create_async_engine(
        driver_url(url, "asyncpg"),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        connect_args=_connect_args(url),
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, autobegin=False, expire_on_commit=False)


@asynccontextmanager
async def session_scope(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with factory() as session:
        yield session


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A pooled connection's driver (asyncpg) connection, outside any transaction: each
    statement commits alone and sees one snapshot. For hot read paths that send one
    statement and want no ORM, no BEGIN/COMMIT and no per-call compilation.

    Checked out of the engine's pool as a raw connection (no SQLAlchemy ``Connection``
    around it) and nothing is executed through SQLAlchemy, so no transaction is ever begun
    on it and the pool's reset on return is a no-op. A statement the server refused leaves
    the connection usable; anything else (lost connection, cancelled mid-statement)
    invalidates it.
    """
    pooled = await engine.raw_connection()
    try:
        yield pooled.driver_connection
    except asyncpg.PostgresError:
        raise
    except BaseException:
        await greenlet_spawn(pooled.invalidate)
        raise
    finally:
        await greenlet_spawn(pooled.close)


async def driver_fetchrow(engine: AsyncEngine, sql: str, *args: Any) -> Any:
    """``driver_connection`` + ``fetchrow`` without the context manager's overhead (the
    busiest single-row reads): the row as an ``asyncpg.Record``, or None."""
    pooled = await engine.raw_connection()
    driver: Any = pooled.driver_connection
    try:
        return await driver.fetchrow(sql, *args)
    except asyncpg.PostgresError:
        raise
    except BaseException:
        await greenlet_spawn(pooled.invalidate)
        raise
    finally:
        await greenlet_spawn(pooled.close)
