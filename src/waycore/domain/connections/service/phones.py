"""The phone-number pool (``WAYCORE_PHONE_POOL``): parse, lease race-free, release.

A number is leased to one connection at a time across the whole deployment (an SMS must route
to exactly one connection); the ``phone_leases`` primary key makes two leases of one number
impossible, and ``on conflict do nothing`` turns a lost race into another try.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
MAX_ATTEMPTS = 20


@lru_cache(maxsize=8)
def parse_pool(spec: str) -> tuple[str, ...]:
    """Comma-separated E.164 numbers and ranges ``+12015550100-+12015550199``, in order."""
    numbers: list[str] = []
    seen: set[str] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        first, sep, last = part.partition("-")
        first, last = first.strip(), (last.strip() if sep else first.strip())
        if not E164.fullmatch(first) or not E164.fullmatch(last) or len(first) != len(last):
            raise ValueError(f"invalid phone pool entry {part!r}")
        low, high = int(first[1:]), int(last[1:])
        if high < low:
            raise ValueError(f"empty phone pool range {part!r}")
        for value in range(low, high + 1):
            number = f"+{value}"
            if number not in seen:
                seen.add(number)
                numbers.append(number)
    return tuple(numbers)


_LEASE = text(
    "insert into phone_leases (number, connection_id, leased_at) "
    "select n, :cid, now() from unnest(cast(:pool as text[])) as n "
    "where not exists (select 1 from phone_leases l where l.number = n) "
    "order by random() limit 1 "
    "on conflict do nothing returning number"
)
_ANY_FREE = text(
    "select exists (select 1 from unnest(cast(:pool as text[])) as n "
    "where not exists (select 1 from phone_leases l where l.number = n))"
)


async def lease(session: AsyncSession, pool_spec: str, connection_id: str) -> str | None:
    """A free pool number now leased to ``connection_id``, or ``None`` when the pool is used up."""
    pool = list(parse_pool(pool_spec))
    if not pool:
        return None
    for _ in range(MAX_ATTEMPTS):
        got = (await session.execute(_LEASE, {"pool": pool, "cid": connection_id})).scalar()
        if got is not None:
            return str(got)
        if not (await session.execute(_ANY_FREE, {"pool": pool})).scalar():
            return None
    return None


async def release(session: AsyncSession, connection_id: str) -> None:
    await session.execute(
        text("delete from phone_leases where connection_id = :cid"), {"cid": connection_id}
    )
