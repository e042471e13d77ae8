"""Reading transactions: list statement and order, get, wire presentation.

Removed transactions are never shown. The list order's first key is ``sort_day`` (days since
1970, pending items the largest value), so pending items lead under ``-postedDate`` and
trail under ``postedDate``; ``id`` breaks ties in the same direction.

The list indexes are partial, one per environment (migration 0009): the statement names the
environment as a literal, so that the planner can match it to an index's predicate (a
parameter's value is unknown when a prepared statement's generic plan is made).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import Select, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from waycore.domain.partition import Partition
from waycore.domain.queries import get_by_id, where_given
from waycore.domain.transactions.models import Transaction
from waycore.domain.transactions.schemas import TransactionOut
from waycore.errors import ValidationFailed
from waycore.money import format_amount, format_optional

Order = list[tuple[InstrumentedAttribute[Any], Literal["asc", "desc"]]]

ORDERS: dict[str, Order] = {
    "-postedDate": [(Transaction.sort_day, "desc"), (Transaction.id, "desc")],
    "postedDate": [(Transaction.sort_day, "asc"), (Transaction.id, "asc")],
    "-updatedAt": [(Transaction.updated_at, "desc"), (Transaction.id, "desc")],
    "updatedAt": [(Transaction.updated_at, "asc"), (Transaction.id, "asc")],
}


def _visible(partition: Partition) -> Select[Any]:
    return select(Transaction).where(
        Transaction.org_id == partition.org_id,
        Transaction.environment == literal(partition.environment, literal_execute=True),
        Transaction.removed_at.is_(None),
    )


def list_statement(
    partition: Partition,
    *,
    account_id: UUID | None = None,
    connection_id: str | None = None,
    status: str | None = None,
    rail: str | None = None,
    posted_date_gte: date | None = None,
    posted_date_lt: date | None = None,
) -> Select[Any]:
    if posted_date_gte and posted_date_lt and posted_date_gte > posted_date_lt:
        raise ValidationFailed.single("query.postedDateGte", "must not be after postedDateLt")
    stmt = where_given(
        _visible(partition),
        (Transaction.account_id, account_id),
        (Transaction.connection_id, connection_id),
        (Transaction.status, status),
        (Transaction.rail, rail),
    )
    if posted_date_gte is not None:
        stmt = stmt.where(Transaction.posted_date >= posted_date_gte)
    if posted_date_lt is not None:
        stmt = stmt.where(Transaction.posted_date < posted_date_lt)
    return stmt


async def get_transaction(
    session: AsyncSession, partition: Partition, transaction_id: str
) -> Transaction:
    return await get_by_id(session, _visible(partition), Transaction.id, transaction_id)


def present(txn: Transaction) -> TransactionOut:
    return TransactionOut(
        id=txn.id,
        connection_id=txn.connection_id,
        account_id=txn.account_id,
        status=txn.status,  # type: ignore[arg-type]
        posted_date=txn.posted_date,
        transaction_date=txn.transaction_date,
        updated_at=txn.updated_at,
        amount=format_amount(txn.amount, txn.currency),
        currency=txn.currency,
        entry_type="credit" if txn.amount >= 0 else "debit",
        description=txn.description,
        rail=txn.rail,  # type: ignore[arg-type]
        raw_description=txn.raw_description,
        customer_reference=txn.customer_reference,
        bank_reference=txn.bank_reference,
        bai_code=txn.bai_code,
        category=txn.category,
        subcategory=txn.subcategory,
        mcc=txn.mcc,
        merchant_name=txn.merchant_name,
        counterparty_name=txn.counterparty_name,
        counterparty_account_masked=txn.counterparty_account_masked,
        running_balance=format_optional(txn.running_balance, txn.currency),
    )
