"""Process start-up shared by every command: settings, database URL, migrations."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import typer

from waycore import migrate, pgembed
from waycore.config import Settings
from waycore.db import make_engine, make_sessionmaker, resolve_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


class StartupRefused(RuntimeError):
    """The process must not start with these settings."""


@dataclass
class Database:
    url: str
    server: pgembed.EmbeddedServer | None

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def open_database(settings: Settings, *, apply_migrations: bool = True) -> Database:
    """Resolve the database (setting, recorded embedded server or a new one) and migrate it."""
    if settings.env == "production" and not settings.database_url:
        raise StartupRefused(
            "WAYCORE_ENV=production needs WAYCORE_DATABASE_URL; the embedded database is "
            "for development only"
        )
    url, server = resolve_url(settings.database_url, settings.state_dir)
    if apply_migrations:
        migrate.upgrade(url)
    return Database(url=url, server=server)


def child_env(settings: Settings, database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["WAYCORE_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def preflight(settings: Settings) -> None:
    """Refuse to start in production without a master key (DESIGN.md section 7)."""
    if settings.env != "production":
        return
    if settings.master_key is None and not settings.master_key_file.exists():
        raise StartupRefused(
            "WAYCORE_ENV=production needs WAYCORE_MASTER_KEY or an existing master key file"
        )


def open_for_command(settings: Settings, *, run_preflight: bool) -> Database:
    """``preflight`` (when asked) and ``open_database`` for a command line: a refusal is
    printed as ``error: …`` and ends the command with exit code 2."""
    try:
        if run_preflight:
            preflight(settings)
        return open_database(settings)
    except StartupRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None


def run_in_session(
    settings: Settings,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    run_preflight: bool = False,
) -> T:
    """Run ``work`` in a session on the configured (or embedded) database, for a command line."""
    database = open_for_command(settings, run_preflight=run_preflight)

    async def main() -> T:
        engine = make_engine(database.url, pool_size=1, max_overflow=0)
        try:
            async with make_sessionmaker(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    finally:
        database.close()
