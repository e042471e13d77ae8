"""Set-based writes of the sync engine: a few statements per sync, never one per row.

Statements run on the session's own asyncpg connection, inside its transaction. The items
of an account that holds no transaction yet are COPYed straight into the table, with
UUIDv7 ids made in Python (``uuids``), which spares the busy database the SQL id function.
Other items arrive by binary COPY into a temporary table and are merged from there, new rows
taking their ids from the ``transactions.id`` column default (a UUIDv7 made in SQL): one
UPDATE for items whose fields changed, one INSERT for new ones, one UPDATE for items that
vanished from a read window, each appending its change-log rows in the same statement.
The engine holds the connection's row lock, so two syncs of one connection never merge at
once. Smaller sets travel as arrays expanded by ``unnest``.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.partition import Partition
from waycore.sync.uuids import hex32, uuid7_hex

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
# ``sort_day`` (a plain column since migration 0010) is written with every ``posted_date``, as
# the generated column of migration 0006 computed it: days since 1970-01-01, pending (no
# postedDate) as the largest integer. Staged rows take it from this expression; rows COPYed
# straight into the table take ``sort_day`` below, its Python twin.
SORT_DAY_SQL = "coalesce(i.posted_date - date '1970-01-01', 2147483647)"
PENDING_SORT_DAY = 2147483647
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

STAGE_SQL = f"create temporary table {{table}} ({_DEFINITION}) on commit drop"
MODIFY_SQL = f"""
with changed as (
    update transactions t set {_SETS}, sort_day = {SORT_DAY_SQL}, removed_at = null,
        updated_at = $4
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
        (org_id, environment, connection_id, created_at, updated_at, {_NAMES}, sort_day)
    select $1, $2, $3, $4, $4, {_NAMES}, {SORT_DAY_SQL} from {{table}} i
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
# the ids of each account as one comma-separated text: sent in a few bytes per id, where a
# uuid[] of 100,000 elements costs Python ~50 ms to encode while the server waits
LOG_ADDED_SQL = """
insert into transaction_changes
    (org_id, environment, connection_id, account_id, transaction_id, type)
select $3, $4, $5, a.account_id, x.id::uuid, 'added'
from unnest($1::uuid[], $2::text[]) as a(account_id, ids), string_to_table(a.ids, ',') as x(id)
"""
CHANGE_LOG_LOCK_SQL = (
    "select pg_advisory_xact_lock(hashtextextended("
    "'transaction_changes:' || $1::text || ':' || $2::text, 0))"
)


def sort_day(posted_date: date | None) -> int:
    """``SORT_DAY_SQL`` for one row: days since 1970-01-01, or the largest integer if pending."""
    return PENDING_SORT_DAY if posted_date is None else posted_date.toordinal() - EPOCH_ORDINAL


# per account: the sum of its posted amounts per posted date
Deltas = dict[UUID, dict[date, Decimal]]


@dataclass(frozen=True)
class Fresh:
    """What the records COPYed straight into ``transactions`` carry besides the item."""

    ids: Mapping[UUID, Sequence[str]]  # per account, one id per item, in item order
    fixed: tuple[Any, ...]  # org_id, environment, connection_id, created_at, updated_at
    deltas: Deltas  # filled: per account, the sum of its posted amounts per posted date


# records(accounts, fresh): see ``engine._records``
Records = Callable[[Collection[UUID], Fresh | None], Iterator[tuple[Any, ...]]]
AHEAD_CHUNK = 512  # records built between two looks at the statement the database runs


@dataclass
class Counts:
    added: int = 0
    modified: int = 0
    removed: int = 0
    # posted deltas of the accounts COPYed straight into the table, all their rows being
    # those of this read (the balance projection need not read them back)
    deltas: Deltas = field(default_factory=dict)


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


async def _build_while(pending: asyncio.Future[Any], source: Iterator[Any]) -> deque[Any]:
    """Records taken from ``source`` while the database runs ``pending``'s statement."""
    ahead: deque[Any] = deque()
    try:
        while not pending.done():
            chunk = list(itertools.islice(source, AHEAD_CHUNK))
            if not chunk:
                break
            ahead.extend(chunk)
            await asyncio.sleep(0)  # let the connection read the reply and send what follows
    except BaseException:
        await asyncio.wait([pending])  # the statement ends; the transaction rolls back
        raise
    return ahead


def _drain(ahead: deque[Any]) -> Iterator[Any]:
    """``ahead``'s records, each let go as soon as COPY has taken it."""
    while ahead:
        yield ahead.popleft()


async def _copy_fresh(
    apg: Any,
    partition: Partition,
    connection_id: str,
    sizes: Mapping[UUID, int],
    records: Records,
    counts: Counts,
    now: datetime,
) -> None:
    """COPY the items of accounts holding no row yet into ``transactions``, log them ``added``.

    Their ids are made here, so the change-log rows go first, and Python builds records
    while the database appends them; COPY then takes those records and the rest. Nothing is
    visible before commit, and the change-log lock is held, so the order of the two writes
    makes no difference to a reader.
    """
    every = uuid7_hex(sum(sizes.values()))  # ids as text: see ``uuids``
    ids: dict[UUID, Sequence[str]] = {}
    start = 0
    for account, size in sizes.items():
        ids[account] = every[start : start + size]
        start += size
    fresh = Fresh(
        ids=ids,
        fixed=(hex32(partition.org_id), partition.environment, connection_id, now, now),
        deltas=counts.deltas,
    )
    log = await apg.prepare(LOG_ADDED_SQL)  # then one message starts it: no wait below
    logged = asyncio.ensure_future(
        log.fetch(
            list(ids),
            [",".join(chunk) for chunk in ids.values()],
            partition.org_id,
            partition.environment,
            connection_id,
        )
    )
    await asyncio.sleep(0)  # the statement is sent before Python gets busy
    source = records(set(sizes), fresh)
    ahead = await _build_while(logged, source)
    await logged
    status = await apg.copy_records_to_table(
        "transactions",
        records=itertools.chain(_drain(ahead), source),
        columns=["id", *_FIXED, *(name for name, _ in TXN_COLUMNS), "sort_day"],
    )
    if status != f"COPY {len(every)}":  # one row per logged id, or nothing commits
        raise RuntimeError(f"{status} for {len(every)} logged ids")
    counts.added = len(every)


async def write_transactions(
    apg: Any,
    partition: Partition,
    connection_id: str,
    read: Mapping[UUID, int],
    records: Records,
    windows: dict[UUID, date | None],
    now: datetime,
) -> Counts:
    """Merge the items read for the ``read`` accounts and remove what vanished from windows.

    ``read`` maps each account read to its number of items. ``records(accounts, fresh)``
    yields a ``TXN_COLUMNS`` record per item of those accounts (see ``Fresh``). Unchanged items
    are not touched at all: no write, no ``updated_at``, no change row. An account holding no
    transaction yet (its first sync) can only gain: its items are COPYed straight into
    ``transactions`` and logged as ``added``, and their posted deltas are returned in
    ``Counts.deltas``.
    """
    counts = Counts()
    accounts = set(read) | set(windows)
    if not accounts:
        return counts
    stored = {r[0] for r in await apg.fetch(HOLDING_SQL, list(accounts))}
    fresh = {a: n for a, n in read.items() if a not in stored}
    if fresh:
        await _copy_fresh(apg, partition, connection_id, fresh, records, counts, now)
    merged = set(read) & stored
    windows = {a: w for a, w in windows.items() if a in stored}
    if not merged and not windows:
        return counts
    # a fresh name each time: asyncpg caches the table lookup COPY makes, by statement text
    table = f"sync_incoming_{secrets.token_hex(6)}"
    await apg.execute(STAGE_SQL.format(table=table))
    if merged:
        await apg.copy_records_to_table(
            table, records=records(merged, None), columns=[name for name, _ in TXN_COLUMNS]
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
