"""Second factors of realistic users, fault switches and storage-state reuse."""

from __future__ import annotations

import re

import pytest

from waycore.connectors.base import InstitutionUnavailable, UnknownPage
from waycore.connectors.protocol import Credentials
from waycore.connectors.sandbox_bank import SandboxBankConnector

from .conftest import Bank, OutboxSolver
from .test_sandbox_data import as_control, expected

pytestmark = pytest.mark.browser


async def _user(bank: Bank, seed: int, username: str, factor: str = "none", rows: int = 60):
    customer = await bank.customer(seed, transactionsPerAccount=rows)
    return await bank.delegated_user(customer["customerId"], username, factor)


@pytest.mark.parametrize("factor", ["email", "sms", "totp"])
async def test_second_factor_users(bank: Bank, pool, factor: str) -> None:
    username = f"factor{factor}1"
    user = await _user(bank, 7200 + len(factor), username, factor)
    solver = OutboxSolver(bank, email=user["email"], phone=user["phone"])
    connector = SandboxBankConnector()
    async with pool.session(bank.url) as session:
        await connector.log_in(session, Credentials(username, user["temporaryPassword"]), solver)
        assert await connector.list_accounts(session)
        state = await session.storage_state()
    assert len(solver.passwords) == 1
    if factor == "totp":
        assert solver.totp_secret == user["totpSecret"]  # read off the enrolment page
    else:
        assert solver.asked == [factor]
    # A new context with the stored cookies: the device is remembered, no code is needed.
    solver.asked.clear()
    creds = Credentials(username, solver.passwords[-1])
    async with pool.session(bank.url, storage_state=state) as session:
        await connector.log_in(session, creds, solver)
        assert await connector.list_accounts(session)
    assert solver.asked == []


async def test_session_expiry_mid_walk_logs_in_again_and_resumes(bank: Bank, pool) -> None:
    user = await _user(bank, 7210, "expiry1", "email", rows=300)
    solver = OutboxSolver(bank, email=user["email"], phone=user["phone"])
    connector = SandboxBankConnector()
    async with pool.session(bank.url) as session:
        await connector.log_in(session, Credentials("expiry1", user["temporaryPassword"]), solver)
        accounts = await connector.list_accounts(session)
        await bank.faults("expiry1", sessionExpiryAfterPages=2)
        read = await connector.transactions(session, accounts[0], since=None)
        assert session.relogins >= 1
    assert solver.asked == ["email"]  # re-logins on a remembered device need no code
    assert [as_control(t) for t in read] == expected(await bank.rows(accounts[0].bank_id))


async def test_slow_pages_and_random_500s_are_retried(bank: Bank, pool) -> None:
    user = await _user(bank, 7211, "flaky1", rows=200)
    solver = OutboxSolver(bank)
    connector = SandboxBankConnector()
    async with pool.session(bank.url) as session:
        await connector.log_in(session, Credentials("flaky1", user["temporaryPassword"]), solver)
        await bank.faults("flaky1", slowMs=150, errorRate=0.3)
        accounts = await connector.list_accounts(session)
        read = await connector.transactions(session, accounts[0], since=None)
    assert [as_control(t) for t in read] == expected(await bank.rows(accounts[0].bank_id))


async def test_maintenance_is_institution_unavailable(bank: Bank, pool) -> None:
    user = await _user(bank, 7212, "maint1")
    await bank.faults("maint1", maintenance=True)
    async with pool.session(bank.url) as session:
        with pytest.raises(InstitutionUnavailable) as caught:
            await SandboxBankConnector().log_in(
                session, Credentials("maint1", user["temporaryPassword"]), OutboxSolver(bank)
            )
    assert caught.value.error_code == "institution_unavailable"


async def test_wrong_password_fault_is_invalid_credentials(bank: Bank, pool) -> None:
    from waycore.connectors.base import InvalidCredentials

    user = await _user(bank, 7213, "wrongpw1")
    await bank.faults("wrongpw1", wrongPassword=True)
    async with pool.session(bank.url) as session:
        with pytest.raises(InvalidCredentials):
            await SandboxBankConnector().log_in(
                session, Credentials("wrongpw1", user["temporaryPassword"]), OutboxSolver(bank)
            )


async def test_locked_fault_is_account_locked(bank: Bank, pool) -> None:
    from waycore.connectors.base import AccountLocked

    user = await _user(bank, 7214, "locked1")
    await bank.faults("locked1", locked=True)
    async with pool.session(bank.url) as session:
        with pytest.raises(AccountLocked):
            await SandboxBankConnector().log_in(
                session, Credentials("locked1", user["temporaryPassword"]), OutboxSolver(bank)
            )


async def test_redesign_is_unknown_page_with_a_redacted_snapshot(bank: Bank, pool) -> None:
    user = await _user(bank, 7215, "redesign1")
    solver = OutboxSolver(bank)
    connector = SandboxBankConnector()
    async with pool.session(bank.url) as session:
        await connector.log_in(session, Credentials("redesign1", user["temporaryPassword"]), solver)
        await bank.faults("redesign1", redesign=True)
        with pytest.raises(UnknownPage) as caught:
            await connector.list_accounts(session)
    error = caught.value
    assert error.error_code == "portal_changed"
    assert error.snapshot_path is not None and error.snapshot_path.is_file()
    assert error.screenshot_path is not None and error.screenshot_path.is_file()
    assert error.screenshot_path.read_bytes().startswith(b"\x89PNG")
    html = error.snapshot_path.read_text()
    assert 'id="dashboard"' in html and "<script" not in html
    assert solver.passwords[-1] not in html and user["temporaryPassword"] not in html
    assert "redesign1" not in html  # the username is kept out too
    assert not re.search(r"\d{4,}", re.sub(r"\d{4}-\d{2}(-\d{2})?|\b20\d{2}\b", "", html))
    assert oct(error.snapshot_path.stat().st_mode & 0o777) == "0o600"
