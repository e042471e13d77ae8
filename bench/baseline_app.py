"""Baseline for ``bench/run``: a bare ASGI app doing the API's lookups with asyncpg.

No framework, no authentication, no ORM, no validation: one primary-key (or keyset) query per
request through an asyncpg pool, and the same JSON body the Waycore API returns. It runs under
the same uvicorn settings as ``waycore serve``, so the ratio of the two throughputs is the cost
of everything Waycore adds on top of the query.

Configuration (environment): ``BENCH_DATABASE_URL`` (plain ``postgresql://`` URL),
``BENCH_ORG_ID`` and ``BENCH_ENVIRONMENT`` (the benchmark key's partition).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

import asyncpg
import uvicorn

Send = Callable[[dict[str, Any]], Awaitable[None]]

CURSOR_KEY = secrets.token_bytes(32)


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _cursor(position: list[Any]) -> str:
    """A signed cursor of the same shape and cost as the API's (payload + truncated HMAC)."""
    payload = json.dumps({"b": "0" * 32, "p": position}, separators=(",", ":")).encode()
    mac = hmac.new(CURSOR_KEY, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")


def entity_out(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "entityId": str(row["id"]),
        "externalEntityId": row["external_entity_id"],
        "name": row["name"],
        "isDefaultOrgEntity": row["is_default"],
        "contactEmails": _json(row["contact_emails"]),
        "metadata": _json(row["metadata"]),
        "createdAt": _ts(row["created_at"]),
        "updatedAt": _ts(row["updated_at"]),
    }


# Constant per deployment, as in the API (catalogue and settings in memory); bench/api.py
# hands them over in BENCH_CONSTANTS: address, permissions, institutions {id: {name, guideUrl}}.
CONSTANTS: dict[str, Any] = json.loads(os.environ.get("BENCH_CONSTANTS") or "{}")
WITH_SETUP = {"draft", "pendingActivation", "reauthRequired"}
NEXT_ACTION = {
    "awaitingDelegatedUserCreation": ("createDelegatedUser", "endUser"),
    "activating": ("waitForActivation", "waycore"),
    "awaitingOperator": ("waitForActivation", "waycore"),
    "awaitingVerificationCode": ("submitVerificationCode", "endUser"),
    "awaitingCredentials": ("submitCredentials", "endUser"),
}


def connection_out(row: asyncpg.Record) -> dict[str, Any]:
    institution = CONSTANTS["institutions"].get(row["institution_id"]) or {}
    setup = None
    if row["status"] in WITH_SETUP and row["setup_status"] is not None:
        action, by = NEXT_ACTION.get(row["setup_status"], ("contactSupport", "integrator"))
        setup = {
            "status": row["setup_status"],
            "instructions": {
                "firstName": "Waycore",
                "lastName": "Service",
                "address": CONSTANTS["address"],
                "email": row["email"],
                "username": row["username"],
                "phoneNumber": row["phone_number"],
                "emailProvisioningStatus": row["email_status"],
                "phoneNumberProvisioningStatus": row["phone_status"],
                "guideUrl": institution.get("guideUrl"),
                "permissions": CONSTANTS["permissions"],
            },
            "credentialsPresent": row["credentials_present"],
            "actionRequiredBy": by,
            "nextAction": action,
        }
    return {
        "id": row["id"],
        "entityId": str(row["entity_id"]),
        "status": row["status"],
        "kind": row["kind"],
        "createdAt": _ts(row["created_at"]),
        "updatedAt": _ts(row["updated_at"]),
        "portalUrl": row["portal_url"],
        "institutionId": row["institution_id"],
        "institutionName": institution.get("name"),
        "metadata": _json(row["metadata"]) or {},
        "setup": setup,
        "syncStatus": row["sync_status"],
        "lastSyncedAt": _ts(row["last_synced_at"]),
        "nextSyncAt": _ts(row["next_sync_at"]),
        "errorCode": row["error_code"],
        "errorMessage": row["error_message"],
    }


def api_key_out(row: asyncpg.Record) -> dict[str, Any]:
    if row["revoked_at"] is not None:
        status = "revoked"
    elif row["expires_at"] <= datetime.now(UTC):
        status = "expired"
    else:
        status = "active"
    return {
        "id": row["id"],
        "name": row["name"],
        "environment": row["environment"],
        "keyPrefix": f"way_{row['environment']}_{row['id']}",
        "scopes": list(row["scopes"]),
        "status": status,
        "createdAt": _ts(row["created_at"]),
        "expiresAt": _ts(row["expires_at"]),
        "lastUsedAt": _ts(row["last_used_at"]),
        "revokedAt": _ts(row["revoked_at"]),
        "createdByKeyId": row["created_by_key_id"],
    }


class Baseline:
    def __init__(self, dsn: str, org_id: UUID, environment: str) -> None:
        self.dsn = dsn
        self.org_id = org_id
        self.environment = environment
        self.pool: asyncpg.Pool | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        query = parse_qs(scope["query_string"].decode())
        try:
            limit = int(query.get("limit", ["100"])[0])
        except ValueError:
            limit = 100
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "connections"] and len(parts) == 3:
            await self._connection(parts[2], send)
        elif parts == ["v1", "entities"]:
            await self._entities(limit, send)
        elif parts[:2] == ["v1", "apiKeys"] and len(parts) == 3:
            await self._api_key(parts[2], send)
        elif parts == ["v1", "apiKeys"]:
            await self._api_keys(limit, send)
        else:
            await _respond(send, 404, {"error": {"code": "not_found"}})

    async def _lifespan(self, receive: Any, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await asyncpg.create_pool(self.dsn, min_size=10, max_size=20)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _connection(self, connection_id: str, send: Send) -> None:
        assert self.pool is not None
        row = await self.pool.fetchrow(
            "select * from connections where id = $1 and org_id = $2 and environment = $3",
            connection_id,
            self.org_id,
            self.environment,
        )
        if row is None:
            await _respond(send, 404, {"error": {"code": "not_found"}})
            return
        await _respond(send, 200, connection_out(row))

    async def _entities(self, limit: int, send: Send) -> None:
        assert self.pool is not None
        rows = await self.pool.fetch(
            "select * from entities where org_id = $1 order by created_at desc, id desc limit $2",
            self.org_id,
            limit + 1,
        )
        await _respond(send, 200, _page(rows, limit, entity_out, ("created_at", "id")))

    async def _api_key(self, key_id: str, send: Send) -> None:
        assert self.pool is not None
        row = await self.pool.fetchrow(
            "select * from api_keys where id = $1 and org_id = $2 and environment = $3",
            key_id,
            self.org_id,
            self.environment,
        )
        if row is None:
            await _respond(send, 404, {"error": {"code": "not_found"}})
            return
        await _respond(send, 200, api_key_out(row))

    async def _api_keys(self, limit: int, send: Send) -> None:
        assert self.pool is not None
        rows = await self.pool.fetch(
            "select * from api_keys where org_id = $1 and environment = $2 "
            "order by created_at desc, id desc limit $3",
            self.org_id,
            self.environment,
            limit + 1,
        )
        await _respond(send, 200, _page(rows, limit, api_key_out, ("created_at", "id")))


def _page(
    rows: list[asyncpg.Record],
    limit: int,
    to_out: Callable[[asyncpg.Record], dict[str, Any]],
    order: tuple[str, str],
) -> dict[str, Any]:
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more:
        last = rows[-1]
        next_cursor = _cursor([{"t": last[order[0]].isoformat()}, str(last[order[1]])])
    return {
        "data": [to_out(r) for r in rows],
        "pagination": {"hasMore": has_more, "nextCursor": next_cursor},
        "meta": {"requestId": "req_" + secrets.token_hex(12)},
    }


async def _respond(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = Baseline(
        os.environ["BENCH_DATABASE_URL"],
        UUID(os.environ["BENCH_ORG_ID"]),
        os.environ["BENCH_ENVIRONMENT"],
    )
    # the same server settings as `waycore serve`
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
