"""What a user may see: accounts and paged transaction history (the portal's queries).

Rows come newest first: pending items first, then posted items by posting order (the
``(account_id, sort_key desc)`` index serves every page). Voided items are not listed.
The date filter applies to the booking date: the posted date, or the transaction date
while pending.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.sandbox_bank.errors import Forbidden, NotFound, ValidationFailed
from waycore.sandbox_bank.models import Account, Transaction, User
from waycore.sandbox_bank.service._common import parse_id, tx
from waycore.sandbox_bank.service.users import can, may_see_account

MAX_PAGE_SIZE = 200


@dataclass
class TransactionPage:
    rows: list[Transaction]
    page: int
    limit: int
    has_previous: bool
    has_next: bool


async def visible_accounts(session: AsyncSession, user: User) -> list[Account]:
    """The accounts the user's permissions allow (``accountIds`` null: all), by position."""
    async with tx(session):
        query = (
            select(Account)
            .where(Account.customer_id == user.customer_id)
            .order_by(Account.position)
        )
        accounts = (await session.scalars(query.execution_options(populate_existing=True))).all()
    return [a for a in accounts if may_see_account(user, a)]


async def get_visible_account(session: AsyncSession, user: User, account_id: str) -> Account:
    """The account if the user may see it, else ``NotFound`` (also for malformed ids)."""
    parsed = parse_id(account_id)
    async with tx(session):
        account = await session.get(Account, parsed, populate_existing=True) if parsed else None
    if account is None or not may_see_account(user, account):
        raise NotFound("Account not found.")
    return account


async def account_transactions(
    session: AsyncSession,
    user: User,
    account_id: str,
    *,
    page: int = 1,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int = 25,
) -> TransactionPage:
    """One page (1-based) of the account's history for the user, newest first, pending
    first. Needs ``viewTransactions``; ``date_from``/``date_to`` are inclusive."""
    if not can(user, "viewTransactions"):
        raise Forbidden("You do not have permission to view transactions.")
    if page < 1 or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed.single("page", "page must be ≥ 1 and limit 1 to 200")
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed.single("dateFrom", "must not be after dateTo")
    account = await get_visible_account(session, user, account_id)
    query = select(Transaction).where(
        Transaction.account_id == account.id, Transaction.status != "voided"
    )
    booking = func.coalesce(Transaction.posted_date, Transaction.transaction_date)
    if date_from:
        query = query.where(booking >= date_from)
    if date_to:
        query = query.where(booking <= date_to)
    query = query.order_by(Transaction.sort_key.desc()).offset((page - 1) * limit).limit(limit + 1)
    async with tx(session):
        rows = list((await session.scalars(query.execution_options(populate_existing=True))).all())
    return TransactionPage(rows[:limit], page, limit, page > 1, len(rows) > limit)


async def all_transactions(session: AsyncSession, account_id: str) -> list[Transaction]:
    """Every row of the account, voided included, in listing order (control API)."""
    parsed = parse_id(account_id)
    async with tx(session):
        account = await session.get(Account, parsed, populate_existing=True) if parsed else None
        if account is None:
            raise NotFound("Account not found.")
        query = (
            select(Transaction)
            .where(Transaction.account_id == account.id)
            .order_by(Transaction.sort_key.desc())
        )
        return list((await session.scalars(query.execution_options(populate_existing=True))).all())


async def account_by_id(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    async with tx(session):
        return await session.get(Account, account_id)
