"""Faults end to end: codes that never come, portal redesigns (operator queue), parked
sessions that do not block other work, a worker killed mid-sync, concurrent sync requests,
revocation mid-sync."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import procrastinate
import pytest

from tests.activation.system import (
    System,
    demo_username,
    is_active_and_synced,
    kill_group,
    setup_status,
)
from waycore.jobs.app import psycopg_connector
from waycore.jobs.schedules import retry_stalled_jobs

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_code_never_delivered_asks_the_end_user_then_times_out(system: System) -> None:
    api = system.client()
    username = demo_username("+otp")
    system.set_faults(username, otpNeverDelivered=True)
    with system.worker(WAYCORE_INBOX_CODE_TIMEOUT_S="2", WAYCORE_VERIFICATION_TIMEOUT_S="5"):
        cid = api.demo_connection(username)
        api.wait_for(cid, setup_status("awaitingVerificationCode"), timeout_s=60)
        (event,) = system.events(cid, "connection.verification_code_required")
        assert event["channel"] == "email"
        failed = api.wait_for(cid, setup_status("activationFailed"), timeout_s=60)
    assert failed["errorCode"] == "verification_timeout"
    assert failed["setup"]["nextAction"] == "submitCredentials"


def _waycore(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "waycore", *args],
        cwd=system.workdir,
        env=system.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_redesigned_portal_goes_to_the_operator_queue(system: System) -> None:
    api = system.client()
    username = demo_username()
    system.set_faults(username, redesign=True)
    with system.worker():
        cid = api.demo_connection(username)
        waiting = api.wait_for(cid, setup_status("awaitingOperator"), timeout_s=90)
        assert waiting["errorCode"] == "portal_changed"
        listed = _waycore(system, "ops", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        (case,) = [c for c in json.loads(listed.stdout) if c["connectionId"] == cid]
        assert case["reason"] == "portal_changed" and case["snapshotPath"]
        assert (system.workdir / case["snapshotPath"]).exists() or (
            __import__("pathlib").Path(case["snapshotPath"]).exists()
        )
        system.set_faults(username, redesign=False)
        refused = _waycore(system, "ops", "resolve", cid)
        assert refused.returncode == 2
        resolved = _waycore(system, "ops", "resolve", cid, "--handled")
        assert resolved.returncode == 0, resolved.stderr
        api.wait_for(cid, is_active_and_synced)
    audit = system.sql(
        "select actor from audit_log where resource_id = %s and action = %s",
        cid,
        "connection.operatorResolve",
    )
    assert len(audit) == 1 and audit[0][0].startswith("operator:")
    listed = _waycore(system, "ops", "list", "--json")
    assert cid not in listed.stdout


def test_parked_hardware_sessions_do_not_block_a_sync(system: System) -> None:
    # one organisation each: an entity has one connection per portal
    clients = [system.client() for _ in range(3)]
    with system.worker(browsers=1, concurrency=4, WAYCORE_VERIFICATION_TIMEOUT_S="180"):
        parked = [(api, api.demo_connection(demo_username("+hardware"))) for api in clients[:2]]
        for api, cid in parked:
            api.wait_for(cid, setup_status("awaitingVerificationCode"), timeout_s=90)
        third = clients[2].demo_connection(demo_username())
        clients[2].wait_for(third, is_active_and_synced, timeout_s=120)
        for api, cid in parked:  # still waiting, untouched by the third one's work
            assert api.connection(cid)["setup"]["status"] == "awaitingVerificationCode"
            response = api.call(
                "PUT", f"/v1/connections/{cid}/verificationCode", json={"code": "123456"}
            )
            assert response.status_code == 200, response.text
        for api, cid in parked:
            api.wait_for(cid, is_active_and_synced, timeout_s=120)


def _bank_row_count(system: System, username: str) -> int:
    with system.bank() as bank:
        customer = bank.get(f"/delegatedUsers/{username}").json()["customerId"]
        accounts = bank.get(f"/customers/{customer}/accounts").json()["data"]
        return sum(
            1
            for a in accounts
            for r in bank.get(f"/accounts/{a['accountId']}/transactions").json()["data"]
            if r["status"] != "voided"
        )


async def _retry_stalled(database_url: str) -> list[int]:
    app = procrastinate.App(connector=psycopg_connector(database_url, max_size=2))
    async with app.open_async():
        return await retry_stalled_jobs(app, seconds_since_heartbeat=1)


def test_worker_killed_mid_full_history_sync_is_retried(system: System) -> None:
    api = system.client()
    username = demo_username()
    system.set_faults(username, slowMs=150)
    with system.worker() as worker:
        cid = api.demo_connection(username)
        api.wait_for(cid, lambda c: c["status"] == "active", timeout_s=90)
        time.sleep(1.0)  # well inside the (slow) history walk
        assert api.connection(cid)["lastSyncedAt"] is None
        worker.kill()
        kill_group(worker)
        worker.wait(timeout=10)
    time.sleep(2.0)
    assert asyncio.run(_retry_stalled(system.database_url))
    system.set_faults(username, slowMs=0)
    with system.worker():
        done = api.wait_for(cid, is_active_and_synced, timeout_s=180)
    assert done["status"] == "active"
    rows = system.sql(
        "select count(*), count(distinct (account_id, identity)) from transactions "
        "where connection_id = %s",
        cid,
    )[0]
    assert rows[0] == rows[1] == _bank_row_count(system, username)
    assert len(system.events(cid, "transactions.sync_available")) == 1


def test_two_syncs_requested_at_once_make_one_bank_session(system: System) -> None:
    api = system.client()
    with system.worker():
        cid = api.demo_connection(demo_username())
        api.wait_for(cid, is_active_and_synced)
    path = f"/v1/connections/{cid}/sync"
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: api.call("PUT", path), range(4)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [202, 409, 409, 409], [r.text for r in answers]
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 409} == {
        "sync_in_progress"
    }
    queued = system.sql(
        "select count(*) from procrastinate_jobs where lock = %s and task_name = "
        "'connection.sync' and status = 'todo'",
        cid,
    )[0][0]
    assert queued == 1
    with system.worker():
        api.wait_for(
            cid,
            lambda c: (
                is_active_and_synced(c)
                and len(system.events(cid, "transactions.sync_available")) == 2
            ),
        )
    jobs = system.sql("select count(*) from sync_jobs where connection_id = %s", cid)[0][0]
    assert jobs == 2  # the activation's and exactly one more


def test_revoked_mid_sync_writes_nothing(system: System) -> None:
    api = system.client()
    username = demo_username()
    system.set_faults(username, slowMs=150)
    with system.worker():
        cid = api.demo_connection(username)
        api.wait_for(cid, lambda c: c["status"] == "active", timeout_s=90)
        response = api.call("DELETE", f"/v1/connections/{cid}")
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = system.sql("select status::text from procrastinate_jobs where lock = %s", cid)
            if states and all(s[0] in ("succeeded", "failed", "cancelled") for s in states):
                break
            time.sleep(0.5)
    assert api.connection(cid)["status"] == "revoked"
    assert system.sql("select count(*) from transactions where connection_id = %s", cid)[0][0] == 0
    assert system.events(cid, "transactions.sync_available") == []
