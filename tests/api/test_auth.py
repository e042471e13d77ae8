"""Authentication, partitions and scopes (API.md section 2)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from tests.api.conftest import MakeKey, assert_error
from waycore.domain.api_keys.models import ApiKey
from waycore.domain.common import utcnow
from waycore.ids import random_base32

CHALLENGE = 'Bearer realm="waycore"'


def assert_401(response, code: str) -> None:  # type: ignore[no-untyped-def]
    assert_error(response, 401, code)
    assert response.headers["www-authenticate"] == CHALLENGE
    assert "ratelimit-limit" not in response.headers


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic dXNlcjpwYXNz", "Token abc", "Bearer", "Bearer    ", "way_test_x"],
)
async def test_missing_or_non_bearer_is_authentication_required(client, header) -> None:
    headers = {} if header is None else {"Authorization": header}
    assert_401(await client.get("/v1/apiKeys", headers=headers), "authentication_required")


@pytest.mark.parametrize(
    "token",
    [
        "abc",
        "way_test_short_secret",
        "way_prod_" + "a" * 16 + "_" + "b" * 43,
        "way_test_" + "A" * 16 + "_" + "b" * 43,  # keyId is lowercase base32
        "way_test_" + "a" * 16 + "_" + "b" * 31,  # secret too short
        "way_test_" + "a" * 16 + "_" + "b" * 43 + "!",
    ],
)
async def test_malformed_key_is_invalid(client, token) -> None:
    response = await client.get("/v1/apiKeys", headers={"Authorization": f"Bearer {token}"})
    assert_401(response, "invalid_api_key")


async def test_unknown_key_id_and_wrong_secret_are_invalid(client, make_key: MakeKey) -> None:
    key = await make_key()
    unknown = f"way_test_{random_base32(16)}_{secrets.token_urlsafe(32)}"
    wrong_secret = f"way_test_{key.key_id}_{secrets.token_urlsafe(32)}"
    wrong_environment = key.key.replace("way_test_", "way_live_", 1)
    for token in (unknown, wrong_secret, wrong_environment):
        response = await client.get("/v1/apiKeys", headers={"Authorization": f"Bearer {token}"})
        assert_401(response, "invalid_api_key")
        assert token not in response.text
    assert (await client.get("/v1/apiKeys", headers=key.headers)).status_code == 200


async def test_scheme_is_case_insensitive(client, make_key: MakeKey) -> None:
    key = await make_key()
    for scheme in ("bearer", "BEARER", "BeArEr"):
        response = await client.get("/v1/apiKeys", headers={"Authorization": f"{scheme} {key.key}"})
        assert response.status_code == 200, response.text


async def test_revoked_key_is_invalid(client, app: FastAPI, make_key: MakeKey) -> None:
    key = await make_key()
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(ApiKey).where(ApiKey.id == key.key_id).values(revoked_at=utcnow())
        )
    # another process revoked it: the 1 s cache of this process has never seen the key
    assert_401(await client.get("/v1/apiKeys", headers=key.headers), "invalid_api_key")


async def test_expired_key_is_api_key_expired(client, app: FastAPI, make_key: MakeKey) -> None:
    key = await make_key()
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.key_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert_401(await client.get("/v1/apiKeys", headers=key.headers), "api_key_expired")


async def test_revoked_and_expired_key_is_invalid(client, app: FastAPI, make_key: MakeKey) -> None:
    key = await make_key()
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.key_id)
            .values(expires_at=utcnow() - timedelta(days=1), revoked_at=utcnow())
        )
    assert_401(await client.get("/v1/apiKeys", headers=key.headers), "invalid_api_key")


async def test_partitions_are_isolated(client, make_key: MakeKey) -> None:
    test_key = await make_key("test")
    live_key = await make_key("live", org=test_key.org)
    other_org = await make_key("test")
    listed = (await client.get("/v1/apiKeys", headers=test_key.headers)).json()["data"]
    assert [k["id"] for k in listed] == [test_key.key_id]
    listed = (await client.get("/v1/apiKeys", headers=live_key.headers)).json()["data"]
    assert [k["id"] for k in listed] == [live_key.key_id]
    for caller, foreign in ((test_key, live_key), (live_key, test_key), (other_org, test_key)):
        for method in ("GET", "DELETE"):
            response = await client.request(
                method, f"/v1/apiKeys/{foreign.key_id}", headers=caller.headers
            )
            assert_error(response, 404, "not_found")
    # nothing was revoked by the foreign DELETEs
    assert (await client.get("/v1/apiKeys", headers=test_key.headers)).status_code == 200
    assert (await client.get("/v1/apiKeys", headers=live_key.headers)).status_code == 200


async def test_missing_scope_is_403_with_sorted_missing_scopes(client, make_key: MakeKey) -> None:
    key = await make_key(scopes=["entities:read"])
    body = assert_error(
        await client.get("/v1/apiKeys", headers=key.headers), 403, "insufficient_scope"
    )
    assert body["error"]["details"] == {"missingScopes": ["apiKeys:read"]}  # type: ignore[index]
    writer = await make_key(scopes=["apiKeys:write", "accounts:read"])
    response = await client.post(
        "/v1/apiKeys",
        headers=writer.headers,
        json={"name": "x", "scopes": ["webhooks:read", "accounts:read", "entities:write"]},
    )
    body = assert_error(response, 403, "insufficient_scope")
    assert body["error"]["details"] == {  # type: ignore[index]
        "missingScopes": ["entities:write", "webhooks:read"]
    }


async def test_write_scope_implies_read(client, make_key: MakeKey) -> None:
    key = await make_key(scopes=["apiKeys:write"])
    assert (await client.get("/v1/apiKeys", headers=key.headers)).status_code == 200
    assert (await client.get(f"/v1/apiKeys/{key.key_id}", headers=key.headers)).status_code == 200
    response = await client.post(
        "/v1/apiKeys", headers=key.headers, json={"name": "reader", "scopes": ["apiKeys:read"]}
    )
    assert response.status_code == 201, response.text
    reader = response.json()["key"]
    response = await client.post(
        "/v1/apiKeys",
        headers={"Authorization": f"Bearer {reader}"},
        json={"name": "x", "scopes": ["apiKeys:read"]},
    )
    body = assert_error(response, 403, "insufficient_scope")
    assert body["error"]["details"] == {"missingScopes": ["apiKeys:write"]}  # type: ignore[index]
