"""The single-connection read: one statement, one round trip, no transaction, no ORM.

``GET /v1/connections/{connectionId}`` is the API's busiest call. The ORM path (session,
identity map, statement compiled per call) cost more CPU than everything else on the route;
here the lookup is one SQL statement assembled once from the model's own table and column
names, sent on a pooled connection through the driver (prepared statements are cached per
connection), and the row comes back as a plain :class:`ConnectionRow` that ``present``
reads like the mapped class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from waycore.db import driver_fetchrow
from waycore.domain.connections.models import Connection
from waycore.domain.partition import Partition
from waycore.errors import NotFound


@dataclass(slots=True, frozen=True)
class ConnectionRow:
    """A connection row, read-only, with the mapped class's attribute names."""

    id: str
    org_id: UUID
    environment: str
    entity_id: UUID
    institution_id: str | None
    portal_url: str
    status: str
    kind: str
    setup_status: str | None
    error_code: str | None
    error_message: str | None
    metadata_: dict[str, Any]
    credentials_present: bool
    sync_status: str
    current_sync_id: UUID | None
    last_synced_at: datetime | None
    next_sync_at: datetime | None
    username: str | None
    email: str | None
    phone_number: str | None
    email_status: str
    phone_status: str
    created_at: datetime
    updated_at: datetime
    revoked_at: datetime | None


def _select_list() -> str:
    """The row's columns in :class:`ConnectionRow`'s field order (checked against the model,
    so a new column cannot be forgotten here)."""
    by_key = {prop.key: prop.columns[0].name for prop in Connection.__mapper__.column_attrs}
    names = [f.name for f in fields(ConnectionRow)]
    if sorted(names) != sorted(by_key):
        raise RuntimeError("ConnectionRow's fields differ from the connections model's columns")
    return ", ".join(f'"{by_key[name]}"' for name in names)


_TABLE = Connection.__tablename__
_METADATA = [f.name for f in fields(ConnectionRow)].index("metadata_")
GET_SQL = (
    f"select {_select_list()} from {_TABLE} "  # noqa: S608 (names from the model)
    "where id = $1 and org_id = $2 and environment = $3"
)


async def read_connection(
    engine: AsyncEngine, partition: Partition, connection_id: str
) -> ConnectionRow:
    """The connection with this id in the partition, else ``NotFound``."""
    record = await driver_fetchrow(
        engine, GET_SQL, connection_id, partition.org_id, partition.environment
    )
    if record is None:
        raise NotFound("Connection not found.")
    values = list(record)
    if isinstance(values[_METADATA], str | bytes):  # no jsonb codec on this connection
        values[_METADATA] = json.loads(values[_METADATA])
    return ConnectionRow(*values)
