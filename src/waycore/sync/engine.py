"""Apply what a connector read to the database, in one transaction (DESIGN.md section 5).

``apply_snapshot`` is the whole write side of a successful sync: accounts (with
``account.created`` / ``account.updated``), transactions by stable identity (see
``identity``), the change log, daily balances, new statement files (with
``statement.available``, see ``statements``), the connection's sync fields, the sync job's
counts and exactly one ``transactions.sync_available`` event, all committed together.
Applying the same snapshot twice changes nothing and appends nothing (but still reports one
successful sync, with zero counts). ``record_sync_failure`` is the write side of a failed one.
"""

from __future__ import annotations

import decimal
import random
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from waycore.connectors.base import (
    BankAccount,
    BankBalance,
    BankStatement,
    BankTransaction,
    error_code,
)
from waycore.domain.common import utcnow
from waycore.domain.events.service import record_event
from waycore.domain.partition import Partition
from waycore.sync import balances as balance_rows
from waycore.sync import store
from waycore.sync.accounts import upsert_accounts
from waycore.sync.identity import assign_identities
from waycore.sync.statements import insert_statements
from waycore.sync.uuids import hex32

DEFAULT_INTERVAL = timedelta(hours=6)
JITTER = 0.1  # next sync at interval ± 10 %
Window = date | Mapping[str, date | None] | None
# sums of amounts, exact whatever their digits (as SQL's sum over numeric)
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


class SyncAborted(Exception):
    """The connection cannot take this sync's results (unknown or revoked)."""


@dataclass(frozen=True)
class SyncResult:
    connection_id: str
    added: int
    modified: int
    removed: int
    accounts_created: list[UUID]
    accounts_updated: list[UUID]
    balance_rows: int
    event_id: str
    statements: list[UUID] = field(default_factory=list)


CONNECTION_SQL = """
select id, org_id, environment, entity_id, status from connections where id = $1 for update
"""
_SYNC_FIELDS = """
    sync_status = case when current_sync_id is null or current_sync_id = $6::uuid
                       then 'idle' else sync_status end,
    current_sync_id = case when current_sync_id = $6::uuid then null else current_sync_id end,
"""
CONNECTION_DONE_SQL = f"""
update connections set {_SYNC_FIELDS}
    next_sync_at = case when status in ('paused', 'revoked') then null else $3::timestamptz end,
    last_synced_at = $2, error_code = $4, error_message = $5, updated_at = $2
where id = $1
returning org_id, environment
"""  # noqa: S608 - a constant fragment
# after a failure only a running connection keeps a schedule (API.md: ``nextSyncAt`` is null
# unless ``active`` or ``errored``); the caller's state transition may clear it further
CONNECTION_FAILED_SQL = f"""
update connections set {_SYNC_FIELDS}
    next_sync_at = case when status in ('active', 'errored') then $3::timestamptz end,
    error_code = $4, error_message = $5, updated_at = $2
where id = $1
returning org_id, environment
"""  # noqa: S608 - a constant fragment
JOB_SQL = """
insert into sync_jobs as j (id, connection_id, org_id, environment, trigger, status, accounts,
    added, modified, removed, error_code, error_message, created_at, started_at, finished_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13)
on conflict (id) do update set status = excluded.status, accounts = excluded.accounts,
    added = excluded.added, modified = excluded.modified, removed = excluded.removed,
    error_code = excluded.error_code, error_message = excluded.error_message,
    started_at = coalesce(j.started_at, excluded.started_at), finished_at = excluded.finished_at
"""


def next_sync_at(now: datetime, interval: timedelta = DEFAULT_INTERVAL) -> datetime:
    spread = interval.total_seconds() * JITTER
    return now + interval + timedelta(seconds=random.uniform(-spread, spread))


async def _lock_connection(apg: Any, connection_id: str) -> Any:
    row = await apg.fetchrow(CONNECTION_SQL, connection_id)
    if row is None:
        raise SyncAborted(f"connection {connection_id} not found")
    if row["status"] == "revoked":
        raise SyncAborted(f"connection {connection_id} is revoked")
    return row


def _windows(window: Window, bank_ids: Sequence[str]) -> dict[str, date | None]:
    if isinstance(window, Mapping):
        return {b: window.get(b) for b in bank_ids}
    return dict.fromkeys(bank_ids, window)


