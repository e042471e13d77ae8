"""Bank sessions: one isolated browser context at one portal (``pool.BrowserPool`` makes them).

``BankSession`` is what a connector navigates with:

* ``goto(path, expect=Page)`` - GET a page and return it parsed as ``expect`` (a page class
  or a tuple of them). Slow pages, timeouts and 5xx answers are retried with backoff (GETs
  are idempotent). A page in ``interrupts`` (set by the connector: maintenance, locked,
  log-in when not expected) raises its error; anything else saves a redacted snapshot and
  raises ``UnknownPage`` (API.md ``portal_changed``). Never guesses.
* ``submit(form, values, expect=...)`` - fill and submit a form, same recognition; never
  retried (a POST may have had its effect).
* ``get_json(path)`` / ``download(path)`` - the portal's own XHR and file endpoints, with
  the context's cookies, retried like ``goto``.
* Session expiry: a page or endpoint that shows the session ended raises ``SessionExpired``;
  when the connector registered ``relogin`` (it does in ``log_in``), the session logs in
  again and repeats the request, as long as every re-login is followed by progress.
* ``storage_state()`` / ``BrowserPool.session(storage_state=...)`` - cookies as bytes (for
  the vault) and back.
* ``async with bank.parked():`` - step out of the pool's bound while waiting for a person.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin

import structlog
from playwright.async_api import BrowserContext
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page as PwPage

from waycore.connectors import snapshots
from waycore.connectors.base import ConnectorError, InstitutionUnavailable, SessionExpired
from waycore.connectors.base import UnknownPage as UnknownPageError
from waycore.connectors.html import Node, parse
from waycore.connectors.pages import Page, PageParseError

if TYPE_CHECKING:
    from waycore.connectors.pool import BrowserPool

log = structlog.get_logger(__name__)
P = TypeVar("P", bound=Page)
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Retry:
    """Backoff for idempotent requests: ``attempts`` in all, delays doubling with jitter."""

    attempts: int = 8
    first_delay: float = 0.1
    max_delay: float = 2.0
    timeout_ms: float = 30_000

    def delay(self, attempt: int) -> float:
        base = min(self.max_delay, self.first_delay * (2**attempt))
        return base * (0.5 + random.random() / 2)


@dataclass(frozen=True)
class Interrupt:
    """A page that ends the flow wherever it appears (unless expected): ``error(page)``
    gives the exception, or None to treat the page as not interrupting."""

    page: type[Page]
    error: Callable[[Page], ConnectorError | None]


def portal_path_url(portal_url: str, path: str) -> str:
    """``/x`` is on the portal's site root; ``x`` is below the portal URL."""
    return urljoin(portal_url.rstrip("/") + "/", path)


