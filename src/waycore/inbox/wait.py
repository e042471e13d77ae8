"""Reading codes and temporary passwords from the inbox, waiting for them when needed.

A waiter LISTENs on ``waycore_inbox`` (one pooled connection, no transaction open, so
notifications arrive as soon as a message commits), then looks; each notification for its
connection makes it look again. A poll every ``POLL_INTERVAL_S`` covers a lost notification.

Times compare with ``received_at``, stamped by the database clock: a caller that wants
"codes sent after I submitted" takes ``since = await database_now(engine)`` just before
submitting (or its own UTC clock when it runs on the database's host).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from waycore.inbox.store import NOTIFY_CHANNEL, InboxKey, load_inbox_key
from waycore.vault.keyring import Keyring

POLL_INTERVAL_S = 2.0

Secret = Literal["code", "temporary_password"]


class InboxTimeout(TimeoutError):
    """No matching message reached the inbox in time."""


async def database_now(engine: AsyncEngine) -> datetime:
    """The database's clock, the one ``received_at`` is stamped with."""
    async with engine.connect() as conn:
        value: datetime = (await conn.execute(text("select clock_timestamp()"))).scalar_one()
    return value


async def latest_code(
    engine: AsyncEngine, connection_id: str, *, since: datetime, keyring: Keyring
) -> str | None:
    """The newest one-time code received for the connection after ``since``, if any."""
    key = await load_inbox_key(engine, keyring)
    return await _newest(engine, key, connection_id, "code", since)


async def latest_temporary_password(
    engine: AsyncEngine, connection_id: str, *, since: datetime, keyring: Keyring
) -> str | None:
    """The newest temporary password received after ``since`` (pass the connection's
    ``created_at``: the bank may have sent it long before activation starts)."""
    key = await load_inbox_key(engine, keyring)
    return await _newest(engine, key, connection_id, "temporary_password", since)


async def wait_for_code(
    engine: AsyncEngine,
    connection_id: str,
    *,
    since: datetime,
    timeout_s: float,
    keyring: Keyring,
) -> str:
    """The newest code received after ``since``, waiting up to ``timeout_s`` for one.

    Raises ``InboxTimeout``. Pass ``settings.inbox_code_timeout_s`` as ``timeout_s``.
    """
    return await _wait(engine, connection_id, "code", since, timeout_s, keyring)


async def wait_for_temporary_password(
    engine: AsyncEngine,
    connection_id: str,
    *,
    since: datetime,
    timeout_s: float,
    keyring: Keyring,
) -> str:
    """Like ``wait_for_code``, for a temporary password (when none has arrived yet)."""
    return await _wait(engine, connection_id, "temporary_password", since, timeout_s, keyring)


async def _wait(
    engine: AsyncEngine,
    connection_id: str,
    secret: Secret,
    since: datetime,
    timeout_s: float,
    keyring: Keyring,
) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    key = await load_inbox_key(engine, keyring)
    arrived = asyncio.Event()

    def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload == connection_id:
            arrived.set()

    async with engine.connect() as listening:
        raw = await listening.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.add_listener(NOTIFY_CHANNEL, on_notify)
        try:
            while True:
                arrived.clear()
                value = await _newest(engine, key, connection_id, secret, since)
                if value is not None:
                    return value
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise InboxTimeout(f"no {secret.replace('_', ' ')} within {timeout_s:g} s")
                try:
                    await asyncio.wait_for(arrived.wait(), min(remaining, POLL_INTERVAL_S))
                except TimeoutError:
                    pass
        finally:
            await driver.remove_listener(NOTIFY_CHANNEL, on_notify)


async def _newest(
    engine: AsyncEngine, key: InboxKey, connection_id: str, secret: Secret, since: datetime
) -> str | None:
    column = f"{secret}_sealed"  # one of two fixed names, never input
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    f"select id, {column} as sealed from inbox_messages "  # noqa: S608
                    f"where connection_id = :cid and received_at > :since "
                    f"and {column} is not null "
                    "order by received_at desc, id desc limit 1"
                ),
                {"cid": connection_id, "since": since},
            )
        ).first()
    if row is None:
        return None
    return key.open(row.id, secret, row.sealed)
