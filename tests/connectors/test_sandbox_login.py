"""Log-in flows of the Sandbox Bank connector against the real bank in Chromium."""

from __future__ import annotations

import pytest

from waycore.connectors.base import AccountLocked, InvalidCredentials, NeedsVerificationCode
from waycore.connectors.protocol import Credentials
from waycore.connectors.sandbox_bank import SandboxBankConnector

from .conftest import Bank, OutboxSolver

pytestmark = pytest.mark.browser
DEMO_PASSWORD = "demo-password"


async def test_demo_user_logs_in_and_lists_accounts(bank: Bank, pool) -> None:
    connector = SandboxBankConnector()
    async with pool.session(bank.url) as session:
        await connector.log_in(session, Credentials("demo-conn", DEMO_PASSWORD), OutboxSolver(bank))
        accounts = await connector.list_accounts(session)
        await connector.log_out(session)
    user = await bank.call("GET", "/delegatedUsers/demo-conn")
    expected = await bank.accounts(user["customerId"])
    assert {a.bank_id for a in accounts} == {a["accountId"] for a in expected}
    by_id = {a["accountId"]: a for a in expected}
    for account in accounts:
        want = by_id[account.bank_id]
        assert account.name == want["name"]
        assert account.currency == want["currency"]
        assert account.type == want["type"]
        assert str(account.current_balance) == want["currentBalance"]
        assert str(account.available_balance) == want["availableBalance"]
        assert account.masked_number == want["maskedNumber"]
        assert account.account_number and account.account_number.endswith(want["maskedNumber"][-4:])
        assert {"viewAccounts", "viewTransactions"} <= account.permissions


async def test_wrong_password_is_invalid_credentials(bank: Bank, pool) -> None:
    async with pool.session(bank.url) as session:
        with pytest.raises(InvalidCredentials) as caught:
            await SandboxBankConnector().log_in(
                session, Credentials("demo-conn", "wrong"), OutboxSolver(bank)
            )
    assert caught.value.error_code == "invalid_credentials"


async def test_demo_locked_is_account_locked(bank: Bank, pool) -> None:
    async with pool.session(bank.url) as session:
        with pytest.raises(AccountLocked):
            await SandboxBankConnector().log_in(
                session, Credentials("demo+locked", DEMO_PASSWORD), OutboxSolver(bank)
            )


async def test_demo_otp_confirms_contact_details_then_reads_the_emailed_code(
    bank: Bank, pool
) -> None:
    solver = OutboxSolver(bank, email="wc.otp1@inbox.localhost", phone="+12015550142")
    connector = SandboxBankConnector()
    async with pool.session(bank.url) as session:
        await connector.log_in(session, Credentials("demo-c1+otp", DEMO_PASSWORD), solver)
        assert await connector.list_accounts(session)
    assert solver.asked == ["email"]
    # A later new login (fresh context) is asked for a code again, sent to the same address.
    solver.asked.clear()
    async with pool.session(bank.url) as session:
        await connector.log_in(session, Credentials("demo-c1+otp", DEMO_PASSWORD), solver)
    assert solver.asked == ["email"]


async def test_demo_hardware_token_asks_the_solver_and_parks(bank: Bank, pool) -> None:
    seen: list[tuple[int, int]] = []

    class Watching(OutboxSolver):
        async def one_time_code(self, channel, *, sent_after):  # type: ignore[override]
            seen.append((pool.active, pool.parked))
            return await super().one_time_code(channel, sent_after=sent_after)

    connector = SandboxBankConnector()
    solver = Watching(bank, hardware_code="123456")
    active_before = pool.active
    async with pool.session(bank.url) as session:
        await connector.log_in(session, Credentials("demo-c1+hardware", DEMO_PASSWORD), solver)
        assert await connector.list_accounts(session)
        assert (pool.active, pool.parked) == (active_before + 1, 0)
    assert solver.asked == ["hardwareToken"]
    assert seen == [(active_before, 1)]  # parked: not counted against the bound


async def test_hardware_token_without_a_code_needs_verification(bank: Bank, pool) -> None:
    async with pool.session(bank.url) as session:
        with pytest.raises(NeedsVerificationCode) as caught:
            await SandboxBankConnector().log_in(
                session, Credentials("demo-c2+hardware", DEMO_PASSWORD), OutboxSolver(bank)
            )
    assert caught.value.channel == "hardwareToken"
    assert caught.value.error_code == "verification_required"
