"""Process start-up shared by every command: settings, database URL, migrations."""

from __future__ import annotations

import os
from dataclasses import dataclass

from waycore import migrate, pgembed
from waycore.config import Settings
from waycore.db import resolve_url


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
