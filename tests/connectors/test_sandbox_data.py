"""Accounts, transactions and statements read by the connector equal the bank's own rows."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date
from typing import Any

import pytest

from waycore.connectors.base import BankTransaction
from waycore.connectors.protocol import Credentials
from waycore.connectors.sandbox_bank import SandboxBankConnector

from .conftest import Bank, OutboxSolver

pytestmark = pytest.mark.browser


def as_control(txn: BankTransaction) -> dict[str, Any]:
    return {
        "id": txn.portal_row_id,
        "bankReference": txn.bank_reference,
        "postedDate": txn.posted_date.isoformat() if txn.posted_date else None,
        "transactionDate": txn.transaction_date.isoformat() if txn.transaction_date else None,
        "amount": f"{txn.amount:.2f}",
        "description": txn.description,
        "status": txn.status,
    }


def expected(rows: list[dict[str, Any]], since: date | None = None) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if r["status"] == "voided":
            continue
        booked = date.fromisoformat(r["postedDate"] or r["transactionDate"])
        if since is not None and booked < since:
            continue
        out.append({k: v for k, v in r.items() if k != "runningBalance"})
    return out


async def realistic_user(bank: Bank, seed: int, username: str, factor: str = "none", **kw: Any):
    customer = await bank.customer(seed, transactionsPerAccount=kw.pop("rows", 120), **kw)
    user = await bank.delegated_user(customer["customerId"], username, factor)
    return customer, user


async def test_full_walk_equals_the_bank_rows_exactly(bank: Bank, pool) -> None:
    customer, user = await realistic_user(bank, 7101, "walker1", rows=260)
    solver = OutboxSolver(bank, email=user["email"], phone=user["phone"])
    connector = SandboxBankConnector()
    async with pool.session(bank.url) as session:
        await connector.log_in(session, Credentials("walker1", user["temporaryPassword"]), solver)
        accounts = await connector.list_accounts(session)
        read = {a.bank_id: await connector.transactions(session, a, since=None) for a in accounts}
        balances = await connector.balances(session, accounts)
    assert len(solver.passwords) == 1  # first-login password change
    assert len(accounts) == len(customer["accounts"]) == len(balances)
    for account in accounts:
        rows = await bank.rows(account.bank_id)
        got = [as_control(t) for t in read[account.bank_id]]
        assert got == expected(rows)  # every id, amount, date, status, in the bank's order
        by_id = {r["id"]: r for r in rows}
        for txn in read[account.bank_id]:
            want = by_id[txn.portal_row_id]["runningBalance"]
            if txn.status == "posted":
                assert f"{txn.running_balance:.2f}" == want
            else:
                assert txn.running_balance is None


async def test_incremental_walk_after_the_clock_advances(bank: Bank, pool) -> None:
    _customer, user = await realistic_user(bank, 7102, "walker2", rows=150)
    solver = OutboxSolver(bank)
    connector = SandboxBankConnector()
    creds = Credentials("walker2", user["temporaryPassword"])
    async with pool.session(bank.url) as session:
        await connector.log_in(session, creds, solver)
        creds = Credentials("walker2", solver.passwords[-1])
        accounts = await connector.list_accounts(session)
        first = {a.bank_id: await connector.transactions(session, a, since=None) for a in accounts}
    today = date.fromisoformat((await bank.call("GET", "/clock"))["today"])
    await bank.call("POST", "/clock/advance", json={"days": 5})
    async with pool.session(bank.url) as session:
        await connector.log_in(session, creds, solver)
        accounts = await connector.list_accounts(session)
        since = today
        later = {a.bank_id: await connector.transactions(session, a, since=since) for a in accounts}
    start = connector.window_start(since)
    assert start is not None and start < since
    new_rows = 0
    for account in accounts:
        rows = await bank.rows(account.bank_id)
        assert [as_control(t) for t in later[account.bank_id]] == expected(rows, start)
        old_ids = {t.portal_row_id for t in first[account.bank_id]}
        new_rows += sum(t.portal_row_id not in old_ids for t in later[account.bank_id])
    assert new_rows > 0


async def test_statements_pdf_and_csv_with_sha256(bank: Bank, pool) -> None:
    _customer, user = await realistic_user(bank, 7103, "stmts1", rows=60, historyDays=100)
    solver = OutboxSolver(bank)
    connector = SandboxBankConnector()
    async with pool.session(bank.url) as session:
        await connector.log_in(session, Credentials("stmts1", user["temporaryPassword"]), solver)
        account = (await connector.list_accounts(session))[0]
        assert "downloadStatements" in account.permissions
        files = await connector.statements(session, account, have=set())
        assert files
        have = {(f.period_start, f.period_end, f.format) for f in files if f.format == "pdf"}
        again = await connector.statements(session, account, have=have)
        recent = await connector.statements(session, account, have=set(), recent=1)
        await connector.log_out(session)
    assert {f.format for f in files} == {"pdf", "csv"}
    for f in files:
        assert f.sha256 == hashlib.sha256(f.content).hexdigest()
        assert f.account_bank_id == account.bank_id and f.period_start <= f.period_end
        if f.format == "pdf":
            assert f.content.startswith(b"%PDF")
        else:
            assert list(csv.reader(io.StringIO(f.content.decode())))
    assert {f.format for f in again} == {"csv"}
    assert len(again) == len(files) // 2
    newest = max(f.period_end for f in files)
    assert {(f.period_end, f.format) for f in recent} == {(newest, "pdf"), (newest, "csv")}


async def test_no_statement_permission_gives_none(bank: Bank, pool) -> None:
    customer = await bank.customer(7104, transactionsPerAccount=20)
    user = await bank.delegated_user(
        customer["customerId"], "nostmts1", downloadStatements=False, viewBalances=False
    )
    connector = SandboxBankConnector()
    async with pool.session(bank.url) as session:
        await connector.log_in(
            session, Credentials("nostmts1", user["temporaryPassword"]), OutboxSolver(bank)
        )
        accounts = await connector.list_accounts(session)
        assert all("downloadStatements" not in a.permissions for a in accounts)
        assert all(a.current_balance is None for a in accounts)
        assert await connector.balances(session, accounts) == []
        assert await connector.statements(session, accounts[0], have=set()) == []
