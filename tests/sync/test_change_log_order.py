"""Change-log appends of one partition are serialized until commit (seq order = commit order)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.sync.conftest import insert_connection
from tests.sync.helpers import account, txn
from waycore.db import make_sessionmaker
from waycore.sync import store
from waycore.sync.engine import apply_snapshot


async def test_a_second_writer_waits_for_the_first_commit(engine) -> None:
    factory = make_sessionmaker(engine)
    async with factory() as setup:
        first = await insert_connection(setup)
        async with setup.begin():
            org = (
                await setup.execute(
                    text("select name from organizations where id = :o"),
                    {"o": first.partition.org_id},
                )
            ).scalar_one()
        second = await insert_connection(setup, org)
        other_partition = await insert_connection(setup)
    snapshot = ([account()], {"A1": [txn("-1", "X")]})
    async with factory() as holder, factory() as writer, factory() as elsewhere:
        async with holder.begin():
            apg = await store.driver(holder)
            await store.lock_change_log(apg, first.partition)  # a writer mid-append
            waiting = asyncio.create_task(apply_snapshot(writer, second.id, *snapshot))
            # another partition is not held up
            done = await asyncio.wait_for(
                apply_snapshot(elsewhere, other_partition.id, *snapshot), timeout=10
            )
            assert done.added == 1
            await asyncio.sleep(0.5)
            assert not waiting.done()
        result = await asyncio.wait_for(waiting, timeout=10)  # released at commit
        assert result.added == 1
