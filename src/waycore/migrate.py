"""Apply Alembic migrations under a PostgreSQL advisory lock (DESIGN.md section 2)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
ADVISORY_LOCK_ID = 0x5761_7963  # "Wayc"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database to ``revision``; concurrent callers wait on the lock."""
    command.upgrade(alembic_config(url), revision)