def _records(
    transactions_by_account: Mapping[str, Sequence[BankTransaction]],
    ids: dict[str, UUID],
    currencies: dict[str, str],
    outside: dict[UUID, set[str]],
    accounts: Collection[UUID],
    fresh: store.Fresh | None = None,
) -> Iterator[tuple[Any, ...]]:
    """One record per item read (``store.TXN_COLUMNS`` order) for ``accounts``.

    With ``fresh`` (rows COPYed straight into ``transactions``), each record starts with the
    item's id and the fixed columns and ends with its ``sort_day`` (``store.sort_day``), and
    the posted deltas of each account are summed into ``fresh.deltas``. A generator: COPY
    sends each batch while the next is built, so the database works while Python assigns
    identities.
    """
    add = _EXACT.add
    epoch, pending = store.EPOCH_ORDINAL, store.PENDING_SORT_DAY
    for bank_id, items in transactions_by_account.items():
        account_id = ids[bank_id]
        if account_id not in accounts:
            continue
        currency = currencies[bank_id]
        identities = assign_identities(str(account_id), items, outside.get(account_id, ()))
        key = hex32(account_id)  # see ``uuids``: no object the GC must track
        for txn in items:
            if txn.account_bank_id != bank_id:
                raise ValueError(f"transaction of {txn.account_bank_id!r} under {bank_id!r}")
        if fresh is None:
            for txn, (kind, identity) in zip(items, identities, strict=True):
                yield (
                    key,
                    kind,
                    identity,
                    txn.status,
                    txn.posted_date,
                    txn.transaction_date,
                    txn.amount,
                    currency,
                    " ".join(txn.description.split()),  # identity.collapse, inlined
                    txn.description,
                    txn.rail,
                    txn.customer_reference,
                    txn.bank_reference,
                    txn.bai_code,
                    txn.category,
                    txn.subcategory,
                    txn.mcc,
                    txn.merchant_name,
                    txn.counterparty_name,
                    txn.counterparty_account_masked,
                    txn.running_balance,
                )
            continue
        # the same record after the id and the fixed columns, as one flat tuple (this loop
        # runs once per row of a first sync: no unpacking of a prefix tuple)
        org, environment, connection, created, updated = fresh.fixed
        days: dict[date, Decimal] = {}
        fresh.deltas[account_id] = days
        txn_ids = fresh.ids[account_id]
        for txn, (kind, identity), txn_id in zip(items, identities, txn_ids, strict=True):
            day = txn.posted_date
            if day is None:
                sort_day = pending  # store.sort_day, inlined
            else:
                sort_day = day.toordinal() - epoch
                if txn.status == "posted":
                    days[day] = add(days[day], txn.amount) if day in days else txn.amount
            yield (
                txn_id,
                org,
                environment,
                connection,
                created,
                updated,
                key,
                kind,
                identity,
                txn.status,
                day,
                txn.transaction_date,
                txn.amount,
                currency,
                " ".join(txn.description.split()),  # identity.collapse, inlined
                txn.description,
                txn.rail,
                txn.customer_reference,
                txn.bank_reference,
                txn.bai_code,
                txn.category,
                txn.subcategory,
                txn.mcc,
                txn.merchant_name,
                txn.counterparty_name,
                txn.counterparty_account_masked,
                txn.running_balance,
                sort_day,
            )