class BankSession:
    """One signed-in (or signing-in) browser context at one portal."""

    def __init__(
        self,
        pool: BrowserPool,
        context: BrowserContext,
        portal_url: str,
        *,
        secrets: Sequence[str] = (),
        label: str = "session",
    ) -> None:
        self.pool = pool
        self.context = context
        self.portal_url = portal_url.rstrip("/") + "/"
        self.retry = pool.retry
        self.label = label
        self.secrets: list[str] = [s for s in secrets if s]
        self.interrupts: list[Interrupt] = []
        self.relogin: Callable[[], Awaitable[None]] | None = None
        self.relogins = 0
        self.max_relogins = 200
        self._progress = True
        self._generation = 0
        self._relogin_lock = asyncio.Lock()
        self._inflight = 0
        self._idle = asyncio.Condition()
        self._in_login = False
        self._page: PwPage | None = None
        self.is_parked = False
        context.set_default_timeout(self.retry.timeout_ms)

    # ------------------------------------------------------------------ lifecycle
    async def page(self) -> PwPage:
        if self._page is None or self._page.is_closed():
            self._page = await self.context.new_page()
        return self._page

    async def close(self) -> None:
        try:
            await self.context.close()
        except PlaywrightError:
            pass

    async def storage_state(self) -> bytes:
        """The context's cookies and local storage, as bytes (encrypt before storing)."""
        return json.dumps(await self.context.storage_state()).encode()

    def keep_secret(self, *values: str | None) -> None:
        """Values never to appear in a snapshot (passwords, usernames, codes)."""
        self.secrets.extend(v for v in values if v)

    @asynccontextmanager
    async def parked(self) -> AsyncIterator[None]:
        """Step out of the pool's bound while waiting for someone else."""
        if self.is_parked:
            yield
            return
        await self.pool._park()
        self.is_parked = True
        try:
            yield
        finally:
            await self.pool._unpark()
            self.is_parked = False

    @asynccontextmanager
    async def logging_in(self) -> AsyncIterator[None]:
        """Inside ``log_in``: an unexpected log-in page is not a reason to log in again."""
        self._in_login = True
        try:
            yield
        finally:
            self._in_login = False

    def url(self, path: str) -> str:
        return portal_path_url(self.portal_url, path)

    # ------------------------------------------------------------------ navigation
    async def goto(self, path: str, *, expect: type[P] | tuple[type[P], ...]) -> P:
        return await self._resumable(lambda: self._goto(path, expect))

    async def _goto(self, path: str, expect: type[P] | tuple[type[P], ...]) -> P:
        page = await self.page()
        url = self.url(path)
        for attempt in range(self.retry.attempts):
            last = attempt + 1 == self.retry.attempts
            try:
                response = await page.goto(url, wait_until="domcontentloaded")
            except PlaywrightError as exc:
                if last:
                    raise InstitutionUnavailable("The bank portal does not answer.") from exc
                log.info("portal_retry", reason="navigation_error", attempt=attempt + 1)
                await asyncio.sleep(self.retry.delay(attempt))
                continue
            status = response.status if response is not None else 0
            found = await self._recognise(page, expect, status, retry_ok=not last)
            if found is not None:
                return found
            log.info("portal_retry", reason="status", status=status, attempt=attempt + 1)
            await asyncio.sleep(self.retry.delay(attempt))
        raise InstitutionUnavailable("The bank portal keeps failing.")  # pragma: no cover

    async def current(self, *, expect: type[P] | tuple[type[P], ...]) -> P:
        """The page the browser shows now, recognised (no retry)."""
        page = await self.page()
        found = await self._recognise(page, expect, 200, retry_ok=False)
        assert found is not None
        return found

    async def submit(
        self,
        form: str,
        values: Mapping[str, str],
        *,
        expect: type[P] | tuple[type[P], ...],
        button: str | None = None,
        check: Sequence[str] = (),
    ) -> P:
        """Fill ``form``'s fields by name, tick ``check`` boxes, submit, recognise the result."""
        page = await self.page()
        for name, value in values.items():
            await page.fill(f"{form} [name={name!r}]", value)
        for name in check:
            await page.check(f"{form} [name={name!r}]")
        target = button or f"{form} [type=submit]"
        try:
            async with page.expect_navigation(wait_until="domcontentloaded") as nav:
                await page.click(target)
            response = await nav.value
        except PlaywrightError as exc:
            raise InstitutionUnavailable("The bank portal did not answer a form.") from exc
        status = response.status if response is not None else 0
        found = await self._recognise(page, expect, status, retry_ok=False)
        assert found is not None
        return found

    async def _recognise(
        self, page: PwPage, expect: type[P] | tuple[type[P], ...], status: int, *, retry_ok: bool
    ) -> P | None:
        html = await page.content()
        candidates: tuple[type[P], ...] = expect if isinstance(expect, tuple) else (expect,)
        doc = parse(html)
        for candidate in candidates:
            if candidate.recognise(doc):
                found = candidate(html, page.url, doc=doc)
                try:
                    found.validate()
                except PageParseError as exc:
                    await self.unknown_page(html, reason=str(exc))
                self._progress = True
                return found
        self._raise_interrupt(html, doc, page.url)
        if retry_ok and status in RETRY_STATUSES:
            return None
        if status in RETRY_STATUSES:
            raise InstitutionUnavailable(f"The bank portal answered {status}.")
        await self.unknown_page(html, reason=f"unrecognised page (HTTP {status})")
        raise AssertionError("unreachable")  # pragma: no cover

    async def unknown_page(self, html: str | None = None, *, reason: str = "") -> None:
        """Save a redacted snapshot and screenshot, then raise ``UnknownPage``."""
        page = await self.page()
        if html is None:
            html = await page.content()
        snap = await snapshots.save(
            self.pool.snapshot_dir, html=html, page=page, label=self.label, secrets=self.secrets
        )
        log.warning("portal_unknown_page", snapshot=str(snap.html_path), reason=reason)
        raise UnknownPageError(
            page.url,
            snap.html_path,
            f"The portal showed a page Waycore does not recognise ({reason}).",
            snap.screenshot_path,
        )

    # ------------------------------------------------------------------ endpoints
    async def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """GET a JSON endpoint with the session's cookies (retried; expiry detected)."""
        body = await self._resumable(lambda: self._fetch(path, params, json_body=True))
        return json.loads(body)

    async def download(self, path: str) -> bytes:
        """GET a file with the session's cookies (retried; expiry detected)."""
        return await self._resumable(lambda: self._fetch(path, None, json_body=False))

    async def _fetch(
        self, path: str, params: Mapping[str, str | int] | None, *, json_body: bool
    ) -> bytes:
        url = self.url(path)
        for attempt in range(self.retry.attempts):
            try:
                response = await self.context.request.get(
                    url, params=dict(params or {}), max_redirects=0, timeout=self.retry.timeout_ms
                )
            except PlaywrightError as exc:
                if attempt + 1 == self.retry.attempts:
                    raise InstitutionUnavailable("The bank portal does not answer.") from exc
                await asyncio.sleep(self.retry.delay(attempt))
                continue
            status = response.status
            kind = response.headers.get("content-type", "")
            if status == 401 or (
                300 <= status < 400 and "login" in response.headers.get("location", "")
            ):
                raise SessionExpired("The bank session ended.")
            if 300 <= status < 400:
                await self.unknown_page(f"redirect to {response.headers.get('location')}")
            if status in RETRY_STATUSES:
                if status == 503 and not json_body and "html" in kind:
                    await self._check_interrupts(await response.text())
                if attempt + 1 == self.retry.attempts:
                    raise InstitutionUnavailable(f"The bank portal answered {status}.")
                log.info("portal_retry", reason="status", status=status, attempt=attempt + 1)
                await asyncio.sleep(self.retry.delay(attempt))
                continue
            body = await response.body()
            if json_body and "json" not in kind:
                await self._check_interrupts(body.decode("utf-8", "replace"))
                await self.unknown_page(body.decode("utf-8", "replace"), reason=f"not JSON: {url}")
            if status >= 400:
                if "html" in kind:
                    await self._check_interrupts(body.decode("utf-8", "replace"))
                raise InstitutionUnavailable(f"The bank portal refused a request ({status}).")
            self._progress = True
            return body
        raise InstitutionUnavailable("The bank portal keeps failing.")  # pragma: no cover

    async def _check_interrupts(self, html: str) -> None:
        self._raise_interrupt(html, parse(html), "")

    def _raise_interrupt(self, html: str, doc: Node, url: str) -> None:
        for interrupt in self.interrupts:
            if interrupt.page.recognise(doc):
                error = interrupt.error(interrupt.page(html, url, doc=doc))
                if error is not None:
                    raise error

    # ------------------------------------------------------------------ expiry
    async def _resumable(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``call``; on session expiry log in again (if allowed) and run it again.

        Concurrent calls share one re-login (``_generation`` counts them), which waits until
        no other request is in flight (a late answer to an expired request would clear the
        new session's cookie). A re-login not followed by any successful request ends the
        resumption with ``SessionExpired``.
        """
        while True:
            generation = self._generation
            try:
                async with self._in_flight():
                    return await call()
            except SessionExpired:
                if self._in_login or self.relogin is None:
                    raise
                async with self._relogin_lock:
                    if self._generation != generation:
                        continue  # another call already logged in again
                    if not self._progress or self.relogins >= self.max_relogins:
                        raise
                    async with self._idle:
                        timeout = 2 * self.retry.timeout_ms / 1000
                        await asyncio.wait_for(
                            self._idle.wait_for(lambda: self._inflight == 0), timeout
                        )
                    self.relogins += 1
                    log.info("portal_relogin", count=self.relogins)
                    await self.relogin()
                    self._progress = False
                    self._generation += 1

    @asynccontextmanager
    async def _in_flight(self) -> AsyncIterator[None]:
        self._inflight += 1
        try:
            yield
        finally:
            self._inflight -= 1
            async with self._idle:
                self._idle.notify_all()
