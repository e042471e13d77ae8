"""One running system (API, Sandbox Bank, inbox) per test module, on a cloned database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.activation.system import System
from tests.conftest import create_database, drop_database


@pytest.fixture(scope="module")
def system(
    pg_server: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    name = f"waycore_sys_{secrets.token_hex(4)}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = current_database() and pid <> pg_backend_pid()"
        )
    url = create_database(pg_server, name, template=database_url.rsplit("/", 1)[1])
    workdir = Path(tmp_path_factory.mktemp("system"))
    # the database holds secrets wrapped by the test apps' master key (cursor key, inbox key)
    running = System(
        database_url=url,
        workdir=workdir,
        master_key_file=tmp_path_factory.getbasetemp() / "master.key",
    )
    try:
        running.start()
        yield running
    finally:
        running.stop_all()
        drop_database(pg_server, name)
