"""Messages older than 7 days are deleted; newer ones stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.inbox.conftest import MakeConnection, messages_to
from tests.inbox.test_wait import deliver
from waycore.db import make_sessionmaker
from waycore.inbox.store import RETENTION, InboxKey, delete_expired


async def test_cleanup_deletes_only_messages_older_than_seven_days(
    db: AsyncEngine, inbox_key: InboxKey, make_connection: MakeConnection
) -> None:
    assert timedelta(days=7) == RETENTION
    conn = await make_connection()
    for body in ("old code 111111", "almost old code 222222", "new code 333333"):
        await deliver(db, inbox_key, conn, body)
    ids = [row["id"] for row in await messages_to(db, conn.email)]
    async with db.begin() as c:
        await c.execute(
            text(
                "update inbox_messages set received_at = now() - interval '7 days 1 minute' "
                "where id = :id"
            ),
            {"id": ids[0]},
        )
        await c.execute(
            text(
                "update inbox_messages set received_at = now() - interval '6 days 23 hours' "
                "where id = :id"
            ),
            {"id": ids[1]},
        )
    async with make_sessionmaker(db)() as session:
        deleted = await delete_expired(session)
    assert deleted >= 1
    assert [row["id"] for row in await messages_to(db, conn.email)] == ids[1:]
