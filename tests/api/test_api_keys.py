"""``/v1/apiKeys`` (API.md section 5)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from tests.api.conftest import MakeKey, TestKey, assert_error
from waycore.domain.api_keys.models import ApiKey
from waycore.domain.api_keys.scopes import ALL_SCOPES
from waycore.domain.common import utcnow

KEY = re.compile(r"^way_(live|test)_([a-z2-7]{16})_([A-Za-z0-9_-]{32,128})$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FIELDS = {
    "id", "name", "environment", "keyPrefix", "scopes", "status", "createdAt", "expiresAt",
    "lastUsedAt", "revokedAt", "createdByKeyId",
}  # fmt: skip


def _ts(value: str) -> datetime:
    assert TIMESTAMP.match(value), value
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


async def _create(client, caller: TestKey, **body: object) -> dict:  # type: ignore[no-untyped-def]
    body.setdefault("name", "minted")
    body.setdefault("scopes", ["apiKeys:read"])
    response = await client.post("/v1/apiKeys", headers=caller.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_create_returns_the_key_once(client, make_key: MakeKey) -> None:
    caller = await make_key()
    body = await _create(
        client, caller, name="ledger-sync", scopes=["transactions:read", "accounts:read"]
    )
    assert set(body) == FIELDS | {"key"}
    match = KEY.match(body["key"])
    assert match and match.group(1) == "test" and match.group(2) == body["id"]
    assert len(match.group(3)) == 43
    assert body["keyPrefix"] == f"way_test_{body['id']}"
    assert body["environment"] == "test" and body["status"] == "active"
    assert body["scopes"] == ["accounts:read", "transactions:read"]
    assert body["createdByKeyId"] == caller.key_id
    assert body["lastUsedAt"] is None and body["revokedAt"] is None
    lifetime = _ts(body["expiresAt"]) - _ts(body["createdAt"])
    assert abs(lifetime - timedelta(days=365)) <= timedelta(seconds=1)
    # the new key works, and later reads never show the secret
    new_headers = {"Authorization": f"Bearer {body['key']}"}
    assert (await client.get("/v1/accounts", headers=new_headers)).status_code != 401
    fetched = (await client.get(f"/v1/apiKeys/{body['id']}", headers=caller.headers)).json()
    assert set(fetched) == FIELDS
    listed = (await client.get("/v1/apiKeys", headers=caller.headers)).text
    assert body["key"].rsplit("_", 1)[1] not in listed


async def test_create_with_expiry_and_live_partition(client, make_key: MakeKey) -> None:
    caller = await make_key("live")
    body = await _create(client, caller, expiresInDays=1)
    assert body["environment"] == "live" and body["key"].startswith("way_live_")
    lifetime = _ts(body["expiresAt"]) - _ts(body["createdAt"])
    assert abs(lifetime - timedelta(days=1)) <= timedelta(seconds=1)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["name", "scopes"]),
        ({"name": "", "scopes": ["apiKeys:read"]}, ["name"]),
        ({"name": "x" * 101, "scopes": ["apiKeys:read"]}, ["name"]),
        ({"name": "a\x00b", "scopes": ["apiKeys:read"]}, ["name"]),
        ({"name": 5, "scopes": ["apiKeys:read"]}, ["name"]),
        ({"name": "x", "scopes": []}, ["scopes"]),
        ({"name": "x", "scopes": ["apiKeys:read", "apiKeys:read"]}, ["scopes"]),
        ({"name": "x", "scopes": ["everything"]}, ["scopes.0"]),
        ({"name": "x", "scopes": "apiKeys:read"}, ["scopes"]),
        ({"name": "x", "scopes": ["apiKeys:read"], "expiresInDays": 0}, ["expiresInDays"]),
        ({"name": "x", "scopes": ["apiKeys:read"], "expiresInDays": 731}, ["expiresInDays"]),
        ({"name": "x", "scopes": ["apiKeys:read"], "expiresInDays": "30"}, ["expiresInDays"]),
        ({"name": "x", "scopes": ["apiKeys:read"], "expiresInDays": True}, ["expiresInDays"]),
        ({"name": "x", "scopes": ["apiKeys:read"], "owner": "me"}, ["owner"]),
    ],
)
async def test_create_validation(client, make_key: MakeKey, body, fields) -> None:
    caller = await make_key()
    response = await client.post("/v1/apiKeys", headers=caller.headers, json=body)
    err = assert_error(response, 422, "validation_error")
    assert [e["field"] for e in err["error"]["details"]["errors"]] == fields  # type: ignore[index]
    listed = (await client.get("/v1/apiKeys", headers=caller.headers)).json()["data"]
    assert len(listed) == 1


async def test_body_is_validated_before_scopes_are_compared(client, make_key: MakeKey) -> None:
    caller = await make_key(scopes=["apiKeys:write"])
    response = await client.post(
        "/v1/apiKeys", headers=caller.headers, json={"name": "", "scopes": ["webhooks:write"]}
    )
    assert_error(response, 422, "validation_error")
    response = await client.post(
        "/v1/apiKeys", headers=caller.headers, json={"name": "x", "scopes": ["webhooks:write"]}
    )
    body = assert_error(response, 403, "insufficient_scope")
    assert body["error"]["details"] == {"missingScopes": ["webhooks:write"]}  # type: ignore[index]


async def test_minted_scopes_may_use_implied_reads(client, make_key: MakeKey) -> None:
    caller = await make_key(scopes=["apiKeys:write", "transfers:write"])
    body = await _create(client, caller, scopes=["transfers:read", "apiKeys:read"])
    assert body["scopes"] == ["transfers:read", "apiKeys:read"]


async def test_list_status_filter(client, app: FastAPI, make_key: MakeKey) -> None:
    caller = await make_key()
    revoked = await _create(client, caller, name="to-revoke")
    expired = await _create(client, caller, name="to-expire")
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == expired["id"])
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    await client.delete(f"/v1/apiKeys/{revoked['id']}", headers=caller.headers)

    async def ids(query: str) -> set[str]:
        response = await client.get(f"/v1/apiKeys{query}", headers=caller.headers)
        assert response.status_code == 200, response.text
        return {k["id"] for k in response.json()["data"]}

    assert await ids("") == {caller.key_id, revoked["id"], expired["id"]}
    assert await ids("?status=active") == {caller.key_id}
    assert await ids("?status=revoked") == {revoked["id"]}
    assert await ids("?status=expired") == {expired["id"]}
    fetched = await client.get(f"/v1/apiKeys/{expired['id']}", headers=caller.headers)
    assert fetched.json()["status"] == "expired"
    err = assert_error(
        await client.get("/v1/apiKeys?status=deleted", headers=caller.headers),
        422,
        "validation_error",
    )
    assert err["error"]["details"]["errors"][0]["field"] == "query.status"  # type: ignore[index]


async def test_pagination_with_cursors(client, make_key: MakeKey) -> None:
    caller = await make_key()
    for i in range(6):
        await _create(client, caller, name=f"k{i}")
    everything = (await client.get("/v1/apiKeys", headers=caller.headers)).json()["data"]
    assert len(everything) == 7
    order = [(k["createdAt"], k["id"]) for k in everything]
    assert order == sorted(order, reverse=True)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = (await client.get(f"/v1/apiKeys{query}", headers=caller.headers)).json()
        seen += [k["id"] for k in body["data"]]
        pages += 1
        assert body["meta"]["requestId"].startswith("req_")
        if not body["pagination"]["hasMore"]:
            assert body["pagination"]["nextCursor"] is None
            break
        cursor = body["pagination"]["nextCursor"]
        assert isinstance(cursor, str) and len(body["data"]) == 3
    assert seen == [k["id"] for k in everything] and pages == 3

    first = (await client.get("/v1/apiKeys?limit=2", headers=caller.headers)).json()
    cursor = first["pagination"]["nextCursor"]
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    for query in (
        f"?limit=2&cursor={tampered}",
        "?limit=2&cursor=not-a-cursor",
        f"?limit=2&status=active&cursor={cursor}",  # other filter
    ):
        response = await client.get(f"/v1/apiKeys{query}", headers=caller.headers)
        assert_error(response, 400, "invalid_cursor")
    other = await make_key(org=caller.org, environment="live")
    response = await client.get(f"/v1/apiKeys?cursor={cursor}", headers=other.headers)
    assert_error(response, 400, "invalid_cursor")
    for limit in ("0", "501", "abc", "1.5"):
        response = await client.get(f"/v1/apiKeys?limit={limit}", headers=caller.headers)
        err = assert_error(response, 422, "validation_error")
        assert err["error"]["details"]["errors"][0]["field"] == "query.limit"  # type: ignore[index]
    assert (await client.get("/v1/apiKeys?limit=500", headers=caller.headers)).status_code == 200


async def test_get_unknown_or_malformed_id_is_404(client, make_key: MakeKey) -> None:
    caller = await make_key()
    for key_id in ("aaaaaaaaaaaaaaaa", "not-a-key-id", "x" * 300, "%20"):
        response = await client.get(f"/v1/apiKeys/{key_id}", headers=caller.headers)
        assert_error(response, 404, "not_found")
        response = await client.delete(f"/v1/apiKeys/{key_id}", headers=caller.headers)
        assert_error(response, 404, "not_found")


async def test_revoke_is_repeatable_and_immediate(client, make_key: MakeKey) -> None:
    caller = await make_key()
    minted = await _create(client, caller)
    minted_headers = {"Authorization": f"Bearer {minted['key']}"}
    assert (await client.get("/v1/apiKeys", headers=minted_headers)).status_code == 200
    first = await client.delete(f"/v1/apiKeys/{minted['id']}", headers=caller.headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "revoked" and first.json()["revokedAt"] is not None
    # refused from the very next request on this process, although it was cached
    response = await client.get("/v1/apiKeys", headers=minted_headers)
    assert_error(response, 401, "invalid_api_key")
    again = await client.delete(f"/v1/apiKeys/{minted['id']}", headers=caller.headers)
    assert again.status_code == 200
    assert again.json() == first.json()


async def test_a_key_can_revoke_itself(client, make_key: MakeKey) -> None:
    key = await make_key()
    assert (await client.get("/v1/apiKeys", headers=key.headers)).status_code == 200
    response = await client.delete(f"/v1/apiKeys/{key.key_id}", headers=key.headers)
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert_error(await client.get("/v1/apiKeys", headers=key.headers), 401, "invalid_api_key")


async def test_revoke_takes_no_body(client, make_key: MakeKey) -> None:
    caller = await make_key()
    minted = await _create(client, caller)
    response = await client.request(
        "DELETE", f"/v1/apiKeys/{minted['id']}", headers=caller.headers, json={"reason": "x"}
    )
    err = assert_error(response, 422, "validation_error")
    assert err["error"]["details"]["errors"] == [{"field": "reason", "message": "unknown field"}]  # type: ignore[index]
    response = await client.request(
        "DELETE", f"/v1/apiKeys/{minted['id']}", headers=caller.headers, json={}
    )
    assert response.status_code == 200


async def test_cli_keys_hold_every_scope(make_key: MakeKey, client) -> None:
    key = await make_key(scopes=None)
    body = (await client.get(f"/v1/apiKeys/{key.key_id}", headers=key.headers)).json()
    assert body["scopes"] == list(ALL_SCOPES) and body["createdByKeyId"] is None
