"""Customers (companies), their administrator and accounts with generated history; reset."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.sandbox_bank import clock
from waycore.sandbox_bank.catalogue import account_layout, account_numbers
from waycore.sandbox_bank.errors import NotFound, ValidationFailed
from waycore.sandbox_bank.generator import Row, credit_limit, generate_history
from waycore.sandbox_bank.models import (
    Account,
    Clock,
    Customer,
    OneTimeCode,
    OutboxMessage,
    Payment,
    RememberedDevice,
    Transaction,
    User,
    WebSession,
)
from waycore.sandbox_bank.service import ledger
from waycore.sandbox_bank.service._common import hash_password, parse_id, temporary_password, tx

MAX_ACCOUNTS = 20
MAX_HISTORY_DAYS = 3660
MAX_TRANSACTIONS = 20000
ALL_PERMISSIONS = {
    "viewBalances": True,
    "viewTransactions": True,
    "downloadStatements": True,
    "initiatePayments": True,
    "approvePayments": True,
    "accountIds": None,
}


@dataclass
class CreatedCustomer:
    customer: Customer
    admin_username: str
    admin_password: str
    accounts: list[Account]


def _check_int(errors: list[dict[str, str]], field: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors.append({"field": field, "message": f"must be an integer from {low} to {high}"})
        return low
    return value


async def create_customer(
    session: AsyncSession,
    *,
    name: str,
    seed: int,
    accounts: int = 3,
    history_days: int = 1095,
    transactions_per_account: int | None = None,
    demo_username: str | None = None,
    admin_username: str | None = None,
) -> CreatedCustomer:
    """A company with an administrator (full permissions, no forced password change) and
    ``accounts`` accounts whose history covers ``history_days`` up to the bank's today;
    ``transactions_per_account`` gives exactly that many rows per account."""
    errors: list[dict[str, str]] = []
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.append({"field": "name", "message": "must be 1 to 200 characters"})
    if not isinstance(seed, int) or isinstance(seed, bool) or abs(seed) >= 2**63:
        errors.append({"field": "seed", "message": "must be a 64-bit integer"})
    _check_int(errors, "accounts", accounts, 1, MAX_ACCOUNTS)
    _check_int(errors, "historyDays", history_days, 1, MAX_HISTORY_DAYS)
    if transactions_per_account is not None:
        _check_int(errors, "transactionsPerAccount", transactions_per_account, 1, MAX_TRANSACTIONS)
    if errors:
        raise ValidationFailed(sorted(errors, key=lambda e: e["field"]))

    async with tx(session):
        today = await clock.today_in(session)
        customer = Customer(
            id=uuid.uuid4(),
            name=name.strip(),
            seed=seed,
            history_days=history_days,
            demo_username=demo_username,
        )
        session.add(customer)
        password = temporary_password()
        admin = User(
            username=admin_username or f"admin-{customer.id.hex[:10]}",
            customer_id=customer.id,
            role="admin",
            first_name="Customer",
            last_name="Administrator",
            permissions=dict(ALL_PERMISSIONS),
            password_hash=hash_password(password),
            must_change_password=False,
        )
        session.add(admin)
        await session.flush()
        created: list[Account] = []
        pairs: list[tuple[uuid.UUID, Row]] = []
        for position, spec in enumerate(account_layout(seed, accounts)):
            numbers = account_numbers(random.Random(f"numbers:{seed}:{position}"), spec)
            history = generate_history(
                seed, position, spec, today, history_days, transactions_per_account
            )
            account = Account(
                id=uuid.uuid4(),
                customer_id=customer.id,
                position=position,
                name=spec.name,
                official_name=spec.official_name,
                type=spec.type,
                currency=spec.currency,
                country=spec.country,
                account_number=numbers.account_number,
                masked_number=numbers.masked_number,
                routing_number=numbers.routing_number,
                sort_code=numbers.sort_code,
                iban=numbers.iban,
                swift_bic=numbers.swift_bic,
                opening_balance=history.opening_balance,
                current_balance=history.current_balance,
                available_balance=history.current_balance,
                credit_limit=credit_limit(spec),
                opened_on=history.rows[0].transaction_date if history.rows else today,
            )
            session.add(account)
            created.append(account)
            pairs.extend((account.id, row) for row in history.rows)
        await session.flush()
        await ledger.insert_rows(session, pairs)
        await ledger.refresh_balances(session, [a.id for a in created])
        for account in created:
            await session.refresh(account)
    return CreatedCustomer(customer, admin.username, password, created)


async def get_customer(session: AsyncSession, customer_id: str | uuid.UUID) -> Customer:
    parsed = parse_id(customer_id)
    async with tx(session):
        customer = await session.get(Customer, parsed) if parsed else None
    if customer is None:
        raise NotFound("Customer not found.")
    return customer


async def customer_accounts(
    session: AsyncSession, customer_id: str | uuid.UUID
) -> list[tuple[Account, int]]:
    """The customer's accounts with their row counts (voided included), by position."""
    customer = await get_customer(session, customer_id)
    async with tx(session):
        result = await session.execute(
            select(
                Account,
                select(func.count())
                .where(Transaction.account_id == Account.id)
                .correlate(Account)
                .scalar_subquery(),
            )
            .where(Account.customer_id == customer.id)
            .order_by(Account.position)
            .execution_options(populate_existing=True)
        )
        return [(account, int(count)) for account, count in result.all()]


async def reset(session: AsyncSession, start: date | None = None) -> None:
    """Delete every customer, user, message and session; restart the clock (at ``start``)."""
    async with tx(session):
        for model in (WebSession, RememberedDevice, OneTimeCode, OutboxMessage, Payment):
            await session.execute(delete(model))
        await session.execute(text("delete from sandbox_bank.transactions"))
        await session.execute(delete(Account))
        await session.execute(delete(User))
        await session.execute(delete(Customer))
        await session.execute(delete(Clock))
        await clock._ensure(session, start)
