"""The Sandbox Bank's pages, as the classic layout shows them.

Every page is recognised by its ``main`` element. The redesigned layout (``main#signon``,
``main#dashboard``, ``main#account-activity``) is deliberately not described: it must
surface as ``UnknownPage`` (``portal_changed``) until someone writes its pages.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from waycore.connectors.base import (
    AccountLocked,
    BankTransaction,
    ConnectorError,
    InstitutionUnavailable,
    SessionExpired,
)
from waycore.connectors.pages import (
    AmountCell,
    Attr,
    Cell,
    Page,
    PageParseError,
    Table,
)
from waycore.connectors.session import Interrupt

# ---------------------------------------------------------------------------- log-in


class LoginPage(Page):
    """Log-in form; after a refused attempt ``#login-error[data-reason]`` says why."""

    is_here = "main#login form#login-form"
    form = "form#login-form"

    @property
    def error_reason(self) -> str | None:
        return self.attr_of("#login-error", "data-reason")

    @property
    def error(self) -> str | None:
        return self.text_of("#login-error")


class ChangePasswordPage(Page):
    """Forced password change at first log-in with a temporary password."""

    is_here = "main#change-password form#change-password-form"
    form = "form#change-password-form"

    @property
    def error(self) -> str | None:
        return self.text_of("#password-error")


class ContactDetailsPage(Page):
    """``demo…+otp``: confirm the e-mail address and phone the bank sends codes to."""

    is_here = "main#contact-details form#contact-form"
    form = "form#contact-form"

    @property
    def error(self) -> str | None:
        return self.text_of("#contact-error")


class TotpEnrolPage(Page):
    """Authenticator enrolment: the secret is shown as text (and ``data-secret``)."""

    is_here = "main#totp-enrol form#totp-form"
    form = "form#totp-form"

    @property
    def secret(self) -> str:
        node = self.first("#totp-secret")
        secret = (node.get("data-secret") or node.text()).replace(" ", "").upper()
        if not secret.isalnum():
            raise PageParseError("TOTP secret unreadable")
        return secret

    @property
    def error(self) -> str | None:
        return self.text_of("#code-error")


class CodePage(Page):
    """One-time code by e-mail, SMS or authenticator app (``data-channel``)."""

    is_here = "main#verify-code form#code-form"
    form = "form#code-form"
    resend_form = "form#resend-form"

    @property
    def channel(self) -> str:
        return self.attr_of("main#verify-code", "data-channel") or "unknown"

    @property
    def remember_offered(self) -> bool:
        return self.has("form#code-form input[name=remember_device]")

    @property
    def can_resend(self) -> bool:
        return self.has(self.resend_form)

    @property
    def error(self) -> str | None:
        return self.text_of("#code-error")


class HardwareTokenPage(CodePage):
    """The demo hardware token: a code only the end user can read."""

    is_here = "main#hardware-token form#code-form"

    @property
    def channel(self) -> str:
        return "hardwareToken"


# ---------------------------------------------------------------------------- signed in


def _account(values: dict[str, Any]) -> dict[str, Any]:
    kind = values.pop("type") or "unknown"
    known = {"checking", "savings", "moneyMarket", "creditCard", "loan", "investment"}
    values["type"] = kind if kind in known else "other"
    values["status"] = (values.get("status") or "open").lower()
    if values["status"] not in ("open", "closed"):
        values["status"] = "unknown"
    return values


class AccountsPage(Page):
    """Accounts overview: one row per account the delegated user may see."""

    is_here = "main#accounts table.accounts"
    accounts: Table[dict[str, Any]] = Table(
        "table.accounts",
        item=dict,
        rows="tbody tr[data-account-id]",
        fields={
            "bank_id": Attr("data-account-id"),
            "type": Attr("data-account-type", required=False),
            "name": Cell("Account name"),
            "masked_number": Cell("Number"),
            "currency": Cell("Currency"),
            "current_balance": AmountCell("Current balance", attr="data-value", optional=True),
            "available_balance": AmountCell("Available balance", attr="data-value", optional=True),
            "status": Cell("Status"),
        },
        transform=_account,
    )

    @property
    def nav(self) -> set[str]:
        """Navigation entries shown (they follow the user's permissions)."""
        return {a.text().casefold() for a in self.doc.css("nav#main-nav a")}


