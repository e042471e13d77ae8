"""Faults during job-driven syncs and activations: bank 500s and slow pages (retried), a
missing permission, a hardware-token prompt at sync time, a user locked between syncs, an
operator's code, and a live portal host that resolves to loopback (refused before any page)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.activation.system import (
    ApiClient,
    System,
    demo_username,
    is_active_and_synced,
    setup_status,
)
from waycore.activation.runtime import Runtime
from waycore.config import Settings
from waycore.connectors.pool import BrowserPool
from waycore.db import make_engine, make_sessionmaker
from waycore.jobs.schedules import queue_due_syncs
from waycore.vault.keyring import load_keyring

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _syncs_done(system: System, cid: str, n: int) -> Callable[[dict[str, Any]], bool]:
    return lambda c: (
        is_active_and_synced(c) and len(system.events(cid, "transactions.sync_available")) >= n
    )


def _sync_now(api: ApiClient, cid: str) -> None:
    response = api.call("PUT", f"/v1/connections/{cid}/sync")
    assert response.status_code == 202, response.text


def _bank_rows(system: System, username: str) -> int:
    with system.bank() as bank:
        customer = bank.get(f"/delegatedUsers/{username}").json()["customerId"]
        accounts = bank.get(f"/customers/{customer}/accounts").json()["data"]
        return sum(
            r["status"] != "voided"
            for a in accounts
            for r in bank.get(f"/accounts/{a['accountId']}/transactions").json()["data"]
        )


def _worker_logs(system: System) -> str:
    return "\n".join(p.read_text(errors="replace") for p in system.workdir.glob("worker-*.log"))


def test_bank_500s_and_slow_pages_during_a_sync_are_retried(system: System) -> None:
    api = system.client()
    username = demo_username()
    with system.worker():
        cid = api.demo_connection(username)
        api.wait_for(cid, is_active_and_synced)
        system.set_faults(username, errorRate=0.3, slowMs=120)
        _sync_now(api, cid)
        done = api.wait_for(cid, _syncs_done(system, cid, 2), timeout_s=240)
    assert done["status"] == "active" and done["errorCode"] is None
    assert system.events(cid, "sync.failed") == []
    assert '"portal_retry"' in _worker_logs(system) or "portal_retry" in _worker_logs(system)
    stored = system.sql(
        "select count(*) from transactions where connection_id = %s and removed_at is null", cid
    )[0][0]
    assert stored == _bank_rows(system, username)


def test_missing_view_transactions_permission_fails_activation(system: System) -> None:
    api = system.client()
    connection = api.new_connection()
    instructions = connection["setup"]["instructions"]
    with system.bank() as bank:
        customer = bank.post(
            "/customers",
            json={"name": "No History Inc", "seed": 4242, "accounts": 2, "historyDays": 60},
        )
        assert customer.status_code == 201, customer.text
        created = bank.post(
            f"/customers/{customer.json()['customerId']}/delegatedUsers",
            json={
                key: instructions[key]
                for key in ("firstName", "lastName", "address", "email", "username")
            }
            | {
                "phoneNumber": instructions["phoneNumber"],
                "secondFactor": "none",
                "permissions": {
                    "viewBalances": True,
                    "viewTransactions": False,
                    "downloadStatements": True,
                    "initiatePayments": False,
                    "approvePayments": False,
                    "accountIds": None,
                },
            },
        )
        assert created.status_code == 201, created.text
    cid = connection["id"]
    api.credentials(
        cid, bankUsername=instructions["username"], password=created.json()["temporaryPassword"]
    )
    with system.worker():
        api.complete_setup(cid)
        failed = api.wait_for(cid, setup_status("activationFailed"))
    assert failed["status"] == "pendingActivation" and failed["kind"] == "setup"
    assert failed["errorCode"] == "permission_denied"
    assert failed["setup"]["nextAction"] == "createDelegatedUser"
    assert failed["setup"]["actionRequiredBy"] == "endUser"
    assert system.sql("select count(*) from accounts where connection_id = %s", cid)[0][0] == 0


def test_hardware_prompt_at_sync_time_asks_the_end_user(system: System) -> None:
    api = system.client()
    with system.worker(WAYCORE_VERIFICATION_TIMEOUT_S="120"):
        cid = api.demo_connection(demo_username("+hardware"))
        api.wait_for(cid, setup_status("awaitingVerificationCode"))
        code = {"code": "123456"}
        assert api.call("PUT", f"/v1/connections/{cid}/verificationCode", json=code).is_success
        api.wait_for(cid, is_active_and_synced)
        # the remembered device is gone: the next log-in meets the token prompt
        system.sql(
            "update connection_credentials set storage_state = null where connection_id = %s",
            cid,
        )
        _sync_now(api, cid)
        waiting = api.wait_for(cid, setup_status("awaitingVerificationCode"))
        assert waiting["status"] == "reauthRequired"
        assert waiting["errorCode"] == "verification_required"
        assert waiting["nextSyncAt"] is None
        assert waiting["setup"]["nextAction"] == "submitVerificationCode"
        (failed,) = system.events(cid, "sync.failed")
        assert failed["trigger"] == "manual"
        assert failed["errorCode"] == "verification_required"
        asked = system.events(cid, "connection.verification_code_required")
        assert [e["channel"] for e in asked] == ["hardwareToken", "hardwareToken"]
        assert api.call("PUT", f"/v1/connections/{cid}/verificationCode", json=code).is_success
        done = api.wait_for(cid, _syncs_done(system, cid, 2))
    assert done["setup"] is None and done["errorCode"] is None and done["nextSyncAt"]
    statuses = [
        (e["previousStatus"], e["status"]) for e in system.events(cid, "connection.status_changed")
    ]
    assert statuses[-2:] == [("active", "reauthRequired"), ("reauthRequired", "active")]
    # ids are UUIDv7 (time-ordered to the millisecond); created_at mixes whole-second API
    # times with the engine's finish times, so it cannot order jobs within one second
    jobs = system.sql(
        "select trigger, status from sync_jobs where connection_id = %s order by id",
        cid,
    )
    assert jobs == [("activation", "succeeded"), ("manual", "failed"), ("manual", "succeeded")]


async def _queue_due(system: System) -> int:
    """One run of the scheduler's due-sync query (what the periodic task runs)."""
    settings = Settings(master_key_file=system.master_key_file or system.workdir / "master.key")
    engine = make_engine(system.database_url, pool_size=1, max_overflow=0)
    try:
        rt = Runtime(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            keyring=load_keyring(settings),
            browsers=BrowserPool(max_contexts=1),  # never started
        )
        return await queue_due_syncs(rt)
    finally:
        await engine.dispose()


