"""Helpers shared by the connection API tests: direct database reads and state set-up."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from tests.api.conftest import TestKey


async def create(client: httpx.AsyncClient, key: TestKey, **body: Any) -> httpx.Response:
    return await client.post("/v1/connections", headers=key.headers, json=body)


async def new_connection(client: httpx.AsyncClient, key: TestKey, **body: Any) -> dict[str, Any]:
    body = body or {"institutionId": "sandbox_bank"}
    response = await create(client, key, **body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def sql(app: FastAPI, statement: str, **params: Any) -> list[Any]:
    async with app.state.engine.begin() as conn:
        result = await conn.execute(text(statement), params)
        return list(result.all()) if result.returns_rows else []


async def force_state(app: FastAPI, connection_id: str, **values: Any) -> None:
    """Put a connection in a state only the (future) activation worker reaches."""
    sets = ", ".join(f"{name} = :{name}" for name in values)
    await sql(app, f"update connections set {sets} where id = :cid", cid=connection_id, **values)


async def jobs(app: FastAPI, connection_id: str) -> list[tuple[str, str, str]]:
    rows = await sql(
        app,
        "select task_name, status::text, queue_name from procrastinate_jobs "
        "where lock = :cid order by id",
        cid=connection_id,
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def status_events(app: FastAPI, connection_id: str) -> list[dict[str, Any]]:
    rows = await sql(
        app,
        "select data from events where type = 'connection.status_changed' "
        "and data->>'connectionId' = :cid order by created_at, id",
        cid=connection_id,
    )
    return [r[0] for r in rows]


async def audit_actions(app: FastAPI, connection_id: str) -> list[str]:
    rows = await sql(
        app,
        "select action from audit_log where resource_id = :cid order by id",
        cid=connection_id,
    )
    return [r[0] for r in rows]
