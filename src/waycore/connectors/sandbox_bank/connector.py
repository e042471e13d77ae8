"""The Sandbox Bank connector: the flows, navigating with the pages of ``pages.py``.

* ``log_in``: log-in form, then whatever the bank asks, in any order, at most
  ``MAX_STEPS`` pages: forced password change (``solver.new_password()``), contact details
  (``solver.contact_details()``), TOTP enrolment (secret read on the page, stored through
  ``solver.totp_enrolled``, confirmed with a current code), a one-time code (e-mail / SMS
  from ``solver.one_time_code``, TOTP from ``solver.totp_code()``, the hardware token from
  the end user while the session is parked). "Remember this device" is ticked when offered,
  so a reused storage state skips the code next time.
* ``transactions``: the account page (which names its history endpoint), then that JSON
  endpoint page by page, as the page's own "Next" button does; ``since`` narrows it with
  the date filter from ``since - overlap``. Pages are fetched ``prefetch`` at a time.
* ``statements``: the statements page of the account, then each listed PDF/CSV not in
  ``have`` (with ``recent``, of the newest ``recent`` periods only), ``prefetch`` at a time.
* Session expiry mid-walk: the session logs in again (``bank.relogin``) and repeats the
  failed request; rows already read are kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyotp
import structlog

from waycore.connectors.base import (
    AccountLocked,
    BankAccount,
    BankBalance,
    BankStatement,
    BankTransaction,
    InvalidCredentials,
    NeedsNewPassword,
    NeedsVerificationCode,
    Permission,
    PermissionDenied,
    StatementFormat,
    VerificationChannel,
    VerificationCodeRejected,
)
from waycore.connectors.pages import Page, PageParseError
from waycore.connectors.protocol import ChallengeSolver, Credentials, StatementKey
from waycore.connectors.sandbox_bank.pages import (
    INTERRUPTS,
    AccountPage,
    AccountsPage,
    ChangePasswordPage,
    CodePage,
    ContactDetailsPage,
    HardwareTokenPage,
    LoginPage,
    PaymentsPage,
    StatementsPage,
    TotpEnrolPage,
    history_rows,
)
from waycore.connectors.session import BankSession

log = structlog.get_logger(__name__)

MAX_STEPS = 8
MAX_PAGES = 10_000  # 250,000 rows per account: a walk longer than that is a portal bug
LOGIN_STEPS = (
    LoginPage,
    ChangePasswordPage,
    ContactDetailsPage,
    TotpEnrolPage,
    HardwareTokenPage,
    CodePage,
    AccountsPage,
)
STATEMENT_FORMATS: tuple[StatementFormat, ...] = ("pdf", "csv")
CHANNELS: dict[str, VerificationChannel] = {
    "email": "email",
    "sms": "sms",
    "totp": "totp",
    "hardwareToken": "hardwareToken",
}


class SandboxBankConnector:
    """Drives the bundled Sandbox Bank portal (classic layout)."""

    institution_id = "sandbox_bank"

    def __init__(self, *, overlap: timedelta = timedelta(days=10), prefetch: int = 4) -> None:
        self.overlap = overlap
        self.prefetch = max(1, prefetch)

    # ------------------------------------------------------------------ log-in
    async def log_in(
        self, bank: BankSession, credentials: Credentials, solver: ChallengeSolver
    ) -> None:
        bank.interrupts = list(INTERRUPTS)
        bank.keep_secret(credentials.password, credentials.username)
        async with bank.logging_in():
            page: Page = await bank.goto("/login", expect=(LoginPage, AccountsPage))
            password = credentials.password
            code_tries = 0
            requested = solver.code_requested_at()  # before the submit that led to ``page``
            for _ in range(MAX_STEPS):
                if isinstance(page, AccountsPage):
                    break
                shown_after, requested = requested, solver.code_requested_at()
                if isinstance(page, LoginPage):
                    page = await self._password_step(bank, page, credentials.username, password)
                elif isinstance(page, ChangePasswordPage):
                    page, password = await self._change_password(bank, page, password, solver)
                elif isinstance(page, ContactDetailsPage):
                    page = await self._contact_details(bank, page, solver)
                elif isinstance(page, TotpEnrolPage):
                    page = await self._enrol_totp(bank, page, solver)
                elif isinstance(page, CodePage):
                    code_tries += 1
                    page = await self._one_time_code(bank, page, solver, shown_after, code_tries)
            else:
                await bank.unknown_page(reason="log-in did not finish")
        log.info("bank_logged_in", institution=self.institution_id)

        async def relogin() -> None:
            await self.log_in(bank, Credentials(credentials.username, password), solver)

        bank.relogin = relogin

    async def _password_step(
        self, bank: BankSession, page: LoginPage, username: str, password: str
    ) -> Page:
        if page.error_reason == "invalid_credentials":
            raise InvalidCredentials()
        if page.error_reason in ("locked", "account_locked"):
            raise AccountLocked()
        if page.error_reason not in (None, "", "csrf"):
            raise InvalidCredentials(f"The bank refused the log-in ({page.error_reason}).")
        result = await bank.submit(
            page.form, {"username": username, "password": password}, expect=LOGIN_STEPS
        )
        if isinstance(result, LoginPage) and result.error_reason == "csrf":
            await bank.unknown_page(reason="log-in form refused twice")
        return result

    async def _change_password(
        self, bank: BankSession, page: ChangePasswordPage, current: str, solver: ChallengeSolver
    ) -> tuple[Page, str]:
        if page.error:
            raise NeedsNewPassword("The bank refused the new password.")
        new = await solver.new_password()
        bank.keep_secret(new)
        values = {"current_password": current, "new_password": new, "confirm_password": new}
        result = await bank.submit(page.form, values, expect=LOGIN_STEPS)
        if isinstance(result, ChangePasswordPage):
            raise NeedsNewPassword("The bank refused the new password.")
        return result, new

    async def _contact_details(
        self, bank: BankSession, page: ContactDetailsPage, solver: ChallengeSolver
    ) -> Page:
        if page.error:
            raise NeedsVerificationCode("email", "The bank refused the contact details.")
        email, phone = solver.contact_details()
        if not email or not phone:
            raise NeedsVerificationCode("email", "No provisioned e-mail address and phone.")
        return await bank.submit(page.form, {"email": email, "phone": phone}, expect=LOGIN_STEPS)

    async def _enrol_totp(
        self, bank: BankSession, page: TotpEnrolPage, solver: ChallengeSolver
    ) -> Page:
        secret = page.secret
        bank.keep_secret(secret)
        await solver.totp_enrolled(secret)
        result: Page = page
        for _ in range(2):  # a code minted at a 30 s boundary may be refused once
            result = await bank.submit(
                page.form, {"code": pyotp.TOTP(secret).now()}, expect=LOGIN_STEPS
            )
            if not isinstance(result, TotpEnrolPage):
                return result
            await asyncio.sleep(1)
        raise VerificationCodeRejected("The bank refused the authenticator code.")

    async def _one_time_code(
        self,
        bank: BankSession,
        page: CodePage,
        solver: ChallengeSolver,
        requested: datetime,
        tries: int,
    ) -> Page:
        channel = CHANNELS.get(page.channel, "unknown")
        if tries > 1 and page.error:
            if tries > 3:
                raise VerificationCodeRejected("The bank refused the one-time code.")
            if channel == "hardwareToken":
                raise VerificationCodeRejected("The bank refused the token code.")
            if page.can_resend:  # ask for a fresh code, read the one sent after this
                requested = solver.code_requested_at()
                page = await bank.submit(page.resend_form, {}, expect=CodePage)
        code = solver.totp_code() if channel == "totp" else None
        if code is None:
            async with bank.parked():
                code = await solver.one_time_code(channel, sent_after=requested)
        bank.keep_secret(code)
        check = ["remember_device"] if page.remember_offered else []
        return await bank.submit(page.form, {"code": code}, expect=LOGIN_STEPS, check=check)

    # ------------------------------------------------------------------ accounts
    async def list_accounts(self, bank: BankSession) -> list[BankAccount]:
        overview = await bank.goto("/accounts", expect=AccountsPage)
        nav = overview.nav
        common: set[Permission] = {"viewAccounts"}
        if "statements" in nav:
            common.add("downloadStatements")
        if "approvals" in nav:
            common.add("approveTransfers")
        if "payments" in nav and await self._may_initiate(bank):
            common.add("initiateTransfers")
        accounts = []
        for row in overview.accounts:
            detail = await bank.goto(f"/accounts/{row['bank_id']}", expect=AccountPage)
            ids = detail.identifiers
            permissions = set(common)
            if detail.may_view_transactions:
                permissions.add("viewTransactions")
            number = ids.get("account number")
            accounts.append(
                BankAccount(
                    **row,
                    account_number=number,
                    routing_number=ids.get("routing number"),
                    iban=ids.get("iban"),
                    swift_bic=ids.get("swift/bic"),
                    official_name=row["name"],
                    permissions=frozenset(permissions),
                )
            )
        return accounts

    async def _may_initiate(self, bank: BankSession) -> bool:
        payments = await bank.goto("/payments", expect=PaymentsPage)
        return payments.may_initiate

    async def balances(self, bank: BankSession, accounts: list[BankAccount]) -> list[BankBalance]:
        now = datetime.now(UTC)
        return [
            BankBalance(
                account_bank_id=a.bank_id,
                date=now.date(),
                as_of=now,
                ledger=a.current_balance,
                available=a.available_balance,
            )
            for a in accounts
            if a.current_balance is not None or a.available_balance is not None
        ]

    # ------------------------------------------------------------------ transactions
    def window_start(self, since: date | None) -> date | None:
        """The first day ``transactions(since=...)`` reads (None: the whole history)."""
        return None if since is None else since - self.overlap

    async def transactions(
        self, bank: BankSession, account: BankAccount, *, since: date | None
    ) -> list[BankTransaction]:
        detail = await bank.goto(f"/accounts/{account.bank_id}", expect=AccountPage)
        endpoint = detail.history_url
        if endpoint is None:
            raise PermissionDenied(frozenset({"viewTransactions"}))
        start = self.window_start(since)
        query: dict[str, str | int] = {"from": start.isoformat()} if start else {}
        rows: list[BankTransaction] = []
        seen: set[str] = set()
        page_no = 1
        while page_no <= MAX_PAGES:
            numbers = range(page_no, page_no + self.prefetch)
            batches = await _all(bank.get_json(endpoint, {**query, "page": n}) for n in numbers)
            done = False
            for data in batches:
                try:
                    found, has_next = history_rows(data, account.bank_id)
                except PageParseError as exc:
                    await bank.unknown_page(repr(data)[:100_000], reason=str(exc))
                    raise  # pragma: no cover - unknown_page raises
                for txn in found:  # a row that moved across a page boundary is read twice
                    if txn.portal_row_id not in seen:
                        seen.add(txn.portal_row_id or "")
                        rows.append(txn)
                if not has_next:
                    done = True
                    break
            if done:
                return rows
            page_no += self.prefetch
        await bank.unknown_page(reason="history never ends")
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ statements
    async def statements(
        self,
        bank: BankSession,
        account: BankAccount,
        *,
        have: set[StatementKey],
        recent: int | None = None,
    ) -> list[BankStatement]:
        if "downloadStatements" not in account.permissions:
            return []
        listing = await bank.goto(f"/statements?account={account.bank_id}", expect=StatementsPage)
        links = listing.links
        periods = sorted(
            (
                (date.fromisoformat(e["period_start"]), date.fromisoformat(e["period_end"]), e)
                for e in listing.statements
                if e["account_bank_id"] == account.bank_id
            ),
            key=lambda p: p[1],
            reverse=True,
        )
        wanted: list[tuple[date, date, StatementFormat, str]] = []
        for start, end, entry in periods[:recent] if recent else periods:
            for fmt in STATEMENT_FORMATS:
                path = links.get((entry["month"], fmt))
                if path is not None and (start, end, fmt) not in have:
                    wanted.append((start, end, fmt, path))
        files = []
        for first in range(0, len(wanted), self.prefetch):  # ``prefetch`` downloads at a time
            batch = wanted[first : first + self.prefetch]
            contents = await _all(bank.download(path) for *_, path in batch)
            for (start, end, fmt, _path), content in zip(batch, contents, strict=True):
                if fmt == "pdf" and not content.startswith(b"%PDF"):
                    await bank.unknown_page(content[:2000].decode("latin-1"), reason="not a PDF")
                files.append(
                    BankStatement(
                        account_bank_id=account.bank_id,
                        period_start=start,
                        period_end=end,
                        format=fmt,
                        content=content,
                    )
                )
        return files

    # ------------------------------------------------------------------ log-out
    async def log_out(self, bank: BankSession) -> None:
        bank.relogin = None
        try:
            page = await bank.page()
            if await page.locator("form#logout-form").count() == 0:
                await bank.goto("/accounts", expect=AccountsPage)
            await page.click("form#logout-form [type=submit]", timeout=10_000)
            await page.wait_for_load_state("domcontentloaded", timeout=10_000)
        except Exception as exc:  # best effort: the session ends on the bank's side anyway
            log.info("bank_logout_skipped", error=type(exc).__name__)


async def _all(calls: Iterable[Awaitable[Any]]) -> list[Any]:
    """Await ``calls`` concurrently; the first failure is raised once all have settled."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
