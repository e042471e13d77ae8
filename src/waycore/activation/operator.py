"""The operator queue: connections waiting for a person (``awaitingOperator``).

``list_open`` shows them with their open cases (reason, page URL, snapshot path);
``resolve`` puts one back to work: ``--handled`` starts a new activation attempt, ``--code``
also hands the attempt a one-time code (sealed like the API's ``PUT …/verificationCode``).
Each resolution closes the connection's open cases and writes an audit row.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.audit.service import Actor, current_actor
from waycore.domain.common import utcnow
from waycore.domain.connections.service.common import audit, get_for_update
from waycore.domain.connections.service.setup import field_aad, start_activation
from waycore.domain.partition import Partition
from waycore.errors import InvalidState
from waycore.vault.datakeys import encrypt_for_org
from waycore.vault.keyring import Keyring


@dataclass(frozen=True)
class OpenCase:
    connection_id: str
    environment: str
    institution_id: str | None
    portal_url: str
    reason: str
    error_code: str | None
    page_url: str | None
    snapshot_path: str | None
    created_at: datetime


_LIST_SQL = text(
    """
    select c.id, c.environment, c.institution_id, c.portal_url,
           coalesce(o.reason, 'unknown') as reason, o.error_code, o.page_url, o.snapshot_path,
           coalesce(o.created_at, c.updated_at) as created_at
    from connections c
    left join lateral (
        select * from operator_cases oc
        where oc.connection_id = c.id and oc.resolved_at is null
        order by oc.created_at desc limit 1
    ) o on true
    where c.setup_status = 'awaitingOperator'
      and c.status in ('pendingActivation', 'reauthRequired')
    order by created_at, c.id
    """
)


async def list_open(session: AsyncSession) -> list[OpenCase]:
    async with session.begin():
        rows = (await session.execute(_LIST_SQL)).all()
    return [OpenCase(*row) for row in rows]


async def resolve(
    session: AsyncSession, keyring: Keyring, connection_id: str, *, code: str | None
) -> str:
    """Start a new activation attempt for a connection in ``awaitingOperator``."""
    token = current_actor.set(Actor(f"operator:{getpass.getuser()}"))
    try:
        async with session.begin():
            row = (
                await session.execute(
                    text("select org_id, environment from connections where id = :cid"),
                    {"cid": connection_id},
                )
            ).first()
            if row is None:
                raise InvalidState("No such connection.")
            partition = Partition(org_id=row[0], environment=row[1])
            connection = await get_for_update(session, partition, connection_id)
            if connection.setup_status != "awaitingOperator" or connection.status not in (
                "pendingActivation",
                "reauthRequired",
            ):
                raise InvalidState(
                    "The connection is not waiting for an operator.",
                    current_status=connection.setup_status or connection.status,
                    allowed_statuses=["awaitingOperator"],
                )
            if code is not None:
                sealed = await encrypt_for_org(
                    session,
                    keyring,
                    connection.org_id,
                    code,
                    field_aad(connection.id, "verification_code"),
                )
                await session.execute(
                    text(
                        "update connection_credentials set verification_code = :v, "
                        "verification_code_at = :at where connection_id = :cid"
                    ),
                    {"v": sealed, "at": utcnow(), "cid": connection.id},
                )
            resolution = "code" if code is not None else "handled"
            await session.execute(
                text(
                    "update operator_cases set resolved_at = now(), resolution = :r "
                    "where connection_id = :cid and resolved_at is null"
                ),
                {"r": resolution, "cid": connection.id},
            )
            connection.error_code = None
            connection.error_message = None
            await start_activation(session, partition, connection)
            await audit(
                session,
                partition,
                "connection.operatorResolve",
                connection.id,
                {"resolution": resolution},
            )
    finally:
        current_actor.reset(token)
    return resolution
