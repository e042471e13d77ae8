"""Connection setup and lifecycle: credentials, setupCompletion, verificationCode, sync, PATCH,
revoke; events, audit, jobs; secrets never in responses, logs or the database."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.conftest import MakeKey, assert_error
from tests.api.conftest import TestKey as Key
from tests.api.connections_helpers import (
    audit_actions,
    force_state,
    jobs,
    new_connection,
    sql,
    status_events,
)
from waycore.config import Settings
from waycore.vault.datakeys import decrypt_for_org

DONE = {"delegatedUserActive": True, "termsAccepted": True}
WITH_SETUP = ["draft", "pendingActivation", "reauthRequired"]


def _url(cid: str, suffix: str = "") -> str:
    return f"/v1/connections/{cid}{suffix}"


def _fields(response: httpx.Response) -> list[str]:
    body = assert_error(response, 422, "validation_error")
    return [e["field"] for e in body["error"]["details"]["errors"]]  # type: ignore[index]


async def _made(client: httpx.AsyncClient, key: Key) -> dict[str, Any]:
    return await new_connection(client, key, portalUrl=f"https://b{secrets.token_hex(3)}.example")


async def test_credentials_are_sealed_never_echoed_and_clearable(
    client: httpx.AsyncClient, make_key: MakeKey, app: FastAPI
) -> None:
    key = await make_key()
    conn = await _made(client, key)
    cid = conn["id"]
    password = "Pw-" + secrets.token_hex(8)
    put = await client.put(
        _url(cid, "/credentials"),
        headers=key.headers,
        json={"bankUsername": "delegate1", "bankCustomerId": "ACME-7", "password": password},
    )
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["status"] == "draft"
    assert body["setup"]["status"] == "awaitingDelegatedUserCreation"
    assert body["setup"]["credentialsPresent"] is True
    assert password not in put.text and "delegate1" not in put.text and "ACME-7" not in put.text
    row = (
        await sql(
            app,
            "select password, bank_username, bank_customer_id, data_key_id "
            "from connection_credentials where connection_id = :c",
            c=cid,
        )
    )[0]
    assert password.encode() not in bytes(row[0]) and b"delegate1" not in bytes(row[1])
    async with app.state.sessionmaker() as session, session.begin():
        plain = await decrypt_for_org(
            session, app.state.keyring, key.org_id, bytes(row[0]), f"{cid}:password".encode()
        )
        assert plain == password.encode()
    assert row[3].startswith("dk")
    # omitted = unchanged, null = clear
    cleared = await client.put(
        _url(cid, "/credentials"), headers=key.headers, json={"password": None}
    )
    assert cleared.json()["setup"]["credentialsPresent"] is True
    stored = await sql(
        app,
        "select password is null, bank_username is not null from connection_credentials "
        "where connection_id = :c",
        c=cid,
    )
    assert stored == [(True, True)]
    none_left = await client.put(
        _url(cid, "/credentials"),
        headers=key.headers,
        json={"bankUsername": None, "bankCustomerId": None},
    )
    assert none_left.json()["setup"]["credentialsPresent"] is False
    assert await jobs(app, cid) == []  # credentials in draft start nothing
    assert await audit_actions(app, cid) == ["connection.create"] + ["connection.credentials"] * 3


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, ""),
        ({"password": ""}, "password"),
        ({"password": "x" * 257}, "password"),
        ({"password": 12345}, "password"),
        ({"password": "a\nb"}, "password"),
        ({"bankUsername": ["u"]}, "bankUsername"),
        ({"password": "x", "pin": "1"}, "pin"),
    ],
)
async def test_credentials_validation(
    client: httpx.AsyncClient, make_key: MakeKey, app: FastAPI, payload: object, field: str
) -> None:
    key = await make_key()
    cid = (await _made(client, key))["id"]
    response = await client.put(_url(cid, "/credentials"), headers=key.headers, json=payload)
    assert field in _fields(response)
    assert "x" * 257 not in response.text and "12345" not in response.text
    assert (
        await sql(app, "select 1 from connection_credentials where connection_id = :c", c=cid) == []
    )


async def test_setup_completion_moves_to_activating_with_one_job(
    client: httpx.AsyncClient, make_key: MakeKey, app: FastAPI
) -> None:
    key = await make_key()
    cid = (await _made(client, key))["id"]
    for payload in (
        {"delegatedUserActive": False, "termsAccepted": True},
        {"delegatedUserActive": True, "termsAccepted": False},
        {"delegatedUserActive": True},
        {"delegatedUserActive": "true", "termsAccepted": True},
        {"delegatedUserActive": 1, "termsAccepted": True},
        {},
    ):
        response = await client.put(
            _url(cid, "/setupCompletion"), headers=key.headers, json=payload
        )
        assert _fields(response), payload
    assert await jobs(app, cid) == []
    done = await client.put(_url(cid, "/setupCompletion"), headers=key.headers, json=DONE)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "pendingActivation"
    assert body["setup"]["status"] == "activating"
    assert (body["setup"]["nextAction"], body["setup"]["actionRequiredBy"]) == (
        "waitForActivation",
        "waycore",
    )
    assert await jobs(app, cid) == [("connection.activate", "todo", "activation")]
    events = await status_events(app, cid)
    assert events == [
        {
            "connectionId": cid,
            "entityId": body["entityId"],
            "status": "pendingActivation",
            "previousStatus": "draft",
            "errorCode": None,
        }
    ]
    again = await client.put(_url(cid, "/setupCompletion"), headers=key.headers, json=DONE)
    assert again.status_code == 200 and again.json() == body
    # credentials while activating: stored, no second attempt
    creds = await client.put(_url(cid, "/credentials"), headers=key.headers, json={"password": "p"})
    assert creds.status_code == 200 and creds.json()["setup"]["status"] == "activating"
    assert len(await jobs(app, cid)) == 1
    assert len(await status_events(app, cid)) == 1


async def test_new_attempts_from_failed_setup_and_reauth(
    client: httpx.AsyncClient, make_key: MakeKey, app: FastAPI
) -> None:
    key = await make_key()
    cid = (await _made(client, key))["id"]
    await client.put(_url(cid, "/setupCompletion"), headers=key.headers, json=DONE)
    await sql(app, "update procrastinate_jobs set status = 'succeeded' where lock = :c", c=cid)
    await force_state(
        app, cid, setup_status="awaitingCredentials", error_code="invalid_credentials"
    )
    got = (await client.get(_url(cid), headers=key.headers)).json()
    assert (got["setup"]["nextAction"], got["setup"]["actionRequiredBy"]) == (
        "submitCredentials",
        "endUser",
    )
    assert got["errorCode"] == "invalid_credentials"
    retry = await client.put(_url(cid, "/credentials"), headers=key.headers, json={"password": "n"})
    assert retry.json()["setup"]["status"] == "activating"
    assert [j[1] for j in await jobs(app, cid)] == ["succeeded", "todo"]

    await sql(app, "update procrastinate_jobs set status = 'failed' where lock = :c", c=cid)
    for code, expected in (
        ("permission_denied", ("createDelegatedUser", "endUser")),
        ("account_locked", ("submitCredentials", "endUser")),
        ("internal_error", ("contactSupport", "integrator")),
    ):
        await force_state(app, cid, setup_status="activationFailed", error_code=code)
        setup = (await client.get(_url(cid), headers=key.headers)).json()["setup"]
        assert (setup["nextAction"], setup["actionRequiredBy"]) == expected
    again = await client.put(_url(cid, "/setupCompletion"), headers=key.headers, json=DONE)
    assert again.json()["setup"]["status"] == "activating"
    assert [j[1] for j in await jobs(app, cid)] == ["failed", "failed", "todo"]

    await sql(app, "update procrastinate_jobs set status = 'succeeded' where lock = :c", c=cid)
    await force_state(
        app, cid, status="reauthRequired", kind="ready", setup_status="awaitingCredentials"
    )
    reauth = await client.put(_url(cid, "/setupCompletion"), headers=key.headers, json=DONE)
    assert reauth.json()["status"] == "reauthRequired"
    assert reauth.json()["setup"]["status"] == "activating"
    assert [j[1] for j in await jobs(app, cid)][-1] == "todo"


async def test_state_refusals(client: httpx.AsyncClient, make_key: MakeKey, app: FastAPI) -> None:
    key = await make_key()
    cid = (await _made(client, key))["id"]
    refused = assert_error(
        await client.put(
            _url(cid, "/verificationCode"), headers=key.headers, json={"code": "1234"}
        ),
        409,
        "invalid_state",
    )
    assert refused["error"]["details"] == {  # type: ignore[index]
        "currentStatus": "awaitingDelegatedUserCreation",
        "allowedStatuses": ["awaitingVerificationCode"],
    }
    refused = assert_error(
        await client.put(_url(cid, "/sync"), headers=key.headers), 409, "invalid_state"
    )
    assert refused["error"]["details"] == {  # type: ignore[index]
        "currentStatus": "draft",
        "allowedStatuses": ["active"],
    }
    refused = assert_error(
        await client.patch(_url(cid), headers=key.headers, json={"status": "paused"}),
        409,
        "invalid_state",
    )
    assert refused["error"]["details"]["currentStatus"] == "draft"  # type: ignore[index]
    for code in ("123", "1234567890123", "12 34", "12-34"):
        assert "code" in _fields(
            await client.put(
                _url(cid, "/verificationCode"), headers=key.headers, json={"code": code}
            )
        )
    assert "" in _fields(
        await client.put(_url(cid, "/sync"), headers=key.headers, json={"x": 1})
    ) or "x" in _fields(await client.put(_url(cid, "/sync"), headers=key.headers, json={"x": 1}))
    await force_state(app, cid, status="active", kind="ready", setup_status=None)
    for suffix, payload in (("/credentials", {"password": "p"}), ("/setupCompletion", DONE)):
        refused = assert_error(
            await client.put(_url(cid, suffix), headers=key.headers, json=payload),
            409,
            "invalid_state",
        )
        assert refused["error"]["details"] == {  # type: ignore[index]
            "currentStatus": "active",
            "allowedStatuses": WITH_SETUP,
        }
    assert await jobs(app, cid) == []


async def test_verification_code_goes_to_the_waiting_session_sealed(
    client: httpx.AsyncClient, make_key: MakeKey, app: FastAPI
) -> None:
    key = await make_key()
    cid = (await _made(client, key))["id"]
    await client.put(_url(cid, "/setupCompletion"), headers=key.headers, json=DONE)
    await force_state(app, cid, setup_status="awaitingVerificationCode")
    got = (await client.get(_url(cid), headers=key.headers)).json()
    assert got["setup"]["nextAction"] == "submitVerificationCode"
    response = await client.put(
        _url(cid, "/verificationCode"), headers=key.headers, json={"code": "Ab12Z9"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["setup"]["status"] == "activating"
    assert "Ab12Z9" not in response.text
    rows = await sql(
        app, "select verification_code from connection_credentials where connection_id = :c", c=cid
    )
    assert b"Ab12Z9" not in bytes(rows[0][0])


async def test_sync_and_pause_resume(
    client: httpx.AsyncClient, make_key: MakeKey, app: FastAPI
) -> None:
    key = await make_key()
    conn = await _made(client, key)
    cid = conn["id"]
    await force_state(app, cid, status="active", kind="ready", setup_status=None)
    active = (await client.get(_url(cid), headers=key.headers)).json()
    assert active["setup"] is None and active["kind"] == "ready"
    sync = await client.put(_url(cid, "/sync"), headers=key.headers)
    assert sync.status_code == 202, sync.text
    body = sync.json()
    assert list(body) == ["syncId", "connectionId", "status"]
    assert body["connectionId"] == cid and body["status"] == "queued"
    assert (await client.get(_url(cid), headers=key.headers)).json()["syncStatus"] == "syncing"
    busy = assert_error(
        await client.put(_url(cid, "/sync"), headers=key.headers), 409, "sync_in_progress"
    )
    assert busy["error"]["details"] == {"syncId": body["syncId"]}  # type: ignore[index]
    assert await jobs(app, cid) == [("connection.sync", "todo", "sync")]

    paused = await client.patch(_url(cid), headers=key.headers, json={"status": "paused"})
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert paused.json()["syncStatus"] == "idle"
    assert await jobs(app, cid) == [("connection.sync", "cancelled", "sync")]
    same = await client.patch(_url(cid), headers=key.headers, json={"status": "paused"})
    assert same.status_code == 200 and same.json()["status"] == "paused"
    assert_error(await client.put(_url(cid, "/sync"), headers=key.headers), 409, "invalid_state")
    resumed = await client.patch(_url(cid), headers=key.headers, json={"status": "active"})
    assert resumed.json()["status"] == "active" and resumed.json()["syncStatus"] == "syncing"
    assert [j[1] for j in await jobs(app, cid)] == ["cancelled", "todo"]
    assert sorted((e["previousStatus"], e["status"]) for e in await status_events(app, cid)) == [
        ("active", "paused"),
        ("paused", "active"),
    ]
    for payload in ({"status": "errored"}, {"status": None}, {}, {"metadata": []}, {"kind": "x"}):
        assert _fields(await client.patch(_url(cid), headers=key.headers, json=payload)), payload


async def test_patch_metadata_and_revoke(
    client: httpx.AsyncClient, make_key: MakeKey, app: FastAPI
) -> None:
    key = await make_key()
    conn = await _made(client, key)
    cid = conn["id"]
    patched = await client.patch(_url(cid), headers=key.headers, json={"metadata": {"a": "1"}})
    assert patched.status_code == 200 and patched.json()["metadata"] == {"a": "1"}
    cleared = await client.patch(_url(cid), headers=key.headers, json={"metadata": None})
    assert cleared.json()["metadata"] == {}
    too_many = {f"k{i}": "v" for i in range(51)}
    assert "metadata" in _fields(
        await client.patch(_url(cid), headers=key.headers, json={"metadata": too_many})
    )
    await client.put(_url(cid, "/credentials"), headers=key.headers, json={"password": "secret1"})
    await client.put(_url(cid, "/setupCompletion"), headers=key.headers, json=DONE)
    phone = conn["setup"]["instructions"]["phoneNumber"]

    revoked = await client.delete(_url(cid), headers=key.headers)
    assert revoked.status_code == 200, revoked.text
    body = revoked.json()
    assert body["status"] == "revoked" and body["setup"] is None
    again = await client.delete(_url(cid), headers=key.headers)
    assert again.status_code == 200 and again.json() == body
    assert (
        await sql(app, "select 1 from connection_credentials where connection_id = :c", c=cid) == []
    )
    assert await sql(app, "select 1 from phone_leases where number = :n", n=phone) == []
    assert [j[1] for j in await jobs(app, cid)] == ["cancelled"]
    # one second's events carry one timestamp: compare without order
    assert sorted((e["previousStatus"], e["status"]) for e in await status_events(app, cid)) == [
        ("draft", "pendingActivation"),
        ("pendingActivation", "revoked"),
    ]
    assert await audit_actions(app, cid) == [
        "connection.create",
        "connection.update",
        "connection.update",
        "connection.credentials",
        "connection.setupCompletion",
        "connection.revoke",
    ]
    refusals = [
        await client.patch(_url(cid), headers=key.headers, json={"metadata": {}}),
        await client.put(_url(cid, "/credentials"), headers=key.headers, json={"password": "x"}),
        await client.put(_url(cid, "/setupCompletion"), headers=key.headers, json=DONE),
        await client.put(
            _url(cid, "/verificationCode"), headers=key.headers, json={"code": "1234"}
        ),
        await client.put(_url(cid, "/sync"), headers=key.headers),
    ]
    for response in refusals:
        details = assert_error(response, 409, "invalid_state")["error"]["details"]  # type: ignore[index]
        assert details["currentStatus"] == "revoked"  # type: ignore[index]
    assert (await client.get(_url(cid), headers=key.headers)).json() == body
    # a new connection to the same portal may be created after revocation
    fresh = await client.post(
        "/v1/connections", headers=key.headers, json={"portalUrl": conn["portalUrl"]}
    )
    assert fresh.status_code == 201 and fresh.json()["id"] != cid


async def test_planted_secrets_never_leak(
    client: httpx.AsyncClient,
    make_key: MakeKey,
    app: FastAPI,
    settings: Settings,
    capfd: pytest.CaptureFixture[str],
) -> None:
    key = await make_key()
    cid = (await _made(client, key))["id"]
    password = "Planted-" + secrets.token_urlsafe(12)
    seen: list[str] = []
    for payload in (
        {"password": password, "bankUsername": password + "u"},
        {"password": password + "x" * 300},  # rejected: the message must not echo it
        {"password": password, "pin": password},
    ):
        response = await client.put(_url(cid, "/credentials"), headers=key.headers, json=payload)
        seen.append(response.text)
    seen.append((await client.get(_url(cid), headers=key.headers)).text)
    seen.append((await client.get("/v1/connections", headers=key.headers)).text)
    captured = capfd.readouterr()
    master = app.state.keyring.current
    needles = [password, base64.b64encode(master).decode(), master.hex()]
    needles.append(settings.master_key_file.read_text().split(":", 1)[1].split(",")[0].strip())
    haystacks = [*seen, captured.out, captured.err]
    tables = await sql(
        app,
        "select table_name from information_schema.tables "
        "where table_schema = 'public' and table_type = 'BASE TABLE'",
    )
    for (table,) in tables:
        rows = await sql(app, f'select row_to_json(t)::text from "{table}" t')
        haystacks.extend(r[0] for r in rows)
    for needle in needles:
        hexed = needle.encode().hex()
        for haystack in haystacks:
            assert needle not in haystack
            assert hexed not in haystack
    assert captured.out  # the request log lines were captured
