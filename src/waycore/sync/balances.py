"""Daily balance rows projected from the bank's balance and posted transactions.

For each account the latest bank reading (``BankBalance``) anchors its own day as
``bankProvided``; every earlier day back to the account's first posted transaction is
``derived``: the anchor's ledger minus the posted deltas of the days after it. Re-running the
projection after a backfill recomputes those rows (a later reading supersedes the mid-day
reading of an earlier one, whose day then becomes ``derived``). Rows only change
(``updated_at``) when a value does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from waycore.connectors.base import BankBalance
from waycore.domain.partition import Partition

PROJECT_SQL = """
with anchor as (
    select * from unnest($1::uuid[], $2::date[], $3::numeric[], $4::numeric[])
        as a(account_id, day, ledger, available)
), deltas as (
    select t.account_id, t.posted_date as day, sum(t.amount) as delta
    from anchor a join transactions t on t.account_id = a.account_id
    where a.account_id <> all($8::uuid[])
      and t.removed_at is null and t.status = 'posted' and t.posted_date <= a.day
    group by t.account_id, t.posted_date
    union all
    select k.account_id, k.day, k.delta
    from unnest($9::uuid[], $10::date[], $11::numeric[]) as k(account_id, day, delta)
    join anchor a on a.account_id = k.account_id
    where k.day <= a.day
), firsts as (
    select a.account_id, least(a.day, min(d.day)) as first_day
    from anchor a left join deltas d on d.account_id = a.account_id
    group by a.account_id, a.day
), days as (
    select a.account_id, a.day as anchor_day, a.ledger, a.available, g.day::date as day
    from anchor a join firsts f on f.account_id = a.account_id,
         generate_series(f.first_day, a.day, interval '1 day') as g(day)
), projected as (
    select d.account_id, d.day,
           d.ledger - coalesce(sum(coalesce(x.delta, 0)) over (
               partition by d.account_id order by d.day desc
               rows between unbounded preceding and 1 preceding), 0) as ledger,
           case when d.day = d.anchor_day then d.available end as available,
           coalesce(x.delta, 0) as delta,
           case when d.day = d.anchor_day then 'bankProvided' else 'derived' end as source
    from days d left join deltas x on x.account_id = d.account_id and x.day = d.day
), written as (
    insert into balances as b (account_id, date, org_id, environment, ledger, available,
                               posted_transaction_delta, source, updated_at)
    select p.account_id, p.day, $5, $6, p.ledger, p.available, p.delta, p.source, $7
    from projected p
    on conflict (account_id, date) do update
        set ledger = excluded.ledger, available = excluded.available,
            posted_transaction_delta = excluded.posted_transaction_delta,
            source = excluded.source, updated_at = excluded.updated_at
        where (b.ledger, b.available, b.posted_transaction_delta, b.source)
              is distinct from (excluded.ledger, excluded.available,
                                excluded.posted_transaction_delta, excluded.source)
    returning 1
)
select count(*) from written
"""


def anchors(
    balances: Sequence[BankBalance], account_ids: dict[str, UUID]
) -> dict[UUID, BankBalance]:
    """The latest reading with a ledger balance per known account."""
    latest: dict[UUID, BankBalance] = {}
    for balance in balances:
        account_id = account_ids.get(balance.account_bank_id)
        if account_id is None or balance.ledger is None:
            continue
        current = latest.get(account_id)
        if current is None or (balance.date, balance.as_of) >= (current.date, current.as_of):
            latest[account_id] = balance
    return latest


async def project(
    apg: Any,
    partition: Partition,
    latest: dict[UUID, BankBalance],
    now: datetime,
    known: Mapping[UUID, Mapping[date, Decimal]] | None = None,
) -> int:
    """Write the projected rows; returns how many rows were inserted or changed.

    ``known`` gives, for accounts whose stored transactions the caller has just written
    itself (all of them), the sum of the posted amounts per posted date: those accounts'
    transactions are not read back.
    """
    if not latest:
        return 0
    ids = list(latest)
    given = [(a, day, delta) for a, days in (known or {}).items() for day, delta in days.items()]
    count: int = await apg.fetchval(
        PROJECT_SQL,
        ids,
        [latest[i].date for i in ids],
        [latest[i].ledger for i in ids],
        [latest[i].available for i in ids],
        partition.org_id,
        partition.environment,
        now,
        list(known or ()),
        [a for a, _, _ in given],
        [day for _, day, _ in given],
        [delta for _, _, delta in given],
    )
    return count
