"""Alembic environment: one history for app tables, procrastinate and schema sandbox_bank.

Migrations run on a synchronous psycopg connection holding a PostgreSQL advisory lock, so
several processes starting at once migrate the database exactly once.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from waycore.db import driver_url
from waycore.migrate import ADVISORY_LOCK_ID

config = context.config
url = config.attributes["database_url"]
engine = create_engine(driver_url(url, "psycopg"), poolclass=pool.NullPool)

with engine.connect() as connection:
    connection.execute(text("select pg_advisory_lock(:id)"), {"id": ADVISORY_LOCK_ID})
    connection.commit()
    try:
        context.configure(
            connection=connection, target_metadata=None, transaction_per_migration=False
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        connection.execute(text("select pg_advisory_unlock(:id)"), {"id": ADVISORY_LOCK_ID})
        connection.commit()
engine.dispose()
