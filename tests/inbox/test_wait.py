"""wait_for_code: woken by NOTIFY, newest code after ``since``, bounded by its timeout."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.inbox.conftest import ConnectionRow, MakeConnection
from waycore.db import make_engine, make_sessionmaker
from waycore.inbox import wait
from waycore.inbox.store import InboxKey, store_message
from waycore.inbox.wait import (
    InboxTimeout,
    database_now,
    latest_temporary_password,
    wait_for_code,
    wait_for_temporary_password,
)
from waycore.vault.keyring import Keyring


async def deliver(
    engine: AsyncEngine, key: InboxKey, conn: ConnectionRow, body: str, *, sms: bool = False
) -> None:
    async with make_sessionmaker(engine)() as session:
        await store_message(
            session,
            key,
            channel="sms" if sms else "email",
            to_address=conn.phone_number if sms else conn.email,
            from_address="bank@bank.example",
            subject=None if sms else "Your code",
            body=body,
        )


@pytest.fixture
async def other_engine(inbox_database_url: str):  # type: ignore[no-untyped-def]
    """A second engine: the code arrives over a different database connection pool."""
    engine = make_engine(inbox_database_url, pool_size=2, max_overflow=0)
    yield engine
    await engine.dispose()


async def test_wakes_promptly_when_a_code_arrives(
    db: AsyncEngine,
    other_engine: AsyncEngine,
    inbox_key: InboxKey,
    keyring: Keyring,
    make_connection: MakeConnection,
) -> None:
    assert wait.POLL_INTERVAL_S >= 2  # so a prompt wake-up can only come from NOTIFY
    conn = await make_connection()
    since = await database_now(db)
    waiter = asyncio.create_task(
        wait_for_code(db, conn.id, since=since, timeout_s=10, keyring=keyring)
    )
    await asyncio.sleep(0.3)  # the waiter is listening and found nothing
    assert not waiter.done()
    sent = time.monotonic()
    await deliver(other_engine, inbox_key, conn, "Your verification code is 550011.", sms=True)
    code = await asyncio.wait_for(waiter, 5)
    assert code == "550011"
    assert time.monotonic() - sent < 1.0


async def test_other_connections_codes_do_not_count(
    db: AsyncEngine, inbox_key: InboxKey, keyring: Keyring, make_connection: MakeConnection
) -> None:
    mine, theirs = await make_connection(), await make_connection()
    since = await database_now(db)
    waiter = asyncio.create_task(
        wait_for_code(db, mine.id, since=since, timeout_s=10, keyring=keyring)
    )
    await asyncio.sleep(0.1)
    await deliver(db, inbox_key, theirs, "Your code is 111111.")
    await asyncio.sleep(0.3)
    assert not waiter.done()
    await deliver(db, inbox_key, mine, "Your code is 222222.")
    assert await asyncio.wait_for(waiter, 5) == "222222"


async def test_codes_before_since_are_ignored_and_the_newest_wins(
    db: AsyncEngine, inbox_key: InboxKey, keyring: Keyring, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    await deliver(db, inbox_key, conn, "Your code is 100001.")
    since = await database_now(db)
    with pytest.raises(InboxTimeout):
        await wait_for_code(db, conn.id, since=since, timeout_s=0.2, keyring=keyring)
    await deliver(db, inbox_key, conn, "Your code is 200002.")
    await deliver(db, inbox_key, conn, "No code in this one.")
    await deliver(db, inbox_key, conn, "Your code is 300003.")
    assert await wait_for_code(db, conn.id, since=since, timeout_s=2, keyring=keyring) == "300003"
    assert (
        await wait_for_code(db, conn.id, since=conn.created_at, timeout_s=2, keyring=keyring)
        == "300003"
    )


async def test_times_out_after_the_configured_timeout(
    db: AsyncEngine, keyring: Keyring, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    started = time.monotonic()
    with pytest.raises(InboxTimeout):
        await wait_for_code(
            db, conn.id, since=await database_now(db), timeout_s=0.4, keyring=keyring
        )
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 1.5


async def test_waiters_release_their_connections(
    db: AsyncEngine, keyring: Keyring, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    checked_out = db.pool.checkedout()  # type: ignore[attr-defined]
    for _ in range(3):
        with pytest.raises(InboxTimeout):
            await wait_for_code(
                db, conn.id, since=await database_now(db), timeout_s=0.05, keyring=keyring
            )
    assert db.pool.checkedout() == checked_out  # type: ignore[attr-defined]


async def test_temporary_password_received_before_activation_counts(
    db: AsyncEngine, inbox_key: InboxKey, keyring: Keyring, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    assert (
        await latest_temporary_password(db, conn.id, since=conn.created_at, keyring=keyring) is None
    )
    await deliver(db, inbox_key, conn, "Your temporary password is: Old1Pass2Word")
    await deliver(db, inbox_key, conn, "Your temporary password is: New3Pass4Word")
    await deliver(db, inbox_key, conn, "Your code is 123123.")
    later = await database_now(db)
    assert (
        await latest_temporary_password(db, conn.id, since=conn.created_at, keyring=keyring)
        == "New3Pass4Word"
    )
    assert await latest_temporary_password(db, conn.id, since=later, keyring=keyring) is None


async def test_wait_for_temporary_password(
    db: AsyncEngine, inbox_key: InboxKey, keyring: Keyring, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    waiter = asyncio.create_task(
        wait_for_temporary_password(
            db, conn.id, since=conn.created_at, timeout_s=10, keyring=keyring
        )
    )
    await asyncio.sleep(0.2)
    sent = time.monotonic()
    await deliver(db, inbox_key, conn, "Temporary password: Zq8Lm3Xv9Kp2")
    assert await asyncio.wait_for(waiter, 5) == "Zq8Lm3Xv9Kp2"
    assert time.monotonic() - sent < 1.0
