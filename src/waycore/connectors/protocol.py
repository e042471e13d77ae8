"""What a connector is, and what the activation/sync layer gives it (DESIGN.md section 4).

A connector drives one family of bank portals through a ``BankSession`` (one Playwright
browser context, ``connectors.session``) and returns the dataclasses of
``connectors.base``. It never touches the database, the vault or the inbox: every secret
or code it needs comes from a ``ChallengeSolver`` that the caller implements.

Call order for one sync (one bank session)::

    connector = connector_for(institution_id)(settings-derived options)   # registry.py
    async with pool.session(portal_url, storage_state=..., live=...) as bank:  # pool.py
        await connector.log_in(bank, credentials, solver)
        accounts = await connector.list_accounts(bank)
        balances = await connector.balances(bank, accounts)
        for account in accounts:
            rows = await connector.transactions(bank, account, since=watermark)
            window = connector.window_start(watermark)   # for removals, None = all
            files = await connector.statements(bank, account, have=stored_keys)
        await connector.log_out(bank)
        state = await bank.storage_state()     # bytes, for the vault

``ChallengeSolver``
    ``code_requested_at()``  call just before submitting a form that makes the bank send a
                             code (log-in, contact details, resend); pass the result to
                             ``one_time_code(..., sent_after=...)``.
    ``one_time_code(channel, sent_after=)``  a code for ``channel`` (``email`` / ``sms``
                             from the inbox, ``totp`` from the stored secret,
                             ``hardwareToken`` from the end user); waits as long as the
                             solver allows and raises ``NeedsVerificationCode(channel)``
                             when no code will come. A connector that hits a
                             ``hardwareToken`` prompt calls ``bank.park()`` first (see
                             session.py) so the wait does not hold a browser slot.
    ``new_password()``       generate, store in the vault (never logged), return.
    ``totp_enrolled(secret)`` store an enrolment secret read on the page.
    ``totp_code()``          a current code from the stored secret, or None.
    ``contact_details()``    the connection's provisioned (e-mail, phone), either may be None.

Errors are the ``connectors.base`` tree (``InvalidCredentials``, ``AccountLocked``,
``UnknownPage`` ...); ``error_code(exc)`` maps any of them to API.md's ``errorCode``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from waycore.connectors.base import (
    BankAccount,
    BankBalance,
    BankStatement,
    BankTransaction,
    VerificationChannel,
)

if TYPE_CHECKING:
    from waycore.connectors.session import BankSession

#: A stored statement's key: (period_start, period_end, format).
StatementKey = tuple[date, date, str]


@dataclass(frozen=True, slots=True)
class Credentials:
    """The delegated user's log-in. ``password`` never appears in a repr."""

    username: str
    password: str = field(repr=False)
    customer_id: str | None = field(default=None, repr=False)


@runtime_checkable
class ChallengeSolver(Protocol):
    """Answers the bank's challenges on behalf of the connector."""

    async def one_time_code(self, channel: VerificationChannel, *, sent_after: datetime) -> str:
        """A one-time code for ``channel`` received after ``sent_after``.

        Raises ``NeedsVerificationCode(channel)`` when none can be obtained in time.
        """
        ...

    def code_requested_at(self) -> datetime:
        """Now (UTC), taken just before submitting a form that triggers a code."""
        ...

    async def new_password(self) -> str:
        """Generate a password for the forced change, store it, return it."""
        ...

    async def totp_enrolled(self, secret: str) -> None:
        """Keep the TOTP secret shown at enrolment."""
        ...

    def totp_code(self) -> str | None:
        """A current TOTP code from the stored secret, or None when there is none."""
        ...

    def contact_details(self) -> tuple[str | None, str | None]:
        """The connection's provisioned (e-mail address, E.164 phone number)."""
        ...


@runtime_checkable
class Connector(Protocol):
    """The flows of one portal family. Stateless apart from options: one instance may serve
    many sessions, one at a time or concurrently."""

    async def log_in(
        self, bank: BankSession, credentials: Credentials, solver: ChallengeSolver
    ) -> None:
        """Sign in (or confirm a reused session is signed in), solving every challenge."""
        ...

    async def list_accounts(self, bank: BankSession) -> list[BankAccount]:
        """Every account the delegated user may see, with balances and permissions."""
        ...

    async def balances(self, bank: BankSession, accounts: list[BankAccount]) -> list[BankBalance]:
        """Today's balances of ``accounts`` (usually derived from ``list_accounts``)."""
        ...

    def window_start(self, since: date | None) -> date | None:
        """The first (booking) day ``transactions(since=since)`` reads: ``since`` minus the
        connector's overlap window; None for the full history. The sync engine treats a
        stored row inside the window that the read did not return as removed."""
        ...

    async def transactions(
        self, bank: BankSession, account: BankAccount, *, since: date | None
    ) -> list[BankTransaction]:
        """Rows booked on or after ``window_start(since)``; ``since=None``: the full
        available history."""
        ...

    async def statements(
        self,
        bank: BankSession,
        account: BankAccount,
        *,
        have: set[StatementKey],
        recent: int | None = None,
    ) -> list[BankStatement]:
        """Statement files of ``account`` whose key is not in ``have``; with ``recent``, of
        the ``recent`` newest periods only. None without ``downloadStatements``."""
        ...

    async def log_out(self, bank: BankSession) -> None:
        """End the bank session (best effort; never raises for an already ended one)."""
        ...
