"""Set-based writes of the sync engine: a few statements per sync, never one per row.

Statements run on the session's own asyncpg connection, inside its transaction. Ids come
from the ``transactions.id`` column default (a UUIDv7 made in SQL). The items of an account
that holds no transaction yet are COPYed straight into the table. Other items arrive by
binary COPY into a temporary table and are merged from there: one
UPDATE for items whose fields changed, one INSERT for new ones, one UPDATE for items that
vanished from a read window, each appending its change-log rows in the same statement.
The engine holds the connection's row lock, so two syncs of one connection never merge at
once. Smaller sets travel as arrays expanded by ``unnest``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.partition import Partition

TXN_COLUMNS: tuple[tuple[str, str], ...] = (
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
_DATA = [name for name, _ in TXN_COLUMNS[3:]]  # compared to decide "modified"
_NAMES = ", ".join(name for name, _ in TXN_COLUMNS)
_DEFINITION = ", ".join(f"{name} {kind}" for name, kind in TXN_COLUMNS)
_SETS = ", ".join(f"{c} = i.{c}" for c in _DATA)
_OLD = ", ".join(f"t.{c}" for c in _DATA)
_NEW = ", ".join(f"i.{c}" for c in _DATA)
_SAME_IDENTITY = (
    "t.account_id = i.account_id and t.identity_kind = i.identity_kind and t.identity = i.identity"
)

STAGE_SQL = f"create temporary table {{table}} ({_DEFINITION}) on commit drop"
MODIFY_SQL = f"""
with changed as (
    update transactions t set {_SETS}, removed_at = null, updated_at = $4
    from {{table}} i
    where {_SAME_IDENTITY}
      and (t.removed_at is not null or ({_OLD}) is distinct from ({_NEW}))
    returning t.id, t.account_id
), logged as (
    insert into transaction_changes
        (org_id, environment, connection_id, account_id, transaction_id, type)
    select $1, $2, $3, c.account_id, c.id, 'modified' from changed c
    returning 1
)
select count(*) from logged
"""  # noqa: S608 - only column constants and the staging table's name are interpolated
ADD_SQL = f"""
with added as (
    insert into transactions
        (org_id, environment, connection_id, created_at, updated_at, {_NAMES})
    select $1, $2, $3, $4, $4, {_NAMES} from {{table}} i
    where not exists (select 1 from transactions t where {_SAME_IDENTITY})
    returning id, account_id
), logged as (
    insert into transaction_changes
        (org_id, environment, connection_id, account_id, transaction_id, type)
    select $1, $2, $3, a.account_id, a.id, 'added' from added a
    returning 1
)
select count(*) from logged
"""  # noqa: S608 - only column constants and the staging table's name are interpolated
# EXCEPT rather than NOT EXISTS: a set operation is never quadratic, whatever the estimates
REMOVE_SQL = """
with windows as (
    select * from unnest($1::uuid[], $2::date[]) as w(account_id, start_date)
), gone_keys as (
    select t.account_id, t.identity_kind, t.identity
    from windows w join transactions t on t.account_id = w.account_id
    where t.removed_at is null
      and (t.status = 'pending' or w.start_date is null
           or coalesce(t.posted_date, t.transaction_date) >= w.start_date)
    except
    select account_id, identity_kind, identity from {table}
), gone as (
    update transactions t set removed_at = $6, updated_at = $6
    from gone_keys g
    where t.account_id = g.account_id and t.identity_kind = g.identity_kind
      and t.identity = g.identity
    returning t.id, t.account_id
), logged as (
    insert into transaction_changes
        (org_id, environment, connection_id, account_id, transaction_id, type)
    select $3, $4, $5, g.account_id, g.id, 'removed' from gone g
    returning 1
)
select count(*) from logged
"""
OUTSIDE_REFERENCES_SQL = """
select t.account_id, t.bank_reference
from unnest($1::uuid[], $2::date[]) as w(account_id, start_date)
join transactions t on t.account_id = w.account_id
where t.removed_at is null and t.bank_reference is not null
  and coalesce(t.posted_date, t.transaction_date) < w.start_date
