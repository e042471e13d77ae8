"""Statement files through the sync engine: stored once per (account, period, format), each
new one announced by ``statement.available`` in the sync's own transaction."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from tests.sync.conftest import MakeConnection
from tests.sync.helpers import account, events, rows
from waycore.connectors.base import BankStatement
from waycore.sync.engine import apply_snapshot
from waycore.sync.statements import stored_keys

JAN = (date(2026, 1, 1), date(2026, 1, 31))
FEB = (date(2026, 2, 1), date(2026, 2, 28))


def statement(period: tuple[date, date], fmt: str = "pdf", bank_id: str = "A1") -> BankStatement:
    content = f"%PDF-1.4 {bank_id} {period[0]} {fmt}".encode()
    return BankStatement(bank_id, period[0], period[1], fmt, content)  # type: ignore[arg-type]


async def test_new_statements_are_stored_once_with_one_event_each(
    session, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    files = [statement(JAN), statement(JAN, "csv"), statement(FEB, bank_id="A2")]
    first = await apply_snapshot(
        session, conn.id, [account("A1"), account("A2")], {}, statements=files
    )
    assert len(first.statements) == 3
    stored = await rows(
        session,
        "select s.*, a.bank_id from statements s join accounts a on a.id = s.account_id "
        "where s.connection_id = :c order by a.bank_id, s.period_start, s.format",
        c=conn.id,
    )
    assert [(r["bank_id"], r["period_start"], r["format"]) for r in stored] == [
        ("A1", JAN[0], "csv"),
        ("A1", JAN[0], "pdf"),
        ("A2", FEB[0], "pdf"),
    ]
    for row in stored:
        content = bytes(row["content"])
        assert row["sha256"] == hashlib.sha256(content).hexdigest()
        assert row["size_bytes"] == len(content)
        assert row["org_id"] == conn.partition.org_id and row["environment"] == "test"
        assert row["id"].version == 7
    assert {r["content_type"] for r in stored} == {"application/pdf", "text/csv; charset=utf-8"}
    announced = await events(session, conn.partition.org_id, "statement.available")
    assert sorted(e["data"]["statementId"] for e in announced) == sorted(
        str(r["id"]) for r in stored
    )
    assert {e["data"]["connectionId"] for e in announced} == {conn.id}
    assert {e["data"]["accountId"] for e in announced} == {str(r["account_id"]) for r in stored}

    async with session.begin():
        keys = await stored_keys(session, conn.id)
    assert keys == {
        "A1": {(*JAN, "pdf"), (*JAN, "csv")},
        "A2": {(*FEB, "pdf")},
    }
    again = await apply_snapshot(
        session, conn.id, [account("A1"), account("A2")], {}, statements=[*files, statement(FEB)]
    )
    assert len(again.statements) == 1  # only A1's February is new
    assert len(await events(session, conn.partition.org_id, "statement.available")) == 4


async def test_statements_of_an_unknown_account_write_nothing(
    session, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    with pytest.raises(ValueError, match="unknown accounts"):
        await apply_snapshot(
            session, conn.id, [account("A1")], {}, statements=[statement(JAN, bank_id="ZZ")]
        )
    assert await rows(session, "select id from accounts where connection_id = :c", c=conn.id) == []
    assert await events(session, conn.partition.org_id) == []