async def apply_snapshot(
    session: AsyncSession,
    connection_id: str,
    accounts: Sequence[BankAccount],
    transactions_by_account: Mapping[str, Sequence[BankTransaction]],
    balances: Sequence[BankBalance] = (),
    *,
    statements: Sequence[BankStatement] = (),
    window: Window = None,
    sync_id: UUID | None = None,
    trigger: str = "scheduled",
    interval: timedelta = DEFAULT_INTERVAL,
    now: datetime | None = None,
) -> SyncResult:
    """Store one successful read of a connection; everything commits together.

    ``accounts`` is every account the portal lists (missing ones become ``closed``);
    ``transactions_by_account`` maps an account's ``bank_id`` to every item read for it, in
    portal order. ``window`` says what the read covered, per account or for all: ``None``
    (full history) or the first date read; stored items of a read account that fall in its
    window (pending ones always do) and were not read are ``removed``. Accounts absent from
    ``transactions_by_account`` keep their transactions untouched. ``statements``: files read
    in this sync; those not stored yet are added (keyed by account, period and format).
    """
    now = now or utcnow()
    async with session.begin():
        apg = await store.driver(session)
        conn = await _lock_connection(apg, connection_id)
        partition = Partition(org_id=conn["org_id"], environment=conn["environment"])
        readings = {b.account_bank_id: b for b in balances}
        changes = await upsert_accounts(
            apg,
            org_id=partition.org_id,
            environment=partition.environment,
            connection_id=connection_id,
            entity_id=conn["entity_id"],
            accounts=accounts,
            readings=readings,
            now=now,
        )
        unknown = sorted(set(transactions_by_account) - set(changes.ids))
        if unknown:
            raise ValueError(f"transactions for unknown accounts: {unknown}")
        windows = {
            changes.ids[b]: start
            for b, start in _windows(window, list(transactions_by_account)).items()
        }
        references = {
            changes.ids[b]: {t.bank_reference for t in items if t.bank_reference}
            for b, items in transactions_by_account.items()
        }
        outside = await store.references_outside(apg, windows, references)
        read = {changes.ids[b]: len(items) for b, items in transactions_by_account.items() if items}

        def records(accounts: Collection[UUID], fresh: store.Fresh | None) -> Iterator[Any]:
            return _records(
                transactions_by_account,
                changes.ids,
                changes.currencies,
                outside,
                accounts,
                fresh,
            )

        await store.lock_change_log(apg, partition)
        counts = await store.write_transactions(
            apg, partition, connection_id, read, records, windows, now
        )
        latest = balance_rows.anchors(balances, changes.ids)
        projected = await balance_rows.project(apg, partition, latest, now, counts.deltas)

        await apg.execute(
            CONNECTION_DONE_SQL,
            connection_id,
            now,
            next_sync_at(now, interval),
            None,
            None,
            sync_id,
        )
        if sync_id is not None:
            await apg.execute(
                JOB_SQL,
                sync_id,
                connection_id,
                partition.org_id,
                partition.environment,
                trigger,
                "succeeded",
                len(accounts),
                counts.added,
                counts.modified,
                counts.removed,
                None,
                None,
                now,
            )
        entity = str(conn["entity_id"])
        for kind, account_ids in (
            ("account.created", changes.created),
            ("account.updated", changes.updated),
        ):
            for account_id in account_ids:
                await record_event(
                    session,
                    partition,
                    kind,
                    {
                        "accountId": str(account_id),
                        "connectionId": connection_id,
                        "entityId": entity,
                    },
                )
        stored = await insert_statements(
            apg, session, partition, connection_id, changes.ids, statements, now
        )
        event = await record_event(
            session,
            partition,
            "transactions.sync_available",
            {
                "connectionId": connection_id,
                "accountId": None,
                "added": counts.added,
                "modified": counts.modified,
                "removed": counts.removed,
            },
        )
    return SyncResult(
        connection_id=connection_id,
        added=counts.added,
        modified=counts.modified,
        removed=counts.removed,
        accounts_created=changes.created,
        accounts_updated=changes.updated,
        balance_rows=projected,
        event_id=event.id,
        statements=stored,
    )


async def record_sync_failure(
    session: AsyncSession,
    connection_id: str,
    error: BaseException | str,
    *,
    trigger: str,
    sync_id: UUID | None = None,
    message: str | None = None,
    interval: timedelta = DEFAULT_INTERVAL,
    now: datetime | None = None,
) -> str | None:
    """Record a failed sync: connection ``errorCode``/``errorMessage``, the job, ``sync.failed``.

    ``error`` is a connector exception (mapped by ``connectors.base.ERROR_CODES``) or an API.md
    connection error code. The connection's ``status`` is left to the caller (the state
    machine of API.md section 8.3). Returns the event id, or None for an unknown connection.
    """
    now = now or utcnow()
    if isinstance(error, str):
        code, text = error, message or error.replace("_", " ")
    else:
        code = error_code(error)
        text = message or getattr(error, "message", None) or "Sync failed."
    async with session.begin():
        apg = await store.driver(session)
        row = await apg.fetchrow(
            CONNECTION_FAILED_SQL,
            connection_id,
            now,
            next_sync_at(now, interval),
            code,
            text,
            sync_id,
        )
        if row is None:
            return None
        partition = Partition(org_id=row["org_id"], environment=row["environment"])
        if sync_id is not None:
            await apg.execute(
                JOB_SQL,
                sync_id,
                connection_id,
                partition.org_id,
                partition.environment,
                trigger,
                "failed",
                0,
                0,
                0,
                0,
                code,
                text,
                now,
            )
        event = await record_event(
            session,
            partition,
            "sync.failed",
            {
                "connectionId": connection_id,
                "syncId": None if sync_id is None else str(sync_id),
                "trigger": trigger,
                "errorCode": code,
                "errorMessage": text,
            },
        )
    return event.id
