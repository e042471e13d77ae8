"""``Idempotency-Key`` on POST (API.md section 4.2)."""

from __future__ import annotations

import json
import secrets

from fastapi import FastAPI

from tests.api.conftest import MakeKey, TestKey, assert_error
from waycore.api import idempotency
from waycore.domain.api_keys.service import partition_of

BODY = {"name": "idem", "scopes": ["apiKeys:read"]}


async def _count(client, key: TestKey) -> int:  # type: ignore[no-untyped-def]
    return len((await client.get("/v1/apiKeys", headers=key.headers)).json()["data"])


async def test_replay_returns_the_same_body_and_creates_nothing(client, make_key: MakeKey) -> None:
    key = await make_key()
    headers = {**key.headers, "Idempotency-Key": "create-1"}
    first = await client.post("/v1/apiKeys", headers=headers, json=BODY)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    count = await _count(client, key)
    # same fingerprint: key order and whitespace of the JSON do not matter
    raw = json.dumps({"scopes": ["apiKeys:read"], "name": "idem"}, indent=2).encode()
    second = await client.post(
        "/v1/apiKeys", headers={**headers, "Content-Type": "application/json"}, content=raw
    )
    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert await _count(client, key) == count


async def test_different_body_path_or_method_is_reused(client, make_key: MakeKey) -> None:
    key = await make_key()
    headers = {**key.headers, "Idempotency-Key": "create-2"}
    assert (await client.post("/v1/apiKeys", headers=headers, json=BODY)).status_code == 201
    count = await _count(client, key)
    response = await client.post("/v1/apiKeys", headers=headers, json={**BODY, "name": "other"})
    assert_error(response, 409, "idempotency_key_reused")
    assert await _count(client, key) == count


async def test_keys_are_scoped_to_the_partition(client, make_key: MakeKey) -> None:
    test_key = await make_key()
    live_key = await make_key("live", org=test_key.org)
    for key in (test_key, live_key):
        response = await client.post(
            "/v1/apiKeys", headers={**key.headers, "Idempotency-Key": "shared"}, json=BODY
        )
        assert response.status_code == 201 and "idempotent-replayed" not in response.headers


async def test_in_flight_request_is_in_use(client, app: FastAPI, make_key: MakeKey) -> None:
    key = await make_key()
    raw = json.dumps(BODY).encode()
    name = f"in-flight-{secrets.token_hex(4)}"
    # a first request (another API process) has claimed the key and is still running
    async with app.state.sessionmaker() as session:
        from waycore.domain.api_keys.models import ApiKey

        async with session.begin():
            row = await session.get(ApiKey, key.key_id)
    assert row is not None
    reservation = await idempotency.reserve(
        app.state.engine,
        partition_of(row),
        name,
        idempotency.fingerprint("POST", "/v1/apiKeys", raw),
    )
    headers = {**key.headers, "Idempotency-Key": name, "Content-Type": "application/json"}
    response = await client.post("/v1/apiKeys", headers=headers, content=raw)
    assert_error(response, 409, "idempotency_key_in_use")
    assert response.headers["retry-after"] == "1"
    response = await client.post("/v1/apiKeys", headers=headers, content=b'{"name": "x"}')
    assert_error(response, 409, "idempotency_key_reused")
    # the first request fails with a 5xx: nothing stored, the retry runs
    await idempotency.finish(app.state.engine, reservation, 500, b"")
    response = await client.post("/v1/apiKeys", headers=headers, content=raw)
    assert response.status_code == 201 and "idempotent-replayed" not in response.headers


async def test_rejections_are_not_stored(client, make_key: MakeKey) -> None:
    key = await make_key(scopes=["apiKeys:write"])
    headers = {**key.headers, "Idempotency-Key": "fix-and-retry"}
    response = await client.post("/v1/apiKeys", headers=headers, json={"name": "", "scopes": []})
    assert_error(response, 422, "validation_error")
    response = await client.post(
        "/v1/apiKeys", headers=headers, json={"name": "x", "scopes": ["webhooks:read"]}
    )
    assert_error(response, 403, "insufficient_scope")
    response = await client.post("/v1/apiKeys", headers=headers, json=BODY)
    assert response.status_code == 201 and "idempotent-replayed" not in response.headers
    replay = await client.post("/v1/apiKeys", headers=headers, json=BODY)
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == response.json()


async def test_handler_404_is_stored(client, make_key: MakeKey) -> None:
    key = await make_key()
    # DELETE ignores the header (idempotent by definition): both answers are fresh
    headers = {**key.headers, "Idempotency-Key": "ignored"}
    response = await client.delete("/v1/apiKeys/aaaaaaaaaaaaaaaa", headers=headers)
    assert_error(response, 404, "not_found")
    assert "idempotent-replayed" not in response.headers


async def test_key_header_format(client, make_key: MakeKey) -> None:
    key = await make_key()
    for bad in ("x" * 256, " leading", "trailing ", "tab\tinside"):
        response = await client.post(
            "/v1/apiKeys", headers={**key.headers, "Idempotency-Key": bad}, json=BODY
        )
        err = assert_error(response, 422, "validation_error")
        assert err["error"]["details"]["errors"] == [  # type: ignore[index]
            {
                "field": "header.Idempotency-Key",
                "message": "must be 1-255 printable ASCII characters",
            }
        ]
    for good in ("x" * 255, "a b", "~!@#"):
        response = await client.post(
            "/v1/apiKeys", headers={**key.headers, "Idempotency-Key": good}, json=BODY
        )
        assert response.status_code == 201, response.text
