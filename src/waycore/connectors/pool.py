"""One Chromium per worker process, a bounded number of active bank sessions.

``BrowserPool`` launches the system Chromium once (``CHROMIUM_ARGS``) and hands out
``BankSession``s (one fresh context each), at most ``max_contexts`` active at a time
(``waycore worker --browsers M``). A session waiting for an end user (a hardware-token
code, for minutes) steps out of the bound with ``async with bank.parked():`` and steps back
in afterwards, so parked sessions never block other work. ``active`` and ``parked`` count
them. ``session(..., live=True)`` (a ``live`` connection) re-checks the portal host's addresses
before the session opens anything (``addresses``): a non-public resolution fails the attempt as
``InstitutionUnavailable`` with no context created and no page loaded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Playwright, async_playwright

from waycore.connectors.addresses import check_portal_host
from waycore.connectors.session import CHROMIUM_ARGS, BankSession, Retry


class BrowserPool:
    """One Chromium, at most ``max_contexts`` active (unparked) sessions."""

    def __init__(
        self,
        *,
        chromium_path: Path | str = "/usr/bin/chromium",
        max_contexts: int = 2,
        snapshot_dir: Path = Path(".waycore/snapshots"),
        retry: Retry | None = None,
    ) -> None:
        self.chromium_path = str(chromium_path)
        self.max_contexts = max_contexts
        self.snapshot_dir = snapshot_dir
        self.retry = retry or Retry()
        self._slots = asyncio.Semaphore(max_contexts)
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._start_lock = asyncio.Lock()
        self.active = 0
        self.parked = 0

    async def start(self) -> None:
        async with self._start_lock:
            if self._browser is not None and self._browser.is_connected():
                return
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=self.chromium_path, args=list(CHROMIUM_ARGS), headless=True
            )

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None

    async def __aenter__(self) -> BrowserPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def session(
        self,
        portal_url: str,
        *,
        storage_state: bytes | None = None,
        secrets: Sequence[str] = (),
        label: str = "session",
        acquire_timeout: float | None = None,
        live: bool = False,
    ) -> AsyncIterator[BankSession]:
        """A fresh context on ``portal_url``; ``live``: its host is checked first, at every
        session (a hostname may resolve differently than when the URL was saved)."""
        if live:
            await check_portal_host(portal_url, environment="live")
        if acquire_timeout is None:
            await self._slots.acquire()
        else:
            await asyncio.wait_for(self._slots.acquire(), acquire_timeout)
        self.active += 1
        bank: BankSession | None = None
        try:
            await self.start()
            assert self._browser is not None
            state = json.loads(storage_state) if storage_state else None
            context = await self._browser.new_context(
                base_url=portal_url, storage_state=state, accept_downloads=False
            )
            bank = BankSession(self, context, portal_url, secrets=secrets, label=label)
            yield bank
        finally:
            if bank is not None:
                await bank.close()
            if bank is None or not bank.is_parked:
                self.active -= 1
                self._slots.release()
            else:
                self.parked -= 1

    async def _park(self) -> None:
        self.active -= 1
        self.parked += 1
        self._slots.release()

    async def _unpark(self) -> None:
        await self._slots.acquire()
        self.parked -= 1
        self.active += 1
