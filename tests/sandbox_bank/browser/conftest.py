"""A real Sandbox Bank server (uvicorn, loopback) on the test database, a real SMTP receiver
(aiosmtpd), a real SMS webhook receiver, and the system Chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import email
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from waycore.config import Settings
from waycore.sandbox_bank.app import create_app

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_DATE = "2026-03-04"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """Messages received over real SMTP and real SMS webhook POSTs."""

    emails: list[email.message.Message] = field(default_factory=list)
    sms: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _find(self, predicate: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for item in reversed(self.emails + self.sms):  # type: ignore[operator]
                    if predicate(item):
                        return item
            time.sleep(0.05)
        raise AssertionError("message did not arrive")

    async def email_to(self, to: str, contains: str, *, after: int = 0, timeout: float = 10):
        def match(m: Any) -> bool:
            return isinstance(m, email.message.Message) and m["To"] == to and contains in _body(m)

        return await asyncio.to_thread(self._wait_new, "emails", match, after, timeout)

    async def sms_to(self, to: str, *, after: int = 0, timeout: float = 10) -> dict[str, str]:
        return await asyncio.to_thread(
            self._wait_new, "sms", lambda m: m.get("To") == to, after, timeout
        )

    def count(self, kind: str) -> int:
        with self.lock:
            return len(getattr(self, kind))

    def _wait_new(self, kind: str, predicate: Any, after: int, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                items = getattr(self, kind)[after:]
            for item in reversed(items):
                if predicate(item):
                    return item
            time.sleep(0.05)
        raise AssertionError(f"no {kind} message arrived within {timeout}s")


def _body(message: email.message.Message) -> str:
    payload = message.get_payload(decode=True)
    return payload.decode() if isinstance(payload, bytes) else str(message.get_payload())


def code_in(text: str) -> str:
    found = re.search(r"\b(\d{6})\b", text)
    assert found, text
    return found[1]


class _SmtpHandler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        with self.box.lock:
            self.box.emails.append(message)
        return "250 OK"


def _sms_server(box: Mailbox) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            data = parse_qs(self.rfile.read(length).decode())
            with box.lock:
                box.sms.append({k: v[0] for k, v in data.items()} | {"path": self.path})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Bank:
    url: str
    mailbox: Mailbox

    def control(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url + "/_sandbox", timeout=60)

    async def customer(self, seed: int, **extra: Any) -> dict[str, Any]:
        async with self.control() as c:
            r = await c.post(
                "/customers", json={"name": f"Acme {seed} GmbH", "seed": seed, **extra}
            )
            assert r.status_code == 201, r.text
            return dict(r.json())

    async def delegated_user(
        self, customer_id: str, username: str, second_factor: str = "none", **perms: Any
    ) -> dict[str, Any]:
        permissions = {
            "viewBalances": True,
            "viewTransactions": True,
            "downloadStatements": True,
            "initiatePayments": True,
            "approvePayments": False,
            "accountIds": None,
        } | perms
        body = {
            "firstName": "Dana",
            "lastName": "Clerk",
            "address": "1 Example Street\nSpringfield",
            "email": f"{username}@inbox.localhost",
            "username": username,
            "phoneNumber": "+12015550" + str(abs(hash(username)) % 900 + 100),
            "secondFactor": second_factor,
            "permissions": permissions,
        }
        async with self.control() as c:
            r = await c.post(f"/customers/{customer_id}/delegatedUsers", json=body)
            assert r.status_code == 201, r.text
            return dict(r.json()) | {"email": body["email"], "phone": body["phoneNumber"]}

    async def faults(self, username: str, **faults: Any) -> None:
        async with self.control() as c:
            r = await c.put(f"/delegatedUsers/{username}/faults", json=faults)
            assert r.status_code == 200, r.text


@pytest.fixture(scope="session")
def bank(database_url: str) -> Iterator[Bank]:
    box = Mailbox()
    smtp = Controller(_SmtpHandler(box), hostname="127.0.0.1", port=free_port())
    smtp.start()
    sms = _sms_server(box)
    port = free_port()
    settings = Settings(
        database_url=database_url,
        sandbox_start_date=START_DATE,
        sandbox_smtp_url=f"smtp://127.0.0.1:{smtp.port}",
        sandbox_sms_webhook_url=f"http://127.0.0.1:{sms.server_address[1]}/sms?token=t0k",
    )
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
    yield Bank(f"http://127.0.0.1:{port}", box)
    server.should_exit = True
    thread.join(timeout=15)
    smtp.stop()
    sms.shutdown()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        await b.close()


@pytest.fixture
async def context(browser: Browser, bank: Bank) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(base_url=bank.url, accept_downloads=True)
    ctx.set_default_timeout(15_000)
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def log_in(page: Page, username: str, password: str) -> None:
    await page.goto("/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#login-submit")
    await page.wait_for_load_state()


async def change_password(page: Page, temporary: str, new: str) -> None:
    assert await page.locator("main#change-password").count() == 1
    await page.fill("input[name=current_password]", temporary)
    await page.fill("input[name=new_password]", new)
    await page.fill("input[name=confirm_password]", new)
    await page.click("#change-password-submit")
    await page.wait_for_load_state()


async def first_login(
    page: Page, username: str, temporary: str, new: str = "Treasury2026rocks"
) -> None:
    """A user without a second factor: log in, change the password, land on the accounts."""
    await log_in(page, username, temporary)
    await change_password(page, temporary, new)
    await page.wait_for_selector("main#accounts")
