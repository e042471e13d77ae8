"""Set-based writes of the sync engine: one statement per batch, never a round trip per row.

Statements run on the session's own asyncpg connection (same transaction), with every column
passed as one array and expanded by ``unnest``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.partition import Partition

BATCH = 25_000

TXN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "uuid"),
    ("account_id", "uuid"),
    ("identity_kind", "text"),
    ("identity", "text"),
    ("status", "text"),
    ("posted_date", "date"),
    ("transaction_date", "date"),
    ("amount", "numeric"),
    ("currency", "text"),
    ("description", "text"),
    ("raw_description", "text"),
    ("rail", "text"),
    ("customer_reference", "text"),
    ("bank_reference", "text"),
    ("bai_code", "text"),
    ("category", "text"),
    ("subcategory", "text"),
    ("mcc", "text"),
    ("merchant_name", "text"),
    ("counterparty_name", "text"),
    ("counterparty_account_masked", "text"),
    ("running_balance", "numeric"),
)
_DATA = [name for name, _ in TXN_COLUMNS[4:]]  # compared to decide "modified"
_N = len(TXN_COLUMNS)


def _upsert_sql() -> str:
    arrays = ", ".join(f"${i + 1}::{kind}[]" for i, (_, kind) in enumerate(TXN_COLUMNS))
    names = ", ".join(name for name, _ in TXN_COLUMNS)
    org, env, conn, now = (f"${_N + k}" for k in (1, 2, 3, 4))
    sets = ", ".join(f"{c} = excluded.{c}" for c in _DATA)
    old = ", ".join(f"t.{c}" for c in _DATA)
    new = ", ".join(f"excluded.{c}" for c in _DATA)
    return f"""
    with upserted as (
        insert into transactions as t
            (org_id, environment, connection_id, created_at, updated_at, {names})
        select {org}, {env}, {conn}, {now}, {now}, {names}
        from unnest({arrays}) as i({names})
        on conflict (account_id, identity_kind, identity) do update
            set {sets}, removed_at = null, updated_at = {now}
            where t.removed_at is not null or ({old}) is distinct from ({new})
        returning t.id, t.account_id, (t.xmax = 0) as inserted
    ), logged as (
        insert into transaction_changes
            (org_id, environment, connection_id, account_id, transaction_id, type)
        select {org}, {env}, {conn}, u.account_id, u.id,
               case when u.inserted then 'added' else 'modified' end
        from upserted u order by u.id
        returning type
    )
    select type, count(*) as n from logged group by type
    """  # noqa: S608 - only the column constants are interpolated


UPSERT_SQL = _upsert_sql()

REMOVE_SQL = """
with seen as (
    select * from unnest($1::uuid[], $2::text[], $3::text[]) as s(account_id, kind, identity)
), windows as (
    select * from unnest($4::uuid[], $5::date[]) as w(account_id, start_date)
), gone as (
    update transactions t set removed_at = $9, updated_at = $9
    from windows w
    where t.account_id = w.account_id and t.removed_at is null
      and (t.status = 'pending' or w.start_date is null
           or coalesce(t.posted_date, t.transaction_date) >= w.start_date)
      and not exists (select 1 from seen s where s.account_id = t.account_id
                      and s.kind = t.identity_kind and s.identity = t.identity)
    returning t.id, t.account_id
), logged as (
    insert into transaction_changes
        (org_id, environment, connection_id, account_id, transaction_id, type)
    select $6, $7, $8, g.account_id, g.id, 'removed' from gone g order by g.id
    returning 1
)
select count(*) from logged
"""

OUTSIDE_REFERENCES_SQL = """
select t.account_id, t.bank_reference
from unnest($1::uuid[], $2::date[]) as w(account_id, start_date)
join transactions t on t.account_id = w.account_id
where w.start_date is not null and t.removed_at is null and t.bank_reference = any($3::text[])
  and coalesce(t.posted_date, t.transaction_date) < w.start_date
"""

CHANGE_LOG_LOCK_SQL = (
    "select pg_advisory_xact_lock(hashtextextended("
    "'transaction_changes:' || $1::text || ':' || $2::text, 0))"
)


@dataclass
class Counts:
    added: int = 0
    modified: int = 0
    removed: int = 0

    def add(self, kind: str, n: int) -> None:
        setattr(self, kind, getattr(self, kind) + n)


@dataclass
class TransactionRows:
    """Column arrays for ``UPSERT_SQL``, appended row by row (cheap) and sent in batches."""

    columns: list[list[Any]] = field(default_factory=lambda: [[] for _ in TXN_COLUMNS])

    def append(self, row: Sequence[Any]) -> None:
        for column, value in zip(self.columns, row, strict=True):
            column.append(value)

    def __len__(self) -> int:
        return len(self.columns[0])

    def batches(self, size: int = BATCH) -> list[list[list[Any]]]:
        return [[c[i : i + size] for c in self.columns] for i in range(0, len(self), size)]


async def driver(session: AsyncSession) -> Any:
    """The session's asyncpg connection (inside the session's current transaction)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def lock_change_log(apg: Any, partition: Partition) -> None:
    """Serialize appends per partition until commit, so ``seq`` order is commit order."""
    await apg.execute(CHANGE_LOG_LOCK_SQL, str(partition.org_id), partition.environment)


async def upsert_transactions(
    apg: Any, partition: Partition, connection_id: str, rows: TransactionRows, now: datetime
) -> Counts:
    counts = Counts()
    for batch in rows.batches():
        records = await apg.fetch(
            UPSERT_SQL, *batch, partition.org_id, partition.environment, connection_id, now
        )
        for record in records:
            counts.add(record["type"], record["n"])
    return counts


async def remove_vanished(
    apg: Any,
    partition: Partition,
    connection_id: str,
    seen: tuple[list[UUID], list[str], list[str]],
    windows: dict[UUID, date | None],
    now: datetime,
) -> int:
    if not windows:
        return 0
    count: int = await apg.fetchval(
        REMOVE_SQL,
        *seen,
        list(windows),
        list(windows.values()),
        partition.org_id,
        partition.environment,
        connection_id,
        now,
    )
    return count


async def references_outside(
    apg: Any, windows: dict[UUID, date | None], references: set[str]
) -> dict[UUID, set[str]]:
    """Stored references of each account dated before its read window."""
    starts = {k: v for k, v in windows.items() if v is not None}
    if not starts or not references:
        return {}
    found: dict[UUID, set[str]] = {}
    for record in await apg.fetch(
        OUTSIDE_REFERENCES_SQL, list(starts), list(starts.values()), sorted(references)
    ):
        found.setdefault(record["account_id"], set()).add(record["bank_reference"])
    return found
