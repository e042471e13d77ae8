"""The whole system as real processes on loopback: API (``waycore serve``), Sandbox Bank,
inbox (SMTP) and workers (``python -m waycore worker``), on one cloned test database.

Every wait is bounded; every process is stopped (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.api.procs import base_env, free_port, stop, wait_healthy
from waycore.domain.api_keys.service import create_key_cli

START_DATE = "2026-03-04"
SMS_TOKEN = "sms-token-for-activation-tests"


@dataclass
class System:
    database_url: str
    workdir: Path
    master_key_file: Path | None = None  # the test apps' one: they share wrapped secrets
    api_url: str = ""
    bank_url: str = ""
    smtp_port: int = 0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        """A child's settings; ``extra`` adds or overrides."""
        settings = {
            "WAYCORE_DATABASE_URL": self.database_url,
            "WAYCORE_MASTER_KEY_FILE": str(self.master_key_file or self.workdir / "master.key"),
            "WAYCORE_STATE_DIR": str(self.workdir / ".waycore"),
            "WAYCORE_SANDBOX_START_DATE": START_DATE,
            "WAYCORE_SANDBOX_BANK_URL": self.bank_url,
            "WAYCORE_INBOX_SMS_SECRET": SMS_TOKEN,
            "WAYCORE_RATE_LIMIT": "off",
            "WAYCORE_JOB_RETRY_BASE_S": "1",
            # a demo user has three years of monthly statements (the bank renders each PDF
            # on request): the newest two per account are enough here; test_statements
            # reads them all
            "WAYCORE_STATEMENT_PERIODS": "2",
        }
        return base_env(**(settings | extra))

    def spawn(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}-{len(self.processes)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "waycore", *args],
                cwd=self.workdir,
                env=self.env(**env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def start(self) -> None:
        api_port, bank_port, self.smtp_port = free_port(), free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.bank_url = f"http://127.0.0.1:{bank_port}"
        api = self.spawn("api", "serve", "--port", str(api_port))
        wait_healthy(self.api_url, api, 60)  # first: it writes the master key file
        bank = self.spawn(
            "bank",
            "sandbox-bank",
            "--port",
            str(bank_port),
            WAYCORE_SANDBOX_SMTP_URL=f"smtp://127.0.0.1:{self.smtp_port}",
            WAYCORE_SANDBOX_SMS_WEBHOOK_URL=f"{self.api_url}/inbox/sms?token={SMS_TOKEN}",
        )
        self.spawn("inbox", "inbox", "--port", str(self.smtp_port))
        _wait_http(f"{self.bank_url}/_sandbox/clock", bank, 60)

    def stop_all(self) -> None:
        for process in self.processes:
            stop(process)

    @contextmanager
    def worker(
        self, *, concurrency: int = 4, browsers: int = 2, **env: str
    ) -> Iterator[subprocess.Popen[bytes]]:
        process = self.spawn(
            "worker",
            "worker",
            "--concurrency",
            str(concurrency),
            "--browsers",
            str(browsers),
            **env,
        )
        try:
            yield process
        finally:
            stop(process)
            kill_group(process)

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.workdir.glob("*.log"))
        )

    # ------------------------------------------------------------------ database
    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(statement, params)  # type: ignore[call-overload]
            return list(cur.fetchall()) if cur.description else []

    # ------------------------------------------------------------------ API
    def client(self) -> ApiClient:
        minted = asyncio.run(
            create_key_cli(
                self.database_url,
                org=f"org-{secrets.token_hex(4)}",
                environment="test",
                name="tests",
                scopes=None,
                expires_in_days=30,
            )
        )
        return ApiClient(self, minted.key)

    def bank(self) -> httpx.Client:
        return httpx.Client(base_url=self.bank_url + "/_sandbox", timeout=60)

    def set_faults(self, username: str, **faults: object) -> None:
        """The Sandbox Bank's fault switches for one delegated user."""
        with self.bank() as bank:
            response = bank.put(f"/delegatedUsers/{username}/faults", json=faults)
            assert response.status_code == 200, response.text

    def events(self, connection_id: str, type_: str) -> list[dict[str, Any]]:
        """The connection's events of one type, oldest first."""
        # created_at has whole seconds; within one, the writing transactions' ids give the
        # order in which they wrote
        rows = self.sql(
            "select data from events where type = %s and data->>'connectionId' = %s "
            "order by created_at, xmin::text::bigint, id",
            type_,
            connection_id,
        )
        return [r[0] for r in rows]


def demo_username(suffix: str = "") -> str:
    """A fresh demo customer's username (``suffix``: ``+otp``, ``+hardware`` …)."""
    return f"demo-{secrets.token_hex(3)}{suffix}"


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """Chromium and the Playwright driver of a worker (its own session) go with it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer in {timeout_s} s")


@dataclass
class ApiClient:
    system: System
    key: str

    def _http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.system.api_url,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self._http() as http:
            return http.request(method, path, **kwargs)

    def connection(self, connection_id: str) -> dict[str, Any]:
        response = self.call("GET", f"/v1/connections/{connection_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def new_connection(self) -> dict[str, Any]:
        response = self.call("POST", "/v1/connections", json={"institutionId": "sandbox_bank"})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def credentials(self, connection_id: str, **body: Any) -> dict[str, Any]:
        response = self.call("PUT", f"/v1/connections/{connection_id}/credentials", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def complete_setup(self, connection_id: str) -> dict[str, Any]:
        response = self.call(
            "PUT",
            f"/v1/connections/{connection_id}/setupCompletion",
            json={"delegatedUserActive": True, "termsAccepted": True},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_for(
        self, connection_id: str, predicate: Any, timeout_s: float = 120.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = self.connection(connection_id)
            if predicate(last):
                return last
            time.sleep(0.25)
        raise AssertionError(f"connection never matched; last: {last}\n{self.system.logs()}")

    def demo_connection(self, username: str, password: str = "demo-password") -> str:
        connection = self.new_connection()
        self.credentials(connection["id"], bankUsername=username, password=password)
        self.complete_setup(connection["id"])
        return str(connection["id"])


def setup_status(value: str) -> Any:
    return lambda c: c["setup"] is not None and c["setup"]["status"] == value


def is_active_and_synced(c: dict[str, Any]) -> bool:
    return c["status"] == "active" and c["lastSyncedAt"] is not None and c["syncStatus"] == "idle"
