"""The connector contract (DESIGN.md section 4).

A connector drives one family of bank portals and yields the plain, frozen
dataclasses below; it never touches the database. The sync engine maps them to rows.

Challenges and failures are one error tree, mapped once to API.md's connection
`errorCode` values by ``ERROR_CODES``:

ConnectorError                   internal_error
 +-- NeedsVerificationCode       verification_required
 +-- VerificationCodeRejected    verification_timeout
 +-- NeedsNewPassword            password_expired
 +-- InvalidCredentials          invalid_credentials
 +-- AccountLocked               account_locked
 +-- PermissionDenied            permission_denied
 +-- InstitutionUnavailable      institution_unavailable   (retryable)
 |    +-- SessionExpired         institution_unavailable   (retryable)
 +-- SessionConflict             session_conflict          (retryable)
 +-- UnknownPage                 portal_changed
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from waycore.enums import AccountStatus, AccountType, Rail, TransactionStatus

Permission = Literal[
    "viewAccounts",
    "viewTransactions",
    "downloadStatements",
    "initiateTransfers",
    "approveTransfers",
]
VerificationChannel = Literal["sms", "email", "totp", "hardwareToken", "unknown"]
StatementFormat = Literal["pdf", "csv"]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class BankAccount:
    """One account as the portal lists it. ``bank_id`` is stable per connection."""

    bank_id: str
    name: str
    currency: str
    type: AccountType = "unknown"
    official_name: str | None = None
    masked_number: str | None = None
    account_number: str | None = None
    routing_number: str | None = None
    iban: str | None = None
    swift_bic: str | None = None
    status: AccountStatus = "open"
    current_balance: Decimal | None = None
    available_balance: Decimal | None = None
    permissions: frozenset[Permission] = frozenset()


@dataclass(frozen=True, slots=True)
class BankTransaction:
    """One transaction row as shown. ``amount`` is signed: positive = inflow.

    Identity (DESIGN.md section 4) comes from ``portal_row_id`` when the portal
    exposes one, else ``bank_reference`` where unique in the account, else a
    fingerprint the sync engine computes; a connector never invents ids.
    """

    account_bank_id: str
    transaction_date: date | None
    amount: Decimal
    description: str
    status: TransactionStatus = "posted"
    posted_date: date | None = None
    portal_row_id: str | None = None
    bank_reference: str | None = None
    customer_reference: str | None = None
    running_balance: Decimal | None = None
    rail: Rail = "unknown"
    bai_code: str | None = None
    counterparty_name: str | None = None
    counterparty_account_masked: str | None = None
    category: str | None = None
    subcategory: str | None = None
    mcc: str | None = None
    merchant_name: str | None = None


@dataclass(frozen=True, slots=True)
class BankBalance:
    """An account's balances as read at ``as_of``; ``date`` is the bank-local day."""

    account_bank_id: str
    date: date
    as_of: datetime
    ledger: Decimal | None
    available: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BankStatement:
    """A statement file. ``sha256`` (hex) is computed from ``content`` when omitted."""

    account_bank_id: str
    period_start: date
    period_end: date
    format: StatementFormat
    content: bytes = field(repr=False)
    sha256: str = ""

    def __post_init__(self) -> None:
        digest = hashlib.sha256(self.content).hexdigest()
        if not self.sha256:
            object.__setattr__(self, "sha256", digest)
        elif self.sha256 != digest:
            raise ValueError("sha256 does not match content")


# --------------------------------------------------------------------------- errors


class ConnectorError(Exception):
    """The connector failed."""

    retryable = False

    def __init__(self, message: str | None = None) -> None:
        text = message or (self.__doc__ or type(self).__name__).strip().splitlines()[0]
        super().__init__(text)
        self.message = text

    @property
    def error_code(self) -> str:
        return error_code(self)


class NeedsVerificationCode(ConnectorError):
    """The bank asks for a one-time code."""

    def __init__(self, channel: VerificationChannel = "unknown", message: str | None = None):
        super().__init__(message)
        self.channel: VerificationChannel = channel


class VerificationCodeRejected(ConnectorError):
    """The bank rejected the one-time code and allows no further try."""


class NeedsNewPassword(ConnectorError):
    """The bank requires a new password that the connector cannot set."""


class InvalidCredentials(ConnectorError):
    """The bank rejected the username or password."""


class AccountLocked(ConnectorError):
    """The bank locked the delegated user."""


class PermissionDenied(ConnectorError):
    """The delegated user lacks a required permission."""

    def __init__(
        self, missing: frozenset[Permission] = frozenset(), message: str | None = None
    ) -> None:
        super().__init__(message)
        self.missing = missing


class InstitutionUnavailable(ConnectorError):
    """The bank portal is down or erroring."""

    retryable = True


class SessionExpired(InstitutionUnavailable):
    """The bank session expired and could not be resumed."""


class SessionConflict(ConnectorError):
    """The delegated user has another open session at the bank."""

    retryable = True


class UnknownPage(ConnectorError):
    """The portal showed a page the connector does not recognise."""

    def __init__(
        self,
        url: str,
        snapshot_path: Path | None = None,
        message: str | None = None,
        screenshot_path: Path | None = None,
    ):
        super().__init__(message)
        self.url = url
        self.snapshot_path = snapshot_path
        self.screenshot_path = screenshot_path


ERROR_CODES: dict[type[ConnectorError], str] = {
    ConnectorError: "internal_error",
    NeedsVerificationCode: "verification_required",
    VerificationCodeRejected: "verification_timeout",
    NeedsNewPassword: "password_expired",
    InvalidCredentials: "invalid_credentials",
    AccountLocked: "account_locked",
    PermissionDenied: "permission_denied",
    InstitutionUnavailable: "institution_unavailable",
    SessionExpired: "institution_unavailable",
    SessionConflict: "session_conflict",
    UnknownPage: "portal_changed",
}


def error_code(exc: BaseException) -> str:
    """API.md connection `errorCode` for any exception (``internal_error`` if unknown)."""
    for cls in type(exc).__mro__:
        if cls in ERROR_CODES:
            return ERROR_CODES[cls]  # type: ignore[index]
    return "internal_error"
