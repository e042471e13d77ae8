"""Small builders and readers shared by the sync tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.connectors.base import BankAccount, BankBalance, BankTransaction

D = Decimal


def account(bank_id: str = "A1", **kw: Any) -> BankAccount:
    values: dict[str, Any] = {
        "name": f"Account {bank_id}",
        "currency": "USD",
        "type": "checking",
        "current_balance": D("100.00"),
        "available_balance": D("90.00"),
    }
    values.update(kw)
    return BankAccount(bank_id=bank_id, **values)


def txn(
    amount: str,
    description: str = "CARD PURCHASE",
    day: date = date(2026, 3, 2),
    *,
    account_bank_id: str = "A1",
    status: str = "posted",
    **kw: Any,
) -> BankTransaction:
    posted = kw.pop("posted_date", day if status == "posted" else None)
    return BankTransaction(
        account_bank_id=account_bank_id,
        transaction_date=day,
        posted_date=posted,
        amount=D(amount),
        description=description,
        status=status,  # type: ignore[arg-type]
        **kw,
    )


def balance(
    ledger: str, day: date, bank_id: str = "A1", available: str | None = None
) -> BankBalance:
    return BankBalance(
        account_bank_id=bank_id,
        date=day,
        as_of=datetime(day.year, day.month, day.day, 18, tzinfo=UTC),
        ledger=D(ledger),
        available=None if available is None else D(available),
    )


async def rows(session: AsyncSession, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with session.begin():
        result = await session.execute(text(sql), params)
        return [dict(r._mapping) for r in result]


async def transactions(session: AsyncSession, connection_id: str) -> list[dict[str, Any]]:
    return await rows(
        session,
        "select * from transactions where connection_id = :c order by transaction_date, amount, id",
        c=connection_id,
    )


async def changes(session: AsyncSession, connection_id: str) -> list[dict[str, Any]]:
    return await rows(
        session,
        "select * from transaction_changes where connection_id = :c order by seq",
        c=connection_id,
    )


async def events(session: AsyncSession, org_id: Any, type_: str | None = None) -> list[Any]:
    found = await rows(
        session,
        "select type, data from events where org_id = :o order by created_at, id",
        o=org_id,
    )
    return [e for e in found if type_ is None or e["type"] == type_]
