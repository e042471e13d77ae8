"""What a worker process holds for its jobs: settings, database, keyring, browser pool.

Activation and sync functions take a ``Runtime``; tests build one with ``open_runtime`` and call
them directly, without procrastinate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from waycore.config import Settings
from waycore.db import make_engine, make_sessionmaker
from waycore.sync.engine import DEFAULT_INTERVAL
from waycore.vault.keyring import Keyring, load_keyring

if TYPE_CHECKING:
    from waycore.connectors.pool import BrowserPool


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keyring: Keyring
    browsers: BrowserPool

    def sync_interval(self, institution_id: str | None) -> timedelta:
        """How often a connection of this institution syncs (settings, else 6 hours)."""
        return sync_interval(self.settings, institution_id)


def sync_interval(settings: Settings, institution_id: str | None) -> timedelta:
    """``WAYCORE_SYNC_INTERVALS`` (``id=seconds,…``) for the institution, else
    ``WAYCORE_SYNC_INTERVAL_S``, else 6 hours."""
    for item in (settings.sync_intervals or "").split(","):
        name, _, seconds = item.strip().partition("=")
        if name and seconds and name == institution_id:
            return timedelta(seconds=float(seconds))
    if settings.sync_interval_s > 0:
        return timedelta(seconds=settings.sync_interval_s)
    return DEFAULT_INTERVAL


@asynccontextmanager
async def open_runtime(
    settings: Settings, database_url: str, *, browsers: int = 2, pool_size: int = 10
) -> AsyncIterator[Runtime]:
    """A runtime with its own engine and browser pool; both closed on exit."""
    from waycore.connectors.pool import BrowserPool

    engine = make_engine(database_url, pool_size=pool_size, max_overflow=pool_size)
    pool = BrowserPool(
        chromium_path=settings.chromium_path,
        max_contexts=browsers,
        snapshot_dir=settings.state_dir / "snapshots",
    )
    try:
        async with pool:
            yield Runtime(
                settings=settings,
                engine=engine,
                sessions=make_sessionmaker(engine),
                keyring=load_keyring(settings),
                browsers=pool,
            )
    finally:
        await engine.dispose()
