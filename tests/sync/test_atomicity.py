"""A failed apply leaves nothing behind, on a real committing session (not a test savepoint)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.sync.conftest import insert_connection
from tests.sync.helpers import account, txn
from waycore.db import make_sessionmaker
from waycore.sync.engine import apply_snapshot


async def test_failure_midway_rolls_everything_back(engine) -> None:
    factory = make_sessionmaker(engine)
    async with factory() as session:
        conn = await insert_connection(session)
        with pytest.raises(ValueError, match="unknown accounts"):
            # the accounts upsert runs first, then the unknown account is refused
            await apply_snapshot(
                session,
                conn.id,
                [account("A1")],
                {"NOPE": [txn("-1", "X", account_bank_id="NOPE")]},
            )
        async with session.begin():
            accounts = await session.execute(
                text("select count(*) from accounts where connection_id = :c"), {"c": conn.id}
            )
            events = await session.execute(
                text("select count(*) from events where org_id = :o"), {"o": conn.partition.org_id}
            )
            assert (accounts.scalar_one(), events.scalar_one()) == (0, 0)
        result = await apply_snapshot(session, conn.id, [account("A1")], {"A1": [txn("-1", "X")]})
        assert result.added == 1
        async with session.begin():
            stored = await session.execute(
                text("select count(*) from transactions where connection_id = :c"), {"c": conn.id}
            )
            assert stored.scalar_one() == 1


async def test_a_bad_item_midway_through_copy_rolls_back(engine) -> None:
    factory = make_sessionmaker(engine)
    async with factory() as session:
        conn = await insert_connection(session)
        misfiled = [txn("-1", "OK"), txn("-2", "WRONG ACCOUNT", account_bank_id="A2")]
        with pytest.raises(ValueError, match="under 'A1'"):
            await apply_snapshot(session, conn.id, [account("A1"), account("A2")], {"A1": misfiled})
        async with session.begin():
            counts = await session.execute(
                text(
                    "select (select count(*) from accounts where connection_id = :c), "
                    "(select count(*) from transactions where connection_id = :c)"
                ),
                {"c": conn.id},
            )
            assert tuple(counts.one()) == (0, 0)
