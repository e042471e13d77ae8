"""The bank clock: the bank's ``today``, stored, moved forward only by ``advance``.

The origin is ``WAYCORE_SANDBOX_START_DATE`` when set (``pinned``; tests), else the real date
at the bank's first start. An unpinned clock also catches up with the real calendar when
the bank starts (``catch_up``). Each day moved through generates that day's transactions,
posts (or voids) pending items that are due, executes approved payments that are due; a
month's statement becomes available once the clock passes its last day.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.sandbox_bank.catalogue import AccountSpec
from waycore.sandbox_bank.errors import ValidationFailed
from waycore.sandbox_bank.generator import Row, generate_day, is_business_day
from waycore.sandbox_bank.models import Account, Clock, Customer, Transaction
from waycore.sandbox_bank.service import ledger
from waycore.sandbox_bank.service._common import tx

MAX_ADVANCE_DAYS = 366


def parse_start_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


async def _get(session: AsyncSession, *, for_update: bool = False) -> Clock | None:
    query = select(Clock).where(Clock.id == 1)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def _ensure(session: AsyncSession, start: date | None) -> Clock:
    clock = await _get(session)
    if clock is None:
        origin = start or date.today()
        await session.execute(
            text(
                "insert into sandbox_bank.clock (id, origin, today, real_anchor, pinned) "
                "values (1, :o, :o, :r, :p) on conflict (id) do nothing"
            ),
            {"o": origin, "r": date.today(), "p": start is not None},
        )
        clock = await _get(session)
    assert clock is not None
    return clock


async def ensure_clock(session: AsyncSession, start: date | None = None) -> date:
    """Create the clock at ``start`` (or the real date) unless it exists; returns today."""
    async with tx(session):
        return (await _ensure(session, start)).today


async def today(session: AsyncSession) -> date:
    """The bank's current date (a new clock starts at the real date)."""
    async with tx(session):
        clock = await _get(session)
        return clock.today if clock is not None else (await _ensure(session, None)).today


async def today_in(session: AsyncSession) -> date:
    """``today`` inside the caller's transaction (service internals)."""
    clock = await _get(session)
    return clock.today if clock is not None else (await _ensure(session, None)).today


async def advance(session: AsyncSession, days: int) -> date:
    """Move the clock ``days`` forward, generating each day; returns the new today."""
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_ADVANCE_DAYS:
        raise ValidationFailed.single("days", f"must be an integer from 1 to {MAX_ADVANCE_DAYS}")
    async with tx(session):
        await _ensure(session, None)
        clock = await _get(session, for_update=True)
        assert clock is not None
        for _ in range(days):
            day = clock.today + timedelta(days=1)
            await _run_day(session, day)
            clock.today = day
        await session.flush()
        return clock.today


async def catch_up(session: AsyncSession) -> int:
    """An unpinned clock follows the real calendar: advance by the real days since last start."""
    async with tx(session):
        clock = await _get(session, for_update=True)
        if clock is None or clock.pinned:
            return 0
        behind = (date.today() - clock.real_anchor).days
        if behind <= 0:
            return 0
        clock.real_anchor = date.today()
    await advance(session, min(behind, MAX_ADVANCE_DAYS))
    return behind


def _last_business_day_of_month(day: date) -> bool:
    if not is_business_day(day):
        return False
    nxt = day + timedelta(days=1)
    while nxt.month == day.month and not is_business_day(nxt):
        nxt += timedelta(days=1)
    return nxt.month != day.month


async def _run_day(session: AsyncSession, day: date) -> None:
    accounts = (
        await session.execute(
            select(Account, Customer.seed).join(Customer, Customer.id == Account.customer_id)
        )
    ).all()
    if not accounts:
        return
    account_ids = [account.id for account, _ in accounts]
    keys = {k: list(v) for k, v in (await ledger.next_keys(session, account_ids)).items()}
    balances: dict[uuid.UUID, Decimal] = {
        row[0]: Decimal(row[1])
        for row in await session.execute(
            text(
                "select a.id, coalesce((select running_balance from sandbox_bank.transactions t "
                "where t.account_id = a.id and t.sort_key < 1000000000000 "
                "order by t.sort_key desc limit 1), a.opening_balance) "
                "from sandbox_bank.accounts a where a.id = any(:ids)"
            ),
            {"ids": account_ids},
        )
    }
    due = (
        await session.scalars(
            select(Transaction)
            .where(Transaction.status == "pending", Transaction.post_due <= day)
            .order_by(Transaction.account_id, Transaction.sort_key)
        )
    ).all()
    updates: dict[str, list[object]] = defaultdict(list)
    for item in due:
        rng = random.Random(f"post:{item.id}")
        values: dict[str, object]
        if item.post_outcome == "void":
            values = {
                "status": "voided",
                "posted_date": None,
                "amount": item.amount,
                "description": item.description,
                "ref": None,
                "sort_key": item.sort_key,
                "rb": None,
            }
        else:
            amount = item.post_amount if item.post_amount is not None else item.amount
            balances[item.account_id] += amount
            seq = keys[item.account_id][0]
            keys[item.account_id][0] += 1
            ref = f"CRD{day:%y%m%d}{rng.randrange(10**6):06d}" if rng.random() < 0.85 else None
            values = {
                "status": "posted",
                "posted_date": day,
                "amount": amount,
                "description": item.post_description or item.description,
                "ref": ref,
                "sort_key": seq,
                "rb": balances[item.account_id],
            }
        updates["id"].append(item.id)
        for name, value in values.items():
            updates[name].append(value)
    if due:
        await session.execute(
            text(
                """
                update sandbox_bank.transactions t set
                    status = u.status, posted_date = u.posted_date, amount = u.amount,
                    description = u.description, bank_reference = u.ref,
                    sort_key = u.sort_key, running_balance = u.rb, post_due = null
                from unnest(cast(:id as uuid[]), cast(:status as text[]),
                            cast(:posted_date as date[]), cast(:amount as numeric[]),
                            cast(:description as text[]), cast(:ref as text[]),
                            cast(:sort_key as bigint[]), cast(:rb as numeric[]))
                     as u(id, status, posted_date, amount, description, ref, sort_key, rb)
                where t.id = u.id
                """
            ),
            dict(updates),
        )
    month_end = _last_business_day_of_month(day)
    new_rows: list[tuple[uuid.UUID, Row]] = []
    for account, seed in accounts:
        spec = AccountSpec(
            account.type, account.currency, account.country, account.name, account.official_name
        )
        for row in generate_day(seed, account.position, spec, day, balances[account.id], month_end):
            if row.status == "posted":
                balances[account.id] += row.amount
                row.running_balance = balances[account.id]
                row.sort_key = keys[account.id][0]
                keys[account.id][0] += 1
            else:
                row.sort_key = keys[account.id][1]
                keys[account.id][1] += 1
            new_rows.append((account.id, row))
    await ledger.insert_rows(session, new_rows)
    from waycore.sandbox_bank.service.payments import execute_due

    await execute_due(session, day)
    await ledger.refresh_balances(session, account_ids)
