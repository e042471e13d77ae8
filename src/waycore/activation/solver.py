"""``WorkerSolver``: the worker's answers to a bank's challenges (``ChallengeSolver``).

* e-mail / SMS codes: from the inbox, only codes received after the connector's
  ``code_requested_at()`` (the newest such code), waiting up to ``WAYCORE_INBOX_CODE_TIMEOUT_S``;
* TOTP: from the stored secret (``totp_enrolled`` stores one read at enrolment);
* hardware-token and unknown codes, and inbox codes that never came: from the end user. The
  connection goes to ``awaitingVerificationCode`` with ``connection.verification_code_required``
  and the solver waits (LISTEN ``waycore_verification`` plus a short poll) for
  ``PUT …/verificationCode``, up to ``WAYCORE_VERIFICATION_TIMEOUT_S``; then
  ``VerificationTimedOut`` (``verification_timeout``). The connector parks its browser context
  meanwhile, so waiting does not hold a browser slot. A sync that meets such a prompt has
  failed as far as API.md 8.3 goes (``on_end_user_wait`` records it), but its session keeps
  waiting: the end user's code logs it in and the sync goes on.
* forced password change: a generated password, stored in the vault before it is used.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import structlog

from waycore.activation import transitions
from waycore.activation.runtime import Runtime
from waycore.activation.vault import ConnectionInfo, Secrets, store_secret, take_verification_code
from waycore.connectors.base import VerificationChannel, VerificationCodeRejected
from waycore.domain.common import utcnow
from waycore.inbox.wait import InboxTimeout, database_now, wait_for_code

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "waycore_verification"
POLL_INTERVAL_S = 1.0
INBOX_CHANNELS = frozenset({"email", "sms"})


class VerificationTimedOut(VerificationCodeRejected):
    """No code was submitted within the verification window."""


class ConnectionGone(Exception):
    """The connection was revoked (or left setup) while a job worked on it: stop, write nothing."""


def _now() -> datetime:
    """UTC now with microseconds (``domain.common.utcnow`` drops them: too coarse here)."""
    return datetime.now(UTC)


def generate_password(username: str | None = None, length: int = 24) -> str:
    """A password that satisfies common bank rules (upper, lower, digit, symbol, 10+ chars)."""
    alphabet = string.ascii_letters + string.digits + "-_.!"
    while True:
        body = "".join(secrets.choice(alphabet) for _ in range(length - 4))
        value = (
            secrets.choice(string.ascii_uppercase)
            + secrets.choice(string.ascii_lowercase)
            + body
            + secrets.choice(string.digits)
            + secrets.choice("-_.!")
        )
        if not username or username.lower() not in value.lower():
            return value


class WorkerSolver:
    """Answers challenges for one connection during one bank session."""

    def __init__(self, rt: Runtime, connection: ConnectionInfo, held: Secrets) -> None:
        self.rt = rt
        self.connection = connection
        self.held = held
        self.clock_offset = timedelta(0)
        self.waited_for_end_user = False
        self.bank: Any = None  # the BankSession, parked while an end user is awaited
        #: called once the connection waits for the end user (a sync records its failure)
        self.on_end_user_wait: Callable[[], Awaitable[None]] | None = None

    async def calibrate(self) -> None:
        """Align ``code_requested_at`` with the database clock that stamps inbox messages."""
        self.clock_offset = await database_now(self.rt.engine) - _now()

    def code_requested_at(self) -> datetime:
        return _now() + self.clock_offset

    async def one_time_code(self, channel: VerificationChannel, *, sent_after: datetime) -> str:
        if channel in INBOX_CHANNELS:
            try:
                return await wait_for_code(
                    self.rt.engine,
                    self.connection.id,
                    since=sent_after,
                    timeout_s=self.rt.settings.inbox_code_timeout_s,
                    keyring=self.rt.keyring,
                )
            except InboxTimeout:
                log.info("inbox_code_timeout", connection_id=self.connection.id, channel=channel)
        elif channel == "totp":
            code = self.totp_code()
            if code is not None:
                return code
        return await self.code_from_end_user(channel)

    async def code_from_end_user(self, channel: VerificationChannel) -> str:
        handed = await take_verification_code(self.rt, self.connection)
        if handed is not None:  # an operator's code (``waycore ops resolve --code``)
            return handed
        timeout_s = self.rt.settings.verification_timeout_s
        expires_at = utcnow() + timedelta(seconds=timeout_s)
        if not await transitions.await_code(self.rt, self.connection.id, channel, expires_at):
            raise ConnectionGone(self.connection.id)
        self.waited_for_end_user = True
        log.info("awaiting_verification_code", connection_id=self.connection.id, channel=channel)
        if self.on_end_user_wait is not None:
            await self.on_end_user_wait()
        if self.bank is not None:
            async with self.bank.parked():
                code = await self._wait_for_submitted_code(timeout_s)
        else:
            code = await self._wait_for_submitted_code(timeout_s)
        if code is None:
            raise VerificationTimedOut("No verification code was submitted in time.")
        return code

    async def _wait_for_submitted_code(self, timeout_s: float) -> str | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        woken = asyncio.Event()

        def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            if payload == self.connection.id:
                woken.set()

        async with self.rt.engine.connect() as listening:
            raw = await listening.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.add_listener(NOTIFY_CHANNEL, on_notify)
            try:
                while True:
                    woken.clear()
                    code = await take_verification_code(self.rt, self.connection)
                    if code is not None:
                        return code
                    state = await transitions.setup_status(self.rt, self.connection.id)
                    if state is None or state[0] not in transitions.IN_SETUP:
                        raise ConnectionGone(self.connection.id)
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return None
                    try:
                        await asyncio.wait_for(woken.wait(), min(remaining, POLL_INTERVAL_S))
                    except TimeoutError:
                        pass
            finally:
                await driver.remove_listener(NOTIFY_CHANNEL, on_notify)

    async def new_password(self) -> str:
        value = generate_password(self.held.bank_username)
        await store_secret(self.rt, self.connection, "password", value)
        self.held.password = value
        return value

    async def totp_enrolled(self, secret: str) -> None:
        await store_secret(self.rt, self.connection, "totp_secret", secret)
        self.held.totp_secret = secret

    def totp_code(self) -> str | None:
        if not self.held.totp_secret:
            return None
        return str(pyotp.TOTP(self.held.totp_secret).now())

    def contact_details(self) -> tuple[str | None, str | None]:
        return self.connection.email, self.connection.phone_number
