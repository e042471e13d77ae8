"""queue.py: jobs commit with the caller's transaction, duplicates are reported."""

from __future__ import annotations

import secrets

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from waycore import queue
from waycore.db import make_sessionmaker


async def _jobs(engine: AsyncEngine, lock: str) -> list[tuple[str, str, dict[str, object]]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "select task_name, status::text, args from procrastinate_jobs "
                "where lock = :lock order by id"
            ),
            {"lock": lock},
        )
        return [(r[0], r[1], r[2]) for r in rows]


async def test_enqueue_commits_with_the_transaction(engine: AsyncEngine) -> None:
    lock = f"conn_{secrets.token_hex(8)}"
    async with make_sessionmaker(engine)() as session, session.begin():
        job_id = await queue.enqueue(
            session, "connection.activate", queue="activation", lock=lock, connection_id=lock
        )
        assert isinstance(job_id, int)
        assert await _jobs(engine, lock) == []  # not visible before commit
    assert await _jobs(engine, lock) == [("connection.activate", "todo", {"connection_id": lock})]


async def test_rollback_leaves_no_job(engine: AsyncEngine) -> None:
    lock = f"conn_{secrets.token_hex(8)}"
    async with make_sessionmaker(engine)() as session:
        async with session.begin() as tx:
            await queue.enqueue(session, "connection.activate", lock=lock, connection_id=lock)
            await tx.rollback()
    assert await _jobs(engine, lock) == []


async def test_duplicate_queueing_lock_is_already_queued(engine: AsyncEngine) -> None:
    lock = f"conn_{secrets.token_hex(8)}"
    async with make_sessionmaker(engine)() as session, session.begin():
        first = await queue.enqueue(session, "connection.sync", lock=lock, queueing_lock=lock)
        second = await queue.enqueue(session, "connection.sync", lock=lock, queueing_lock=lock)
        assert first is not None
        assert second is None
        # the caller's transaction is still usable after the swallowed violation
        assert (await session.execute(text("select 1"))).scalar_one() == 1
    assert [j[0] for j in await _jobs(engine, lock)] == ["connection.sync"]


async def test_cancel_queued_cancels_only_waiting_jobs_of_the_lock(engine: AsyncEngine) -> None:
    lock, other = f"conn_{secrets.token_hex(8)}", f"conn_{secrets.token_hex(8)}"
    async with make_sessionmaker(engine)() as session, session.begin():
        await queue.enqueue(session, "connection.sync", lock=lock)
        await queue.enqueue(session, "connection.sync", lock=other)
        assert await queue.cancel_queued(session, lock=lock) == 1
    assert [j[1] for j in await _jobs(engine, lock)] == ["cancelled"]
    assert [j[1] for j in await _jobs(engine, other)] == ["todo"]
    # a cancelled job no longer holds the queueing lock
    async with make_sessionmaker(engine)() as session, session.begin():
        assert await queue.enqueue(session, "connection.sync", lock=lock, queueing_lock=lock)
