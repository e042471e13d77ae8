"""``Idempotency-Key`` for every POST, stored in PostgreSQL (API.md section 4.2)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from waycore.domain.common import utcnow
from waycore.domain.partition import Partition
from waycore.errors import IdempotencyKeyInUse, IdempotencyKeyReused, ValidationFailed

RETENTION = timedelta(hours=24)
STORED_STATUSES = frozenset({200, 201, 202, 204, 404, 409})


@dataclass(frozen=True)
class Reservation:
    partition: Partition
    key: str


class Replay(Exception):
    """The request repeats a finished one: answer with the stored response."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body


def check_header(value: str) -> str:
    if (
        not (1 <= len(value) <= 255)
        or value != value.strip()
        or not all(0x20 <= ord(c) <= 0x7E for c in value)
    ):
        raise ValidationFailed.single(
            "header.Idempotency-Key", "must be 1-255 printable ASCII characters"
        )
    return value


def fingerprint(method: str, path: str, raw_body: bytes) -> str:
    try:
        parsed = json.loads(raw_body) if raw_body.strip() else {}
        canonical = json.dumps(parsed, sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = raw_body.decode("utf-8", "replace")
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


async def reserve(engine: AsyncEngine, partition: Partition, key: str, print_: str) -> Reservation:
    """Claim the key, or raise Replay / the idempotency 409s."""
    params = {"o": partition.org_id, "v": partition.environment, "k": key, "f": print_}
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "delete from idempotency_keys where org_id=:o and environment=:v and key=:k "
                "and created_at < :cutoff"
            ),
            {**params, "cutoff": utcnow() - RETENTION},
        )
        inserted = (
            await conn.execute(
                text(
                    "insert into idempotency_keys (org_id, environment, key, fingerprint, state) "
                    "values (:o, :v, :k, :f, 'running') on conflict do nothing returning key"
                ),
                params,
            )
        ).first()
        if inserted is not None:
            return Reservation(partition, key)
        row = (
            await conn.execute(
                text(
                    "select fingerprint, state, response_status, response_body "
                    "from idempotency_keys where org_id=:o and environment=:v and key=:k"
                ),
                params,
            )
        ).first()
    if row is None:  # finished and deleted between our statements: claim again
        return await reserve(engine, partition, key, print_)
    if row.fingerprint != print_:
        raise IdempotencyKeyReused()
    if row.state == "running":
        exc = IdempotencyKeyInUse()
        exc.headers = {"Retry-After": "1"}
        raise exc
    raise Replay(int(row.response_status), bytes(row.response_body))


async def finish(engine: AsyncEngine, reservation: Reservation, status: int, body: bytes) -> None:
    params = {
        "o": reservation.partition.org_id,
        "v": reservation.partition.environment,
        "k": reservation.key,
    }
    async with engine.begin() as conn:
        if status in STORED_STATUSES:
            await conn.execute(
                text(
                    "update idempotency_keys set state='done', response_status=:s, "
                    "response_body=:b where org_id=:o and environment=:v and key=:k"
                ),
                {**params, "s": status, "b": body},
            )
        else:
            await conn.execute(
                text("delete from idempotency_keys where org_id=:o and environment=:v and key=:k"),
                params,
            )
