from __future__ import annotations

from tests.api.conftest import MakeKey, assert_error


async def test_list_own_keys_and_reject_unknown_query(client, make_key: MakeKey) -> None:
    key = await make_key()
    response = await client.get("/v1/apiKeys", headers=key.headers)
    assert response.status_code == 200
    body = response.json()
    assert [k["id"] for k in body["data"]] == [key.key_id]
    assert body["pagination"] == {"hasMore": False, "nextCursor": None}
    bad = await client.get("/v1/apiKeys?colour=red", headers=key.headers)
    err = assert_error(bad, 422, "validation_error")
    assert err["error"]["details"]["errors"] == [  # type: ignore[index]
        {"field": "query.colour", "message": "unknown query parameter"}
    ]


async def test_missing_key_is_401_with_challenge(client) -> None:
    response = await client.get("/v1/apiKeys")
    assert_error(response, 401, "authentication_required")
    assert response.headers["www-authenticate"] == 'Bearer realm="waycore"'
