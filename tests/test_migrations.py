"""Migrations: one history, applied once even when processes start together."""

from __future__ import annotations

import subprocess
import sys

import psycopg


def test_history_creates_app_procrastinate_and_bank_schemas(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "select table_name from information_schema.tables where table_schema='public'"
            )
        }
        schemas = {
            row[0] for row in conn.execute("select schema_name from information_schema.schemata")
        }
    assert {"organizations", "api_keys", "entities", "events", "procrastinate_jobs"} <= tables
    assert "sandbox_bank" in schemas


def test_three_processes_migrate_an_empty_database_once(make_database, pg_server: str) -> None:
    from tests.conftest import create_database

    url = create_database(pg_server, "waycore_concurrent_migrate")
    code = "import sys; from waycore import migrate; migrate.upgrade(sys.argv[1])"
    procs = [subprocess.Popen([sys.executable, "-c", code, url]) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with psycopg.connect(url) as conn:
        versions = conn.execute("select version_num from alembic_version").fetchall()
        jobs_tables = conn.execute(
            "select count(*) from information_schema.tables where table_name='procrastinate_jobs'"
        ).fetchone()
    assert len(versions) == 1
    assert jobs_tables == (1,)
    from tests.conftest import drop_database

    drop_database(pg_server, "waycore_concurrent_migrate")