intersect
select * from unnest($3::uuid[], $4::text[])
"""
_FIXED = ("org_id", "environment", "connection_id", "created_at", "updated_at")
HOLDING_SQL = """
select a.id from unnest($1::uuid[]) as a(id)
where exists (select 1 from transactions t where t.account_id = a.id)
"""
LOG_FRESH_SQL = """
with logged as (
    insert into transaction_changes
        (org_id, environment, connection_id, account_id, transaction_id, type)
    select $2, $3, $4, t.account_id, t.id, 'added'
    from transactions t where t.account_id = any($1::uuid[])
    returning 1
)
select count(*) from logged
"""
CHANGE_LOG_LOCK_SQL = (
    "select pg_advisory_xact_lock(hashtextextended("
    "'transaction_changes:' || $1::text || ':' || $2::text, 0))"
)


Records = Callable[[Collection[UUID], tuple[Any, ...]], Iterator[tuple[Any, ...]]]


@dataclass
class Counts:
    added: int = 0
    modified: int = 0
    removed: int = 0


async def driver(session: AsyncSession) -> Any:
    """The session's asyncpg connection (inside the session's current transaction)."""
    # SQLAlchemy's asyncpg adapter opens its transaction lazily, on its first statement: issue
    # one, or the raw statements below would each run in autocommit
    await session.execute(text("select 1"))
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    apg = raw.driver_connection
    if apg is None or not apg.is_in_transaction():
        raise RuntimeError("the sync engine must run inside the session's transaction")
    return apg


async def lock_change_log(apg: Any, partition: Partition) -> None:
    """Serialize appends per partition until commit, so ``seq`` order is commit order."""
    await apg.execute(CHANGE_LOG_LOCK_SQL, str(partition.org_id), partition.environment)


async def write_transactions(
    apg: Any,
    partition: Partition,
    connection_id: str,
    read: set[UUID],
    records: Records,
    windows: dict[UUID, date | None],
    now: datetime,
) -> Counts:
    """Merge the items read for the ``read`` accounts and remove what vanished from windows.

    ``records(accounts, prefix)`` yields ``prefix`` + a ``TXN_COLUMNS`` record per item of
    those accounts. Unchanged items are not touched at all: no write, no ``updated_at``, no
    change row. An account holding no transaction yet (its first sync) can only gain: its
    items are COPYed straight into ``transactions`` (ids from the column default) and logged
    as ``added``.
    """
    counts = Counts()
    accounts = read | set(windows)
    if not accounts:
        return counts
    stored = {r[0] for r in await apg.fetch(HOLDING_SQL, list(accounts))}
    fresh = read - stored
    if fresh:
        fixed = (partition.org_id, partition.environment, connection_id, now, now)
        await apg.copy_records_to_table(
            "transactions",
            records=records(fresh, fixed),
            columns=[*_FIXED, *(name for name, _ in TXN_COLUMNS)],
        )
        counts.added = await apg.fetchval(
            LOG_FRESH_SQL,
            sorted(fresh),
            partition.org_id,
            partition.environment,
            connection_id,
        )
    merged = read & stored
    windows = {a: w for a, w in windows.items() if a in stored}
    if not merged and not windows:
        return counts
    # a fresh name each time: asyncpg caches the table lookup COPY makes, by statement text
    table = f"sync_incoming_{secrets.token_hex(6)}"
    await apg.execute(STAGE_SQL.format(table=table))
    if merged:
        await apg.copy_records_to_table(
            table, records=records(merged, ()), columns=[name for name, _ in TXN_COLUMNS]
        )
        args = (partition.org_id, partition.environment, connection_id, now)
        counts.modified = await apg.fetchval(MODIFY_SQL.format(table=table), *args)
        counts.added += await apg.fetchval(ADD_SQL.format(table=table), *args)
    if windows:
        counts.removed = await apg.fetchval(
            REMOVE_SQL.format(table=table),
            list(windows),
            list(windows.values()),
            partition.org_id,
            partition.environment,
            connection_id,
            now,
        )
    await apg.execute(f"drop table {table}")
    return counts


async def references_outside(
    apg: Any, windows: dict[UUID, date | None], references: dict[UUID, set[str]]
) -> dict[UUID, set[str]]:
    """The read references each account already holds on rows dated before its window."""
    starts = {k: v for k, v in windows.items() if v is not None}
    pairs = [(a, r) for a in starts for r in sorted(references.get(a, ()))]
    if not pairs:
        return {}
    found: dict[UUID, set[str]] = {}
    for record in await apg.fetch(
        OUTSIDE_REFERENCES_SQL,
        list(starts),
        list(starts.values()),
        [a for a, _ in pairs],
        [r for _, r in pairs],
    ):
        found.setdefault(record["account_id"], set()).add(record["bank_reference"])
    return found
