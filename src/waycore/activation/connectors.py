"""The connector for a connection, and the operator cases opened when there is none."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from waycore.activation.runtime import Runtime
from waycore.activation.vault import ConnectionInfo
from waycore.connectors.base import UnknownPage
from waycore.connectors.protocol import Connector


def connector_for(rt: Runtime, connection: ConnectionInfo) -> Connector | None:
    """The connector of the connection's institution, or None (no catalogue entry, no
    connector for it): the connection then waits for an operator."""
    if connection.institution_id is None:
        return None
    from waycore.connectors import registry

    return registry.connector_for(connection.institution_id)


async def open_case(
    rt: Runtime,
    connection: ConnectionInfo,
    reason: str,
    *,
    error_code: str | None = None,
    page_url: str | None = None,
    snapshot_path: Path | str | None = None,
) -> None:
    """Record why the connection needs a person (``waycore ops list`` shows it)."""
    async with rt.engine.begin() as conn:
        await conn.execute(
            text(
                "insert into operator_cases (connection_id, org_id, environment, reason, "
                "error_code, page_url, snapshot_path) "
                "values (:cid, :org, :env, :reason, :code, :url, :path)"
            ),
            {
                "cid": connection.id,
                "org": connection.org_id,
                "env": connection.environment,
                "reason": reason,
                "code": error_code,
                "url": page_url,
                "path": None if snapshot_path is None else str(snapshot_path),
            },
        )


async def open_case_if_portal_changed(
    rt: Runtime, connection: ConnectionInfo, exc: BaseException, error_code: str
) -> None:
    """An ``UnknownPage`` opens a ``portal_changed`` case with the page and its snapshot."""
    if isinstance(exc, UnknownPage):
        await open_case(
            rt,
            connection,
            "portal_changed",
            error_code=error_code,
            page_url=exc.url,
            snapshot_path=exc.snapshot_path,
        )
