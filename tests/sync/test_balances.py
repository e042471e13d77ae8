"""Daily balance rows: the bank's reading for its day, derived backwards from posted deltas."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tests.sync.conftest import MakeConnection
from tests.sync.helpers import account, balance, rows, txn
from waycore.sync.engine import apply_snapshot


async def _balances(session, connection_id: str) -> list[tuple[object, ...]]:
    found = await rows(
        session,
        "select b.date, b.ledger, b.available, b.posted_transaction_delta, b.source "
        "from balances b join accounts a on a.id = b.account_id "
        "where a.connection_id = :c order by b.date",
        c=connection_id,
    )
    return [tuple(r.values()) for r in found]


async def test_projection_from_the_bank_reading_backwards(
    session, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    items = [
        txn("100.00", "DEPOSIT", date(2026, 3, 1)),
        txn("-30.00", "RENT", date(2026, 3, 2)),
        txn("-20.00", "RENT", date(2026, 3, 2)),
        txn("10.00", "REFUND", date(2026, 3, 4)),
        txn("-5.00", "PENDING", date(2026, 3, 4), status="pending"),
    ]
    await apply_snapshot(
        session,
        conn.id,
        [account()],
        {"A1": items},
        [balance("1000.00", date(2026, 3, 4), available="990.00")],
    )
    D = Decimal
    assert await _balances(session, conn.id) == [
        (date(2026, 3, 1), D("1040.00"), None, D("100.00"), "derived"),
        (date(2026, 3, 2), D("990.00"), None, D("-50.00"), "derived"),
        (date(2026, 3, 3), D("990.00"), None, D("0"), "derived"),
        (date(2026, 3, 4), D("1000.00"), D("990.00"), D("10.00"), "bankProvided"),
    ]
    (acct,) = await rows(session, "select * from accounts where connection_id = :c", c=conn.id)
    assert (acct["current_balance"], acct["available_balance"]) == (D("1000.00"), D("990.00"))

    # the next day's reading supersedes the mid-day one; a late posting for 3 March counts
    later = [*items, txn("-7.00", "LATE FEE", date(2026, 3, 3), bank_reference="F1")]
    result = await apply_snapshot(
        session,
        conn.id,
        [account()],
        {"A1": later},
        [balance("993.00", date(2026, 3, 5))],
        window=date(2026, 3, 1),
    )
    assert result.added == 1
    assert await _balances(session, conn.id) == [
        (date(2026, 3, 1), D("1040.00"), None, D("100.00"), "derived"),
        (date(2026, 3, 2), D("990.00"), None, D("-50.00"), "derived"),
        (date(2026, 3, 3), D("983.00"), None, D("-7.00"), "derived"),
        (date(2026, 3, 4), D("993.00"), None, D("10.00"), "derived"),
        (date(2026, 3, 5), D("993.00"), None, D("0"), "bankProvided"),
    ]
    assert result.balance_rows == 3  # 3 and 4 March changed, 5 March is new


async def test_projection_is_stable_when_nothing_changes(
    session, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    snapshot = (
        [account()],
        {"A1": [txn("5.00", "X", date(2026, 3, 1))]},
        [balance("50.00", date(2026, 3, 2))],
    )
    first = await apply_snapshot(session, conn.id, *snapshot)
    assert first.balance_rows == 2
    again = await apply_snapshot(session, conn.id, *snapshot)
    assert again.balance_rows == 0