class AccountPage(Page):
    """One account: identifiers, balances, and the history section (with permission)."""

    is_here = "main#account[data-account-id]"

    @property
    def bank_id(self) -> str:
        return self.attr_of("main#account", "data-account-id") or ""

    @property
    def identifiers(self) -> dict[str, str]:
        return self.definitions("dl#account-summary")

    @property
    def history_url(self) -> str | None:
        """The endpoint the page's script loads history from; None without permission."""
        return self.attr_of("section#history", "data-history-url")

    @property
    def may_view_transactions(self) -> bool:
        return self.has("section#history table#transactions")

    def validate(self) -> None:
        if not (self.may_view_transactions or self.has("#no-history")):
            raise PageParseError("account page has neither history nor its refusal")


class StatementsPage(Page):
    """Monthly statements of the chosen account, PDF and CSV links per month."""

    is_here = "main#statements"
    statements: Table[dict[str, Any]] = Table(
        "table#statements-list",
        item=dict,
        rows="tbody tr[data-month]",
        fields={
            "account_bank_id": Attr("data-account-id"),
            "month": Attr("data-month"),
            "period_start": Cell("From"),
            "period_end": Cell("To"),
        },
    )

    @property
    def links(self) -> dict[tuple[str, str], str]:
        """(month, format) -> download path."""
        found: dict[tuple[str, str], str] = {}
        for row in self.doc.css("table#statements-list tr[data-month]"):
            for fmt in ("pdf", "csv"):
                link = row.css_first(f"a.statement-{fmt}")
                if link is not None and link.get("href"):
                    found[(row.get("data-month") or "", fmt)] = link.get("href") or ""
        return found

    def validate(self) -> None:
        if self.has("table#statements-list"):
            super().validate()


class PaymentsPage(Page):
    """Payments list; "New payment" only for users who may enter payments."""

    is_here = "main#payments"

    @property
    def may_initiate(self) -> bool:
        return self.has("#new-payment")


# ---------------------------------------------------------------------------- interruptions


class MaintenancePage(Page):
    is_here = "main#maintenance"


class ErrorPage(Page):
    """The bank's error page: ``data-error-code`` and ``data-status``."""

    is_here = "main#error"

    @property
    def code(self) -> str:
        return self.attr_of("main#error", "data-error-code") or ""

    @property
    def status(self) -> int:
        raw = self.attr_of("main#error", "data-status") or "0"
        return int(raw) if raw.isdigit() else 0


def _error_page(page: Page) -> ConnectorError | None:
    assert isinstance(page, ErrorPage)
    if page.code == "account_locked":
        return AccountLocked()
    return None  # 5xx are retried by status; anything else is an unknown page


INTERRUPTS = (
    Interrupt(MaintenancePage, lambda page: InstitutionUnavailable("The bank is in maintenance.")),
    Interrupt(ErrorPage, _error_page),
    Interrupt(LoginPage, lambda page: SessionExpired("The bank session ended.")),
)


# ---------------------------------------------------------------------------- history (XHR)


def _decimal(value: Any, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise PageParseError(f"{what} is not a number: {value!r}") from exc


def history_rows(data: Any, account_bank_id: str) -> tuple[list[BankTransaction], bool]:
    """One page of ``GET /accounts/{id}/history`` as transactions, and whether more follow."""
    try:
        rows, has_next = data["rows"], bool(data["hasNext"])
        out = []
        for r in rows:
            status = r["status"]
            if status not in ("pending", "posted"):
                raise PageParseError(f"unknown status {status!r}")
            balance = r.get("runningBalance")
            out.append(
                BankTransaction(
                    account_bank_id=account_bank_id,
                    transaction_date=date.fromisoformat(r["transactionDate"]),
                    posted_date=date.fromisoformat(r["postedDate"]) if r["postedDate"] else None,
                    amount=_decimal(r["amount"], "amount"),
                    description=r["description"],
                    status=status,
                    portal_row_id=str(r["id"]),
                    bank_reference=r.get("bankReference") or None,
                    running_balance=_decimal(balance, "balance") if balance is not None else None,
                )
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise PageParseError(f"history page does not parse: {exc}") from exc
    return out, has_next