def test_user_locked_between_syncs_stops_scheduled_syncs(system: System) -> None:
    api = system.client()
    username = demo_username()
    with system.worker():
        cid = api.demo_connection(username)
        api.wait_for(cid, is_active_and_synced)
        system.set_faults(username, locked=True)
        _sync_now(api, cid)
        locked = api.wait_for(cid, setup_status("activationFailed"))
    assert locked["status"] == "reauthRequired"
    assert locked["errorCode"] == "account_locked"
    assert locked["nextSyncAt"] is None and locked["syncStatus"] == "idle"
    assert locked["setup"]["nextAction"] == "submitCredentials"
    (failed,) = system.events(cid, "sync.failed")
    assert failed["errorCode"] == "account_locked" and failed["trigger"] == "manual"
    # even when its time has come, the scheduler leaves it alone
    system.sql("update connections set next_sync_at = now() - interval '1 hour' where id = %s", cid)
    asyncio.run(_queue_due(system))
    queued = system.sql(
        "select count(*) from procrastinate_jobs where lock = %s and status = 'todo'", cid
    )[0][0]
    assert queued == 0


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


def test_operator_resolves_with_a_code(system: System) -> None:
    api = system.client()
    username = demo_username()
    system.set_faults(username, redesign=True)
    with system.worker(WAYCORE_VERIFICATION_TIMEOUT_S="60"):
        cid = api.demo_connection(username)
        api.wait_for(cid, setup_status("awaitingOperator"), timeout_s=90)
        # meanwhile the credentials change to a user whose bank asks for a token code at
        # log-in (stored only: the connection still waits for the operator)
        api.credentials(cid, bankUsername=demo_username("+hardware"))
        assert api.connection(cid)["setup"]["status"] == "awaitingOperator"
        resolved = _waycore(system, "ops", "resolve", cid, "--code", "123456")
        assert resolved.returncode == 0, resolved.stderr
        api.wait_for(cid, is_active_and_synced)
    # the operator's code answered the token prompt: the end user was never asked
    assert system.events(cid, "connection.verification_code_required") == []
    audit = system.sql(
        "select actor, details->>'resolution' from audit_log where resource_id = %s "
        "and action = 'connection.operatorResolve'",
        cid,
    )
    assert len(audit) == 1 and audit[0][0].startswith("operator:") and audit[0][1] == "code"


def _live_loopback_connection(system: System, api: ApiClient, username: str, port: int) -> str:
    """A test connection made live with a portal on ``localhost`` (the API refuses such a
    URL at save in live; a hostname may come to resolve there later), activation queued."""
    connection = api.new_connection()
    cid = str(connection["id"])
    api.credentials(cid, bankUsername=username, password="demo-password")
    api.complete_setup(cid)  # no worker yet: the job waits
    system.sql(
        "update connections set environment = 'live', portal_url = %s where id = %s",
        f"http://localhost:{port}",
        cid,
    )
    return cid


def test_live_portal_resolving_to_loopback_is_refused_before_any_page(system: System) -> None:
    api = system.client()
    username = demo_username()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sentinel:
        sentinel.bind(("127.0.0.1", 0))
        sentinel.listen(8)
        sentinel.setblocking(False)
        cid = _live_loopback_connection(system, api, username, sentinel.getsockname()[1])
        with system.worker(WAYCORE_JOB_MAX_ATTEMPTS="2"):
            deadline = time.monotonic() + 90
            state: tuple[Any, ...] = ()
            while time.monotonic() < deadline:
                state = system.sql(
                    "select status, setup_status, error_code from connections where id = %s",
                    cid,
                )[0]
                if state[1] == "activationFailed":
                    break
                time.sleep(0.25)
        with pytest.raises(BlockingIOError):
            sentinel.accept()  # nothing ever connected to the portal's host
    assert state == ("pendingActivation", "activationFailed", "institution_unavailable"), (
        state,
        system.logs(),
    )
    attempts = system.sql("select attempts from procrastinate_jobs where lock = %s", cid)
    assert attempts == [(2,)]  # retried like any unavailable portal, then terminal
    with system.bank() as bank:  # the demo user was never asked for
        assert bank.get(f"/delegatedUsers/{username}").status_code == 404
