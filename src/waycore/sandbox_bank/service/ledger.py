"""Set-based writes to the ledger: bulk inserts, postings, balance refresh.

Private to the service package: these take the caller's session and never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.sandbox_bank.generator import Row
from waycore.sandbox_bank.models import PENDING_BASE

_INSERT = text(
    """
    insert into sandbox_bank.transactions (
        id, account_id, sort_key, status, transaction_date, posted_date, description, amount,
        running_balance, bank_reference, customer_reference, rail, bai_code, post_due,
        post_outcome, post_amount, post_description, payment_id)
    select * from unnest(
        cast(:id as uuid[]), cast(:account_id as uuid[]), cast(:sort_key as bigint[]),
        cast(:status as text[]), cast(:transaction_date as date[]), cast(:posted_date as date[]),
        cast(:description as text[]), cast(:amount as numeric[]),
        cast(:running_balance as numeric[]), cast(:bank_reference as text[]),
        cast(:customer_reference as text[]), cast(:rail as text[]), cast(:bai_code as text[]),
        cast(:post_due as date[]), cast(:post_outcome as text[]), cast(:post_amount as numeric[]),
        cast(:post_description as text[]), cast(:payment_id as uuid[]))
    """
)


async def insert_rows(
    session: AsyncSession,
    rows: Iterable[tuple[uuid.UUID, Row]],
    *,
    customer_reference: dict[int, str] | None = None,
    payment_ids: dict[int, uuid.UUID] | None = None,
) -> list[uuid.UUID]:
    """Insert (account id, row) pairs in one statement; returns the new transaction ids."""
    columns: dict[str, list[object]] = {
        name: []
        for name in (
            "id account_id sort_key status transaction_date posted_date description amount "
            "running_balance bank_reference customer_reference rail bai_code post_due "
            "post_outcome post_amount post_description payment_id"
        ).split()
    }
    ids: list[uuid.UUID] = []
    for index, (account_id, row) in enumerate(rows):
        new_id = uuid.uuid4()
        ids.append(new_id)
        values: dict[str, object] = {
            "id": new_id,
            "account_id": account_id,
            "sort_key": row.sort_key,
            "status": row.status,
            "transaction_date": row.transaction_date,
            "posted_date": row.posted_date,
            "description": row.description,
            "amount": row.amount,
            "running_balance": row.running_balance,
            "bank_reference": row.bank_reference,
            "customer_reference": (customer_reference or {}).get(index),
            "rail": row.rail,
            "bai_code": row.bai_code,
            "post_due": row.post_due,
            "post_outcome": row.post_outcome,
            "post_amount": row.post_amount,
            "post_description": row.post_description,
            "payment_id": (payment_ids or {}).get(index),
        }
        for name, value in values.items():
            columns[name].append(value)
    if ids:
        await session.execute(_INSERT, columns)
    return ids


async def next_keys(
    session: AsyncSession, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """Per account: (next posting sequence, next pending key), under row locks."""
    if not account_ids:
        return {}
    await session.execute(
        text("select 1 from sandbox_bank.accounts where id = any(:ids) order by id for update"),
        {"ids": list(account_ids)},
    )
    result = await session.execute(
        text(
            """
            select a.id,
                   coalesce(max(t.sort_key) filter (where t.sort_key < :base), 0) + 1,
                   greatest(coalesce(max(t.sort_key) filter (where t.sort_key >= :base), 0),
                            :base) + 1
            from sandbox_bank.accounts a
            left join sandbox_bank.transactions t on t.account_id = a.id
            where a.id = any(:ids)
            group by a.id
            """
        ),
        {"ids": list(account_ids), "base": PENDING_BASE},
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in result}


async def refresh_balances(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> None:
    """Current = the last posted running balance; available subtracts pending debits
    (a credit card's available balance is its available credit)."""
    if not account_ids:
        return
    await session.execute(
        text(
            """
            update sandbox_bank.accounts a set
                current_balance = coalesce(last.running_balance, a.opening_balance),
                available_balance = case
                    when a.type = 'creditCard' then coalesce(a.credit_limit, 0)
                        + coalesce(last.running_balance, a.opening_balance) + coalesce(p.holds, 0)
                    when a.type = 'loan' then coalesce(last.running_balance, a.opening_balance)
                    else coalesce(last.running_balance, a.opening_balance) + coalesce(p.holds, 0)
                end
            from sandbox_bank.accounts a2
            left join lateral (
                select running_balance from sandbox_bank.transactions t
                where t.account_id = a2.id and t.sort_key < :base
                order by t.sort_key desc limit 1
            ) last on true
            left join lateral (
                select sum(amount) filter (where amount < 0) as holds
                from sandbox_bank.transactions t
                where t.account_id = a2.id and t.status = 'pending'
            ) p on true
            where a.id = a2.id and a.id = any(:ids)
            """
        ),
        {"ids": list(account_ids), "base": PENDING_BASE},
    )


async def post_now(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    day: date,
    description: str,
    amount: Decimal,
    rail: str,
    bai_code: str,
    bank_reference: str | None,
    customer_reference: str | None = None,
    payment_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Post one item at the end of the account's ledger today (payments, returns)."""
    keys = await next_keys(session, [account_id])
    seq = keys[account_id][0]
    current = await session.scalar(
        text(
            "select coalesce((select running_balance from sandbox_bank.transactions "
            "where account_id = :a and sort_key < :base order by sort_key desc limit 1), "
            "(select opening_balance from sandbox_bank.accounts where id = :a))"
        ),
        {"a": account_id, "base": PENDING_BASE},
    )
    row = Row(
        status="posted",
        transaction_date=day,
        posted_date=day,
        description=description,
        amount=amount,
        rail=rail,
        bai_code=bai_code,
        bank_reference=bank_reference,
        running_balance=Decimal(current) + amount,
        sort_key=seq,
    )
    ids = await insert_rows(
        session,
        [(account_id, row)],
        customer_reference={0: customer_reference} if customer_reference else None,
        payment_ids={0: payment_id} if payment_id else None,
    )
    await refresh_balances(session, [account_id])
    return ids[0]
