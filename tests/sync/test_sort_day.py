"""``transactions.sort_day``, a plain column since migration 0010, written by the sync engine.

Every write path must store what the generated column of migration 0006 computed from the
stored ``posted_date``: rows COPYed on an account's first sync, rows the staged merge adds,
and rows it updates, above all a pending item that posts later (its ``posted_date`` changes).
"""

from __future__ import annotations

from datetime import date

from tests.sync.conftest import MakeConnection
from tests.sync.helpers import account, rows, txn
from waycore.sync.engine import apply_snapshot

DAY = date(2026, 3, 2)
# the expression of the generated column (migration 0006), over the stored columns
GENERATED = "coalesce(posted_date - date '1970-01-01', 2147483647)"


async def _sort_days(session, connection_id: str) -> dict[str, tuple[int, int, str]]:
    """Per identity: (stored sort_day, the generated expression's value, status)."""
    found = await rows(
        session,
        f"select identity, sort_day, {GENERATED} as expected, status"
        " from transactions where connection_id = :c",
        c=connection_id,
    )
    return {r["identity"]: (r["sort_day"], r["expected"], r["status"]) for r in found}


async def test_every_write_path_stores_the_generated_sort_day(
    session, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    # first sync: COPYed straight into the table (posted, pending, a day before the epoch)
    await apply_snapshot(
        session,
        conn.id,
        [account("A1")],
        {
            "A1": [
                txn("-12", "CARD", portal_row_id="r1"),
                txn("-40", "HOTEL", status="pending", portal_row_id="p1"),
                txn("3", "OLD", date(1969, 12, 31), portal_row_id="r0"),
            ]
        },
    )
    first = await _sort_days(session, conn.id)
    assert first == {
        "r1": ((DAY - date(1970, 1, 1)).days,) * 2 + ("posted",),
        "p1": (2147483647, 2147483647, "pending"),
        "r0": (-1, -1, "posted"),
    }

    # second sync: A1 holds rows (staged merge: p1 posts, r2 and p2 are new), A2 is new (COPY)
    posted = date(2026, 3, 4)
    result = await apply_snapshot(
        session,
        conn.id,
        [account("A1"), account("A2")],
        {
            "A1": [
                txn("-12", "CARD", portal_row_id="r1"),
                txn("-40", "HOTEL", day=DAY, posted_date=posted, portal_row_id="p1"),
                txn("3", "OLD", date(1969, 12, 31), portal_row_id="r0"),
                txn("-5", "COFFEE", date(2026, 3, 3), portal_row_id="r2"),
                txn("-9", "TAXI", status="pending", portal_row_id="p2"),
            ],
            "A2": [
                txn("100", "DEPOSIT", account_bank_id="A2", portal_row_id="a2-1"),
                txn("-1", "FEE", account_bank_id="A2", status="pending", portal_row_id="a2-p"),
            ],
        },
    )
    assert (result.added, result.modified, result.removed) == (4, 1, 0)
    second = await _sort_days(session, conn.id)
    assert second["p1"] == ((posted - date(1970, 1, 1)).days,) * 2 + ("posted",)
    assert second["r2"][0] == (date(2026, 3, 3) - date(1970, 1, 1)).days
    assert second["p2"][0] == second["a2-p"][0] == 2147483647
    assert second["a2-1"][0] == (DAY - date(1970, 1, 1)).days
    assert len(second) == 7
    assert all(stored == expected for stored, expected, _ in second.values()), second

    # a posted item removed from the read, then read again with another posted date
    moved = date(2026, 3, 6)
    await apply_snapshot(
        session, conn.id, [account("A1"), account("A2")], {"A1": [], "A2": []}, window=None
    )
    result = await apply_snapshot(
        session,
        conn.id,
        [account("A1"), account("A2")],
        {"A1": [txn("-12", "CARD", day=DAY, posted_date=moved, portal_row_id="r1")]},
    )
    assert result.modified == 1
    third = await _sort_days(session, conn.id)
    assert third["r1"] == ((moved - date(1970, 1, 1)).days,) * 2 + ("posted",)
    assert all(stored == expected for stored, expected, _ in third.values()), third
