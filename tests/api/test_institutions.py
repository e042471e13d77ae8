"""``/v1/institutions`` on the real app (API.md section 7)."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import MakeKey, assert_error
from waycore.domain.institutions.urls import normalize_portal_url

FIELDS = {
    "institutionId",
    "name",
    "country",
    "defaultPortalUrl",
    "portalUrls",
    "domains",
    "guideUrl",
    "automation",
    "capabilities",
}


async def _all(client, key, **params: str) -> list[dict]:
    """Every page of the list, following cursors."""
    items: list[dict] = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = await client.get("/v1/institutions", params=query, headers=key.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["data"]
        if not body["pagination"]["hasMore"]:
            assert body["pagination"]["nextCursor"] is None
            return items
        cursor = body["pagination"]["nextCursor"]


async def test_test_environment_is_exactly_the_sandbox_bank(client, settings, make_key) -> None:
    key = await make_key("test", scopes=["connections:read"])
    response = await client.get("/v1/institutions", headers=key.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"hasMore": False, "nextCursor": None}
    assert body["data"] == [
        {
            "institutionId": "sandbox_bank",
            "name": "Sandbox Bank",
            "country": "US",
            "defaultPortalUrl": normalize_portal_url(settings.sandbox_bank_url),
            "portalUrls": [],
            "domains": ["localhost"],
            "guideUrl": f"{settings.public_url}/guides/sandbox_bank",
            "automation": "connector",
            "capabilities": {
                "accounts": True,
                "transactions": True,
                "statements": True,
                "transfers": True,
            },
        }
    ]
    got = await client.get("/v1/institutions/sandbox_bank", headers=key.headers)
    assert got.status_code == 200 and got.json() == body["data"][0]
    assert_error(
        await client.get("/v1/institutions/jpmorgan_chase", headers=key.headers), 404, "not_found"
    )


async def test_live_catalogue(client, settings, make_key: MakeKey) -> None:
    key = await make_key("live", scopes=["connections:read"])
    items = await _all(client, key, limit="7")
    assert len(items) >= 40
    assert "sandbox_bank" not in {i["institutionId"] for i in items}
    assert items == sorted(items, key=lambda i: (i["name"], i["institutionId"]))
    assert len({i["institutionId"] for i in items}) == len(items)
    assert {"US", "GB"} <= {i["country"] for i in items}
    assert len({i["country"] for i in items} - {"US", "GB"}) >= 5  # EU members
    for item in items:
        assert set(item) == FIELDS
        assert re.fullmatch(r"[a-z0-9_]{2,64}", item["institutionId"])
        assert item["automation"] == "operatorAssisted"
        assert item["guideUrl"] == f"{settings.public_url}/guides/{item['institutionId']}"
        for url in [item["defaultPortalUrl"], *item["portalUrls"]]:
            assert url == normalize_portal_url(url) and url.startswith("https://")
            host = url.split("/")[2]
            assert any(host == d or host.endswith("." + d) for d in item["domains"]), url
        assert item["domains"] == [d.lower() for d in item["domains"]]
    got = await client.get("/v1/institutions/jpmorgan_chase", headers=key.headers)
    assert got.status_code == 200 and got.json()["name"] == "JPMorgan Chase Bank"
    assert_error(
        await client.get("/v1/institutions/sandbox_bank", headers=key.headers), 404, "not_found"
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"query": "barclays"}, ["barclays_uk"]),
        ({"query": "BARCLAYS"}, ["barclays_uk"]),
        ({"query": "JPMorgan"}, ["jpmorgan_chase"]),
        ({"query": "chase.com"}, ["jpmorgan_chase"]),  # a host
        ({"query": "secure.chase"}, ["jpmorgan_chase"]),  # a portal URL
        ({"query": "https://cashpro"}, ["bank_of_america"]),
        ({"query": "wells_fargo"}, ["wells_fargo"]),  # an id
        ({"query": "zzz-no-such-bank"}, []),
        ({"country": "IE"}, ["aib", "bank_of_ireland"]),
        ({"country": "ie"}, ["aib", "bank_of_ireland"]),
        ({"country": "JP"}, []),
        ({"country": "NL", "query": "ING"}, ["ing_nl"]),
    ],
)
async def test_search(client, make_key: MakeKey, params: dict, expected: list[str]) -> None:
    key = await make_key("live", scopes=["connections:read"])
    items = await _all(client, key, **params)
    assert [i["institutionId"] for i in items] == expected


async def test_search_in_test_environment(client, make_key: MakeKey) -> None:
    key = await make_key("test", scopes=["connections:read"])
    assert [i["institutionId"] for i in await _all(client, key, query="sandbox")] == [
        "sandbox_bank"
    ]
    assert await _all(client, key, query="barclays") == []
    assert await _all(client, key, country="GB") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("country=USA", "query.country"),
        ("country=ZZ", "query.country"),
        ("country=1A", "query.country"),
        ("limit=0", "query.limit"),
        ("limit=501", "query.limit"),
        ("limit=x", "query.limit"),
        ("query=" + "q" * 201, "query.query"),
        ("query=a%00b", "query.query"),
        ("name=chase", "query.name"),
    ],
)
async def test_bad_queries_are_422(client, make_key: MakeKey, query: str, field: str) -> None:
    key = await make_key("live", scopes=["connections:read"])
    response = await client.get(f"/v1/institutions?{query}", headers=key.headers)
    body = assert_error(response, 422, "validation_error")
    assert [e["field"] for e in body["error"]["details"]["errors"]] == [field]  # type: ignore[index]


async def test_cursors_are_bound_and_signed(client, make_key: MakeKey) -> None:
    key = await make_key("live", scopes=["connections:read"])
    other_org = await make_key("live", scopes=["connections:read"])
    same_org_test = await make_key("test", org=key.org, scopes=["connections:read"])
    first = (await client.get("/v1/institutions?limit=3", headers=key.headers)).json()
    cursor = first["pagination"]["nextCursor"]
    second = await client.get(
        "/v1/institutions", params={"limit": 3, "cursor": cursor}, headers=key.headers
    )
    assert second.status_code == 200
    assert second.json()["data"][0]["name"] >= first["data"][-1]["name"]
    tampered = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    cases = [
        ({"cursor": tampered}, key),
        ({"cursor": "garbage"}, key),
        ({"cursor": cursor}, other_org),
        ({"cursor": cursor}, same_org_test),
        ({"cursor": cursor, "country": "US"}, key),
        ({"cursor": cursor, "query": "bank"}, key),
    ]
    for params, who in cases:
        response = await client.get("/v1/institutions", params=params, headers=who.headers)
        assert_error(response, 400, "invalid_cursor")
    entities_cursor = await client.get(
        "/v1/entities", params={"cursor": cursor}, headers=key.headers
    )
    assert entities_cursor.status_code in (400, 403)


async def test_auth_and_scope(client, make_key: MakeKey) -> None:
    assert_error(await client.get("/v1/institutions"), 401, "authentication_required")
    assert_error(await client.get("/v1/institutions/sandbox_bank"), 401, "authentication_required")
    bad = {"Authorization": "Bearer way_test_aaaaaaaaaaaaaaaa_" + "x" * 43}
    assert_error(await client.get("/v1/institutions", headers=bad), 401, "invalid_api_key")
    key = await make_key("test", scopes=["entities:read"])
    for path in ("/v1/institutions", "/v1/institutions/sandbox_bank", "/v1/institutions/nope"):
        body = assert_error(await client.get(path, headers=key.headers), 403, "insufficient_scope")
        assert body["error"]["details"] == {"missingScopes": ["connections:read"]}  # type: ignore[index]
    writer = await make_key("test", scopes=["connections:write"])  # write implies read
    assert (await client.get("/v1/institutions", headers=writer.headers)).status_code == 200
    revoked = await make_key("test")
    await client.delete(f"/v1/apiKeys/{revoked.key_id}", headers=revoked.headers)
    assert_error(
        await client.get("/v1/institutions", headers=revoked.headers), 401, "invalid_api_key"
    )


@pytest.mark.parametrize("institution_id", ["nope", "SANDBOX_BANK", "generic", "x" * 300, "a b"])
async def test_unknown_ids_are_404(client, make_key: MakeKey, institution_id: str) -> None:
    key = await make_key("test", scopes=["connections:read"])
    response = await client.get(f"/v1/institutions/{institution_id}", headers=key.headers)
    assert_error(response, 404, "not_found")


async def test_bodies_are_refused_on_gets_and_writes_are_405(client, make_key: MakeKey) -> None:
    key = await make_key("test", scopes=["connections:read"])
    response = await client.post("/v1/institutions", json={}, headers=key.headers)
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]
