"""The connector against the real Sandbox Bank: uvicorn on a free loopback port over the
test database, the system Chromium through ``BrowserPool``, and a ``ChallengeSolver`` that
reads codes from the bank's outbox through its control API."""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import uvicorn

from waycore.config import Settings
from waycore.connectors.base import NeedsVerificationCode, VerificationChannel
from waycore.connectors.pool import BrowserPool
from waycore.connectors.session import Retry
from waycore.sandbox_bank.app import create_app

START_DATE = "2026-03-04"
PERMISSIONS = {
    "viewBalances": True,
    "viewTransactions": True,
    "downloadStatements": True,
    "initiatePayments": False,
    "approvePayments": False,
    "accountIds": None,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Bank:
    url: str

    def control(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url + "/_sandbox", timeout=60)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.control() as c:
            r = await c.request(method, path, **kwargs)
            assert r.status_code < 300, r.text
            return r.json()

    async def customer(self, seed: int, **extra: Any) -> dict[str, Any]:
        body = {"name": f"Connector {seed} Ltd", "seed": seed, **extra}
        return dict(await self.call("POST", "/customers", json=body))

    async def delegated_user(
        self, customer_id: str, username: str, second_factor: str = "none", **perms: Any
    ) -> dict[str, Any]:
        body = {
            "firstName": "Waycore",
            "lastName": "Service",
            "address": "1 Example Street, Springfield, IL 62701, US",
            "email": f"{username}@inbox.localhost",
            "username": username,
            "phoneNumber": "+1201555" + str(1000 + abs(hash(username)) % 9000),
            "secondFactor": second_factor,
            "permissions": PERMISSIONS | perms,
        }
        created = await self.call("POST", f"/customers/{customer_id}/delegatedUsers", json=body)
        return dict(created) | {"email": body["email"], "phone": body["phoneNumber"]}

    async def faults(self, username: str, **faults: Any) -> None:
        await self.call("PUT", f"/delegatedUsers/{username}/faults", json=faults)

    async def rows(self, account_id: str) -> list[dict[str, Any]]:
        return list((await self.call("GET", f"/accounts/{account_id}/transactions"))["data"])

    async def accounts(self, customer_id: str) -> list[dict[str, Any]]:
        return list((await self.call("GET", f"/customers/{customer_id}/accounts"))["data"])


@pytest.fixture(scope="session")
def bank(database_url: str) -> Iterator[Bank]:
    port = free_port()
    settings = Settings(database_url=database_url, sandbox_start_date=START_DATE)
    app = create_app(settings, database_url)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "bank did not start"
        assert thread.is_alive(), "bank server died"
        time.sleep(0.05)
    yield Bank(f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="session")
def snapshot_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("snapshots")


@pytest.fixture(scope="session")
async def pool(snapshot_root: Path) -> AsyncIterator[BrowserPool]:
    retry = Retry(attempts=8, first_delay=0.05, max_delay=0.5, timeout_ms=20_000)
    async with BrowserPool(
        chromium_path=Settings().chromium_path,
        max_contexts=4,
        snapshot_dir=snapshot_root,
        retry=retry,
    ) as p:
        yield p


@dataclass
class OutboxSolver:
    """Answers challenges the way the activation layer will, from the bank's outbox."""

    bank: Bank
    email: str | None = None
    phone: str | None = None
    hardware_code: str | None = None
    totp_secret: str | None = None
    timeout: float = 15.0
    passwords: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    def code_requested_at(self) -> datetime:
        return datetime.now(UTC) - timedelta(milliseconds=50)

    async def one_time_code(self, channel: VerificationChannel, *, sent_after: datetime) -> str:
        self.asked.append(channel)
        if channel == "hardwareToken":
            if self.hardware_code is None:
                raise NeedsVerificationCode(channel)
            return self.hardware_code
        if channel == "totp":
            code = self.totp_code()
            if code is None:
                raise NeedsVerificationCode(channel)
            return code
        to = self.email if channel == "email" else self.phone
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            found = await self.bank.call("GET", "/outbox", params={"to": to})
            for message in found["data"]:  # newest first
                sent = datetime.fromisoformat(message["sentAt"].replace("Z", "+00:00"))
                code = re.search(r"\b(\d{6})\b", message["body"])
                if sent >= sent_after and code:
                    return code[1]
            await asyncio.sleep(0.1)
        raise NeedsVerificationCode(channel)

    async def new_password(self) -> str:
        password = "Wc" + secrets.token_hex(8) + "7Q"
        self.passwords.append(password)
        return password

    async def totp_enrolled(self, secret: str) -> None:
        self.totp_secret = secret

    def totp_code(self) -> str | None:
        return pyotp.TOTP(self.totp_secret).now() if self.totp_secret else None

    def contact_details(self) -> tuple[str | None, str | None]:
        return self.email, self.phone
