"""Accounts of one connection: upserted in one statement, with their events.

``account.created`` for an account seen for the first time; ``account.updated`` when its
``name``, ``officialName``, ``type`` or ``status`` changed (balances and numbers update the row
silently); an account the portal no longer shows becomes ``closed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from waycore.connectors.base import BankAccount, BankBalance
from waycore.ids import uuid7

COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "uuid"),
    ("bank_id", "text"),
    ("type", "text"),
    ("currency", "text"),
    ("name", "text"),
    ("status", "text"),
    ("official_name", "text"),
    ("masked_number", "text"),
    ("account_number", "text"),
    ("routing_number", "text"),
    ("swift_bic", "text"),
    ("iban", "text"),
    ("current_balance", "numeric"),
    ("available_balance", "numeric"),
    ("balance_as_of", "timestamptz"),
    ("permissions", "text"),  # comma-joined: unnest of a 2-D array would flatten it
)
_N = len(COLUMNS)
_DATA = [n for n, _ in COLUMNS[2:]]
EVENT_FIELDS = ("name", "official_name", "type", "status")


def _sql() -> str:
    arrays = ", ".join(f"${i + 1}::{kind}[]" for i, (_, kind) in enumerate(COLUMNS))
    names = [n for n, _ in COLUMNS]
    select = ", ".join(
        "string_to_array(i.permissions, ',')" if n == "permissions" else f"i.{n}" for n in names
    )
    org, env, conn, entity, now = (f"${_N + k}" for k in range(1, 6))
    sets = ", ".join(f"{c} = excluded.{c}" for c in _DATA)
    old = ", ".join(f"a.{c}" for c in _DATA)
    new = ", ".join(f"excluded.{c}" for c in _DATA)
    return f"""
    insert into accounts as a
        (org_id, environment, connection_id, entity_id, created_at, updated_at, {", ".join(names)})
    select {org}, {env}, {conn}, {entity}, {now}, {now}, {select}
    from unnest({arrays}) as i({", ".join(names)})
    on conflict (connection_id, bank_id) do update set {sets}, updated_at = {now}
        where ({old}) is distinct from ({new})
    """  # noqa: S608 - only the column constants are interpolated


UPSERT_SQL = _sql()
EXISTING_SQL = (
    "select id, bank_id, name, official_name, type, status, currency from accounts "
    "where connection_id = $1"
)
CLOSE_SQL = """
update accounts set status = 'closed', updated_at = $2
where connection_id = $1 and status <> 'closed' and not (bank_id = any($3::text[]))
returning id
"""


@dataclass(frozen=True)
class AccountChanges:
    ids: dict[str, UUID]  # bank_id -> id, every account of the connection
    currencies: dict[str, str]  # bank_id -> currency
    created: list[UUID]
    updated: list[UUID]


def _balance_of(
    account: BankAccount, reading: BankBalance | None, now: datetime
) -> tuple[Decimal | None, Decimal | None, datetime | None]:
    if reading is not None:
        return reading.ledger, reading.available, reading.as_of
    if account.current_balance is None and account.available_balance is None:
        return None, None, None
    return account.current_balance, account.available_balance, now


async def upsert_accounts(
    apg: Any,
    *,
    org_id: UUID,
    environment: str,
    connection_id: str,
    entity_id: UUID,
    accounts: Sequence[BankAccount],
    readings: dict[str, BankBalance],
    now: datetime,
) -> AccountChanges:
    existing = {r["bank_id"]: r for r in await apg.fetch(EXISTING_SQL, connection_id)}
    ids = {bank_id: r["id"] for bank_id, r in existing.items()}
    currencies = {bank_id: r["currency"] for bank_id, r in existing.items()}
    created: list[UUID] = []
    updated: list[UUID] = []
    columns: list[list[Any]] = [[] for _ in COLUMNS]
    for account in accounts:
        if account.bank_id in ids and account.bank_id not in existing:
            raise ValueError(f"account {account.bank_id!r} listed twice")
        old = existing.pop(account.bank_id, None)
        if old is None:
            account_id = uuid7()
            created.append(account_id)
        else:
            account_id = old["id"]
            if any(old[f] != getattr(account, f) for f in EVENT_FIELDS):
                updated.append(account_id)
        ids[account.bank_id] = account_id
        currencies[account.bank_id] = account.currency
        ledger, available, as_of = _balance_of(account, readings.get(account.bank_id), now)
        row = (
            account_id,
            account.bank_id,
            account.type,
            account.currency,
            account.name,
            account.status,
            account.official_name,
            account.masked_number,
            account.account_number,
            account.routing_number,
            account.swift_bic,
            account.iban,
            ledger,
            available,
            as_of,
            ",".join(sorted(account.permissions)),
        )
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    if accounts:
        await apg.execute(UPSERT_SQL, *columns, org_id, environment, connection_id, entity_id, now)
    closed = await apg.fetch(CLOSE_SQL, connection_id, now, [a.bank_id for a in accounts])
    updated.extend(r["id"] for r in closed)
    return AccountChanges(ids=ids, currencies=currencies, created=created, updated=updated)
