"""Statement files a sync downloaded: which ones are stored, and storing new ones.

Statements ride on every sync (DESIGN.md section 5: "statements not yet stored", in the same
bank session, after the transactions), so there is no separate download job: ``stored_keys``
tells the connector what to skip, and ``insert_statements`` runs inside ``apply_snapshot``'s
transaction. A file is keyed by (account, period start, period end, format); storing the same
key again is a no-op, so a retried or repeated sync adds nothing and emits nothing. Each new
row gets one ``statement.available`` event in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from waycore.connectors.base import BankStatement
from waycore.connectors.protocol import StatementKey
from waycore.domain.events.service import record_event
from waycore.domain.partition import Partition

CONTENT_TYPES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}

_STORED_SQL = text(
    """
    select a.bank_id, s.period_start, s.period_end, s.format
    from statements s join accounts a on a.id = s.account_id
    where s.connection_id = :cid
    """
)

_INSERT_SQL = """
insert into statements (org_id, environment, connection_id, account_id, period_start,
    period_end, format, content_type, size_bytes, sha256, content, created_at)
select $1, $2, $3, u.account_id, u.period_start, u.period_end, u.format, u.content_type,
       u.size_bytes, u.sha256, u.content, $4
from unnest($5::uuid[], $6::date[], $7::date[], $8::text[], $9::text[], $10::int[],
            $11::text[], $12::bytea[])
     as u(account_id, period_start, period_end, format, content_type, size_bytes, sha256,
          content)
on conflict (account_id, period_start, period_end, format) do nothing
returning id, account_id
"""


async def stored_keys(
    conn: AsyncConnection | AsyncSession, connection_id: str
) -> dict[str, set[StatementKey]]:
    """The stored statements of the connection, by account ``bank_id``."""
    rows = (await conn.execute(_STORED_SQL, {"cid": connection_id})).all()
    found: dict[str, set[StatementKey]] = {}
    for bank_id, start, end, fmt in rows:
        found.setdefault(bank_id, set()).add((start, end, fmt))
    return found


async def insert_statements(
    apg: Any,
    session: AsyncSession,
    partition: Partition,
    connection_id: str,
    account_ids: Mapping[str, UUID],
    files: Sequence[BankStatement],
    now: datetime,
) -> list[UUID]:
    """Store the files not stored yet (inside the caller's transaction); one
    ``statement.available`` per new row. Returns the new statement ids."""
    if not files:
        return []
    unknown = sorted({f.account_bank_id for f in files} - set(account_ids))
    if unknown:
        raise ValueError(f"statements for unknown accounts: {unknown}")
    rows = await apg.fetch(
        _INSERT_SQL,
        partition.org_id,
        partition.environment,
        connection_id,
        now,
        [account_ids[f.account_bank_id] for f in files],
        [f.period_start for f in files],
        [f.period_end for f in files],
        [f.format for f in files],
        [CONTENT_TYPES[f.format] for f in files],
        [len(f.content) for f in files],
        [f.sha256 for f in files],
        [f.content for f in files],
    )
    for row in rows:
        await record_event(
            session,
            partition,
            "statement.available",
            {
                "statementId": str(row["id"]),
                "accountId": str(row["account_id"]),
                "connectionId": connection_id,
            },
        )
    return [row["id"] for row in rows]
