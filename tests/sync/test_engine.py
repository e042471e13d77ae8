"""The sync engine on real PostgreSQL: identity, idempotency, removals, events."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.sync.conftest import MakeConnection
from tests.sync.helpers import account, changes, events, rows, transactions, txn
from waycore.sync.engine import SyncAborted, apply_snapshot, record_sync_failure

DAY = date(2026, 3, 2)


async def test_first_sync_stores_rows_and_emits_one_sync_available(
    session, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    result = await apply_snapshot(
        session,
        conn.id,
        [account("A1"), account("A2", currency="JPY", type="savings")],
        {
            "A1": [txn("-12.3", "CARD  PURCHASE   ACME", portal_row_id="r1"), txn("5", "INTEREST")],
            "A2": [txn("1200", "DEPOSIT", account_bank_id="A2", bank_reference="REF1")],
        },
    )
    assert (result.added, result.modified, result.removed) == (3, 0, 0)
    stored = await transactions(session, conn.id)
    assert len(stored) == 3
    card = next(t for t in stored if t["identity_kind"] == "row_id")
    assert card["identity"] == "r1"
    assert card["description"] == "CARD PURCHASE ACME"
    assert card["raw_description"] == "CARD  PURCHASE   ACME"
    assert card["currency"] == "USD"
    assert all(t["id"].version == 7 and t["id"].variant == "specified in RFC 4122" for t in stored)
    millis = stored[0]["id"].int >> 80  # UUIDv7: the first 48 bits are the creation time
    assert abs(millis - stored[0]["created_at"].timestamp() * 1000) < 10_000
    deposit = next(t for t in stored if t["identity_kind"] == "bank_reference")
    assert deposit["currency"] == "JPY"
    assert [c["type"] for c in await changes(session, conn.id)] == ["added"] * 3
    available = await events(session, conn.partition.org_id, "transactions.sync_available")
    assert [e["data"] for e in available] == [
        {"connectionId": conn.id, "accountId": None, "added": 3, "modified": 0, "removed": 0}
    ]
    created = await events(session, conn.partition.org_id, "account.created")
    assert len(created) == 2
    assert {e["data"]["connectionId"] for e in created} == {conn.id}
    assert {e["data"]["entityId"] for e in created} == {str(conn.entity_id)}
    (connection,) = await rows(session, "select * from connections where id = :c", c=conn.id)
    assert connection["sync_status"] == "idle"
    assert connection["last_synced_at"] is not None
    hours = (connection["next_sync_at"] - connection["last_synced_at"]).total_seconds() / 3600
    assert 5.3 <= hours <= 6.7


async def test_reapplying_the_same_snapshot_changes_nothing(
    session, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    snapshot = (
        [account("A1")],
        {
            "A1": [
                txn("-10.00", "COFFEE"),
                txn("-10.00", "COFFEE"),
                txn("-4.50", "TEA", bank_reference="R9"),
                txn("-1", "PENDING", status="pending", portal_row_id="p1"),
            ]
        },
    )
    await apply_snapshot(session, conn.id, *snapshot)
    before = await transactions(session, conn.id)
    log_before = await changes(session, conn.id)
    again = await apply_snapshot(session, conn.id, *snapshot, window=date(2026, 1, 1))
    assert (again.added, again.modified, again.removed) == (0, 0, 0)
    assert again.accounts_created == [] and again.accounts_updated == []
    assert await transactions(session, conn.id) == before
    assert await changes(session, conn.id) == log_before
    available = await events(session, conn.partition.org_id, "transactions.sync_available")
    counts = sorted(
        (e["data"]["added"], e["data"]["modified"], e["data"]["removed"]) for e in available
    )
    assert counts == [(0, 0, 0), (4, 0, 0)]  # one event per sync, the second one empty


async def test_identical_items_on_one_day_stay_distinct(
    session, make_connection: MakeConnection
) -> None:
    """A bank with neither row id nor reference: fingerprint with an occurrence index."""
    conn = await make_connection()
    items = [txn("-25.00", "ATM WITHDRAWAL"), txn("-25.00", "ATM  withdrawal")]
    first = await apply_snapshot(session, conn.id, [account()], {"A1": items})
    assert first.added == 2
    stored = await transactions(session, conn.id)
    assert {t["identity_kind"] for t in stored} == {"fingerprint"}
    assert len({t["identity"] for t in stored}) == 2
    # a third identical one later that day is one more, not a duplicate of the others
    third = await apply_snapshot(
        session, conn.id, [account()], {"A1": [*items, txn("-25.00", "ATM WITHDRAWAL")]}
    )
    assert (third.added, third.modified, third.removed) == (1, 0, 0)
    assert len(await transactions(session, conn.id)) == 3


async def test_repeated_references_fall_back_to_fingerprint(
    session, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    await apply_snapshot(
        session,
        conn.id,
        [account()],
        {
            "A1": [
                txn("-1", "FEE", bank_reference="DUP"),
                txn("-2", "FEE", bank_reference="DUP"),
                txn("-3", "WIRE", bank_reference="ONLY"),
            ]
        },
    )
    kinds = {
        (t["bank_reference"], t["identity_kind"]) for t in await transactions(session, conn.id)
    }
    assert kinds == {("DUP", "fingerprint"), ("ONLY", "bank_reference")}


async def test_reference_seen_before_the_window_is_not_trusted(
    session, make_connection: MakeConnection
) -> None:
    """An incremental read shows one 'DUP'; the stored older one keeps it from being unique."""
    conn = await make_connection()
    old = txn("-1", "FEE", date(2026, 2, 1), bank_reference="DUP")
    await apply_snapshot(session, conn.id, [account()], {"A1": [old]})
    new = txn("-1", "FEE", date(2026, 3, 1), bank_reference="DUP")
    result = await apply_snapshot(
        session, conn.id, [account()], {"A1": [new]}, window=date(2026, 2, 20)
    )
    assert (result.added, result.modified, result.removed) == (1, 0, 0)
    stored = await transactions(session, conn.id)
    assert [(t["transaction_date"], t["identity_kind"]) for t in stored] == [
        (date(2026, 2, 1), "bank_reference"),
        (date(2026, 3, 1), "fingerprint"),
    ]


async def test_pending_that_posts_is_modified_under_the_same_id(
    session, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    pending = txn("-40.00", "HOTEL", status="pending", portal_row_id="t-77")
    await apply_snapshot(session, conn.id, [account()], {"A1": [pending]})
    (before,) = await transactions(session, conn.id)
    posted = txn("-42.10", "HOTEL", portal_row_id="t-77", posted_date=date(2026, 3, 4))
    result = await apply_snapshot(
        session,
        conn.id,
        [account()],
        {"A1": [posted]},
        window=date(2026, 3, 1),
        now=before["updated_at"] + timedelta(minutes=5),
    )
    assert (result.added, result.modified, result.removed) == (0, 1, 0)
    (after,) = await transactions(session, conn.id)
    assert after["id"] == before["id"]
    assert (after["status"], after["posted_date"], str(after["amount"])) == (
        "posted",
        date(2026, 3, 4),
        "-42.10",
    )
    assert after["updated_at"] == before["updated_at"] + timedelta(minutes=5)
    assert after["created_at"] == before["created_at"]
    log = await changes(session, conn.id)
    assert [(c["type"], c["transaction_id"]) for c in log] == [
        ("added", before["id"]),
        ("modified", before["id"]),
    ]
    assert log[0]["seq"] < log[1]["seq"]


async def test_vanished_pending_is_removed_and_old_posted_items_stay(
    session, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    old = txn("-5", "OLD POSTED", date(2026, 1, 5), portal_row_id="o1")
    recent = txn("-6", "RECENT POSTED", date(2026, 3, 1), portal_row_id="o2")
    voided = txn("-7", "VOIDED", status="pending", portal_row_id="v1")
    await apply_snapshot(session, conn.id, [account()], {"A1": [old, recent, voided]})
    # incremental read from 2026-02-20: the old item is outside the window, the pending is gone
    result = await apply_snapshot(
        session, conn.id, [account()], {"A1": [recent]}, window=date(2026, 2, 20)
    )
    assert (result.added, result.modified, result.removed) == (0, 0, 1)
    stored = {t["identity"]: t for t in await transactions(session, conn.id)}
    assert stored["v1"]["removed_at"] is not None
    assert stored["o1"]["removed_at"] is None and stored["o2"]["removed_at"] is None
    assert [c["type"] for c in await changes(session, conn.id)][-1] == "removed"
    # a full-history read that no longer shows the recent item removes it too
    full = await apply_snapshot(session, conn.id, [account()], {"A1": [old]}, window=None)
    assert full.removed == 1


async def test_accounts_not_read_keep_their_transactions(
    session, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    await apply_snapshot(session, conn.id, [account("A1")], {"A1": [txn("-1", "X")]})
    result = await apply_snapshot(session, conn.id, [account("A1")], {})
    assert result.removed == 0


async def test_account_events_on_meaningful_changes_only(
    session, make_connection: MakeConnection
) -> None:
    conn = await make_connection()
    first = await apply_snapshot(session, conn.id, [account("A1"), account("A2")], {})
    a1, a2 = first.accounts_created
    balances_only = await apply_snapshot(
        session, conn.id, [account("A1", current_balance=1), account("A2")], {}
    )
    assert balances_only.accounts_updated == []
    renamed = await apply_snapshot(session, conn.id, [account("A1", name="Operating")], {})
    assert sorted(renamed.accounts_updated) == sorted([a1, a2])
    (closed,) = await rows(session, "select status from accounts where id = :i", i=a2)
    assert closed["status"] == "closed"
    updated = await events(session, conn.partition.org_id, "account.updated")
    assert sorted(e["data"]["accountId"] for e in updated) == sorted([str(a1), str(a2)])
    again = await apply_snapshot(session, conn.id, [account("A1", name="Operating")], {})
    assert again.accounts_updated == []


async def test_same_bank_ids_in_two_partitions_stay_apart(
    session, make_connection: MakeConnection
) -> None:
    live = await make_connection(environment="live")
    other = await make_connection()
    snapshot = ([account()], {"A1": [txn("-1", "SAME", portal_row_id="r1")]})
    await apply_snapshot(session, live.id, *snapshot)
    await apply_snapshot(session, other.id, *snapshot)
    mine = await transactions(session, live.id)
    theirs = await transactions(session, other.id)
    assert len(mine) == len(theirs) == 1
    assert mine[0]["id"] != theirs[0]["id"]
    assert (mine[0]["org_id"], mine[0]["environment"]) == (live.partition.org_id, "live")
    assert (theirs[0]["org_id"], theirs[0]["environment"]) == (other.partition.org_id, "test")
    assert len(await events(session, live.partition.org_id, "transactions.sync_available")) == 1


async def test_revoked_connection_takes_nothing(session, make_connection: MakeConnection) -> None:
    conn = await make_connection(status="revoked")
    with pytest.raises(SyncAborted):
        await apply_snapshot(session, conn.id, [account()], {"A1": [txn("-1", "X")]})
    assert await rows(session, "select id from accounts where connection_id = :c", c=conn.id) == []
    assert await events(session, conn.partition.org_id) == []


async def test_failure_is_recorded_with_code_and_trigger(
    session, make_connection: MakeConnection
) -> None:
    from waycore.connectors.base import InvalidCredentials, UnknownPage
    from waycore.domain.sync_jobs.service import create_sync_job

    conn = await make_connection()
    job = await create_sync_job(session, conn.partition, conn.id, trigger="scheduled")
    await record_sync_failure(
        session, conn.id, UnknownPage("http://bank.example/x"), trigger="scheduled", sync_id=job.id
    )
    (connection,) = await rows(session, "select * from connections where id = :c", c=conn.id)
    assert connection["error_code"] == "portal_changed"
    assert connection["sync_status"] == "idle"
    (failed,) = await events(session, conn.partition.org_id, "sync.failed")
    assert failed["data"] == {
        "connectionId": conn.id,
        "syncId": str(job.id),
        "trigger": "scheduled",
        "errorCode": "portal_changed",
        "errorMessage": connection["error_message"],
    }
    (stored_job,) = await rows(session, "select * from sync_jobs where id = :i", i=job.id)
    assert (stored_job["status"], stored_job["error_code"]) == ("failed", "portal_changed")
    await record_sync_failure(session, conn.id, InvalidCredentials(), trigger="manual")
    (connection,) = await rows(session, "select * from connections where id = :c", c=conn.id)
    assert connection["error_code"] == "invalid_credentials"
    # a later success clears the error and fills the job's counts
    job2 = await create_sync_job(session, conn.partition, conn.id, trigger="manual")
    await apply_snapshot(session, conn.id, [account()], {"A1": [txn("-1", "X")]}, sync_id=job2.id)
    (connection,) = await rows(session, "select * from connections where id = :c", c=conn.id)
    assert (connection["error_code"], connection["error_message"]) == (None, None)
    (done,) = await rows(session, "select * from sync_jobs where id = :i", i=job2.id)
    assert (done["status"], done["added"], done["accounts"]) == ("succeeded", 1, 1)


async def test_sync_job_row_is_written_and_only_its_own_sync_frees_the_connection(
    session, make_connection: MakeConnection
) -> None:
    from waycore.ids import uuid7

    conn = await make_connection()
    current, other = uuid7(), uuid7()
    await rows(
        session,
        "update connections set current_sync_id = :s where id = :c returning id",
        s=current,
        c=conn.id,
    )
    await apply_snapshot(session, conn.id, [account()], {}, sync_id=other, trigger="manual")
    (connection,) = await rows(session, "select * from connections where id = :c", c=conn.id)
    assert (connection["sync_status"], connection["current_sync_id"]) == ("syncing", current)
    await apply_snapshot(session, conn.id, [account()], {}, sync_id=current, trigger="activation")
    (connection,) = await rows(session, "select * from connections where id = :c", c=conn.id)
    assert (connection["sync_status"], connection["current_sync_id"]) == ("idle", None)
    jobs = await rows(
        session, "select id, trigger, status from sync_jobs where connection_id = :c", c=conn.id
    )
    assert sorted((j["trigger"], j["status"]) for j in jobs) == [
        ("activation", "succeeded"),
        ("manual", "succeeded"),
    ]


async def test_failure_keeps_a_schedule_only_for_running_connections(
    session, make_connection: MakeConnection
) -> None:
    from waycore.connectors.base import AccountLocked, InstitutionUnavailable

    running = await make_connection(status="errored")
    await record_sync_failure(session, running.id, InstitutionUnavailable(), trigger="scheduled")
    in_setup = await make_connection(status="pendingActivation")
    await record_sync_failure(session, in_setup.id, AccountLocked(), trigger="activation")
    found = await rows(
        session,
        "select id, next_sync_at, error_code from connections where id in (:a, :b)",
        a=running.id,
        b=in_setup.id,
    )
    by_id = {r["id"]: r for r in found}
    assert by_id[running.id]["next_sync_at"] is not None
    assert by_id[running.id]["error_code"] == "institution_unavailable"
    assert by_id[in_setup.id]["next_sync_at"] is None
    assert by_id[in_setup.id]["error_code"] == "account_locked"
    (event,) = await events(session, in_setup.partition.org_id, "sync.failed")
    assert (event["data"]["trigger"], event["data"]["syncId"]) == ("activation", None)
