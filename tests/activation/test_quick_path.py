"""Quick-path activations end to end: API → job → worker (real Chromium) → Sandbox Bank."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.activation.system import System, is_active_and_synced, setup_status

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _user(suffix: str = "") -> str:
    return f"demo-{secrets.token_hex(3)}{suffix}"


def _events(system: System, connection_id: str, type_: str) -> list[dict[str, Any]]:
    rows = system.sql(
        "select data from events where type = %s and data->>'connectionId' = %s "
        "order by created_at, xmin::text::bigint, id",
        type_,
        connection_id,
    )
    return [r[0] for r in rows]


def test_demo_user_activates_and_syncs_full_history(system: System) -> None:
    api = system.client()
    with system.worker():
        cid = api.demo_connection(_user())
        done = api.wait_for(cid, is_active_and_synced)
    assert done["kind"] == "ready" and done["setup"] is None and done["errorCode"] is None
    assert done["nextSyncAt"] is not None
    statuses = [
        (e["previousStatus"], e["status"])
        for e in _events(system, cid, "connection.status_changed")
    ]
    assert statuses == [("draft", "pendingActivation"), ("pendingActivation", "active")]
    assert len(_events(system, cid, "account.created")) == 3
    available = _events(system, cid, "transactions.sync_available")
    assert len(available) == 1 and available[0]["added"] > 0
    count = system.sql("select count(*) from transactions where connection_id = %s", cid)[0][0]
    assert count == available[0]["added"]


def test_demo_otp_reads_the_emailed_code_from_the_inbox(system: System) -> None:
    api = system.client()
    with system.worker(WAYCORE_INBOX_CODE_TIMEOUT_S="30"):
        cid = api.demo_connection(_user("+otp"))
        done = api.wait_for(cid, is_active_and_synced)
    assert done["status"] == "active"
    assert _events(system, cid, "connection.verification_code_required") == []
    received = system.sql(
        "select count(*) from inbox_messages where connection_id = %s and code_sealed is not null",
        cid,
    )[0][0]
    assert received >= 1


def test_wrong_password_waits_for_credentials_without_retrying(system: System) -> None:
    api = system.client()
    with system.worker():
        cid = api.demo_connection(_user(), password="wrong")
        done = api.wait_for(cid, setup_status("awaitingCredentials"))
    assert done["status"] == "pendingActivation"
    assert done["errorCode"] == "invalid_credentials"
    assert done["setup"]["nextAction"] == "submitCredentials"
    jobs = system.sql("select status::text, attempts from procrastinate_jobs where lock = %s", cid)
    assert jobs == [("succeeded", 1)]  # no retry storm
    # new credentials start a new attempt, which succeeds
    with system.worker():
        api.credentials(cid, password="demo-password")
        api.wait_for(cid, is_active_and_synced)


def test_locked_user_fails_activation(system: System) -> None:
    api = system.client()
    with system.worker():
        cid = api.demo_connection(_user("+locked"))
        done = api.wait_for(cid, setup_status("activationFailed"))
    assert done["errorCode"] == "account_locked"
    assert done["setup"]["nextAction"] == "submitCredentials"
    assert done["nextSyncAt"] is None


def test_hardware_token_waits_for_the_end_users_code(system: System) -> None:
    api = system.client()
    with system.worker(WAYCORE_VERIFICATION_TIMEOUT_S="120"):
        cid = api.demo_connection(_user("+hardware"))
        waiting = api.wait_for(cid, setup_status("awaitingVerificationCode"))
        assert waiting["setup"]["nextAction"] == "submitVerificationCode"
        (event,) = _events(system, cid, "connection.verification_code_required")
        assert event["channel"] == "hardwareToken" and event["expiresAt"]
        response = api.call(
            "PUT", f"/v1/connections/{cid}/verificationCode", json={"code": "123456"}
        )
        assert response.status_code == 200, response.text
        done = api.wait_for(cid, is_active_and_synced)
    assert done["kind"] == "ready"
