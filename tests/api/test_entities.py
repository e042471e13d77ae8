"""``/v1/entities`` end to end on the real app and database (API.md section 6)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.api.conftest import MakeKey, TestKey, assert_error

ENTITY_FIELDS = {
    "entityId",
    "externalEntityId",
    "name",
    "isDefaultOrgEntity",
    "contactEmails",
    "metadata",
    "createdAt",
    "updatedAt",
}


async def _rows(app: FastAPI, org_id: UUID) -> tuple[int, int]:
    """(entities, audit rows) of an organization."""
    async with app.state.sessionmaker() as session, session.begin():
        entities = (
            await session.execute(
                text("select count(*) from entities where org_id = :o"), {"o": org_id}
            )
        ).scalar_one()
        audit = (
            await session.execute(
                text(
                    "select count(*) from audit_log where org_id = :o and resource_type = 'entity'"
                ),
                {"o": org_id},
            )
        ).scalar_one()
    return int(entities), int(audit)


async def _create(client: httpx.AsyncClient, key: TestKey, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/entities", json=body, headers=key.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _fields(response: httpx.Response) -> list[dict[str, str]]:
    body = assert_error(response, 422, "validation_error")
    return list(body["error"]["details"]["errors"])  # type: ignore[index]


# --- success paths ------------------------------------------------------------------------


async def test_create_get_list_patch_delete(client, make_key: MakeKey) -> None:
    key = await make_key()
    created = await _create(
        client,
        key,
        externalEntityId="cust_42",
        name="Acme Manufacturing LLC",
        contactEmails=["Treasury@acme.example", "treasury@ACME.example", "ap@acme.example"],
        metadata={"crm.id": "7", "tier": "gold"},
    )
    assert set(created) == ENTITY_FIELDS
    assert str(UUID(created["entityId"])) == created["entityId"]
    assert created["externalEntityId"] == "cust_42"
    assert created["isDefaultOrgEntity"] is False
    assert created["contactEmails"] == ["Treasury@acme.example", "ap@acme.example"]
    assert created["metadata"] == {"crm.id": "7", "tier": "gold"}
    assert created["createdAt"].endswith("Z") and len(created["createdAt"]) == 20

    entity_id = created["entityId"]
    got = await client.get(f"/v1/entities/{entity_id}", headers=key.headers)
    assert got.status_code == 200 and got.json() == created

    listed = await client.get("/v1/entities", headers=key.headers)
    assert listed.status_code == 200
    data = listed.json()["data"]
    assert [e["externalEntityId"] for e in data] == ["cust_42", "default"]
    assert data[1]["isDefaultOrgEntity"] is True and data[1]["name"] is None
    assert listed.json()["pagination"] == {"hasMore": False, "nextCursor": None}
    assert listed.json()["meta"]["requestId"] == listed.headers["x-request-id"]

    filtered = await client.get("/v1/entities?externalEntityId=cust_42", headers=key.headers)
    assert [e["entityId"] for e in filtered.json()["data"]] == [entity_id]
    none = await client.get("/v1/entities?externalEntityId=nobody", headers=key.headers)
    assert none.json()["data"] == []

    patched = await client.patch(
        f"/v1/entities/{entity_id}",
        json={"name": "Acme Inc", "contactEmails": [], "metadata": {"a": "b"}},
        headers=key.headers,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["name"], body["contactEmails"], body["metadata"]) == ("Acme Inc", [], {"a": "b"})
    assert body["externalEntityId"] == "cust_42" and body["createdAt"] == created["createdAt"]

    cleared = await client.patch(
        f"/v1/entities/{entity_id}", json={"name": None, "metadata": None}, headers=key.headers
    )
    assert cleared.status_code == 200
    assert cleared.json()["name"] is None and cleared.json()["metadata"] == {}
    assert cleared.json()["contactEmails"] == []

    deleted = await client.delete(f"/v1/entities/{entity_id}", headers=key.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(
        await client.get(f"/v1/entities/{entity_id}", headers=key.headers), 404, "not_found"
    )
    assert_error(
        await client.delete(f"/v1/entities/{entity_id}", headers=key.headers), 404, "not_found"
    )


async def test_create_returns_existing_unchanged_with_200(client, app, make_key: MakeKey) -> None:
    key = await make_key()
    first = await _create(client, key, externalEntityId="cust_1", name="First")
    again = await client.post(
        "/v1/entities",
        json={"externalEntityId": "cust_1", "name": "Second", "metadata": {"x": "y"}},
        headers=key.headers,
    )
    assert again.status_code == 200
    assert again.json() == first
    entities, audit = await _rows(app, key.org_id)
    assert entities == 2  # default + cust_1
    assert audit == 1  # only the creation was a write


async def test_writes_are_audited(client, app, make_key: MakeKey) -> None:
    key = await make_key()
    entity = await _create(client, key, externalEntityId="audited")
    await client.patch(
        f"/v1/entities/{entity['entityId']}", json={"name": "n"}, headers=key.headers
    )
    await client.delete(f"/v1/entities/{entity['entityId']}", headers=key.headers)
    async with app.state.sessionmaker() as session, session.begin():
        rows = (
            await session.execute(
                text(
                    "select action, resource_id, environment, actor from audit_log "
                    "where org_id = :o and resource_type = 'entity' order by id"
                ),
                {"o": key.org_id},
            )
        ).all()
    assert [r.action for r in rows] == ["entity.create", "entity.update", "entity.delete"]
    assert {r.resource_id for r in rows} == {entity["entityId"]}
    assert {r.environment for r in rows} == {None}
    assert {r.actor for r in rows} == {f"key:{key.key_id}"}


async def test_default_entity_is_immutable(client, app, make_key: MakeKey) -> None:
    key = await make_key()
    listed = (await client.get("/v1/entities", headers=key.headers)).json()["data"]
    default = listed[0]
    assert default["isDefaultOrgEntity"] is True and default["externalEntityId"] == "default"
    url = f"/v1/entities/{default['entityId']}"
    assert_error(
        await client.patch(url, json={"name": "x"}, headers=key.headers),
        409,
        "default_entity_immutable",
    )
    assert_error(await client.delete(url, headers=key.headers), 409, "default_entity_immutable")
    assert (await client.get(url, headers=key.headers)).json() == default
    # "default" is reserved: never a second default, never a 200 with the default entity
    errors = _fields(
        await client.post("/v1/entities", json={"externalEntityId": "default"}, headers=key.headers)
    )
    assert [e["field"] for e in errors] == ["externalEntityId"]
    assert await _rows(app, key.org_id) == (1, 0)


async def test_list_pages_with_cursor(client, make_key: MakeKey) -> None:
    key = await make_key()
    for i in range(5):
        await _create(client, key, externalEntityId=f"c{i}")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        url = "/v1/entities?limit=2" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(url, headers=key.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [e["externalEntityId"] for e in body["data"]]
        pages += 1
        if not body["pagination"]["hasMore"]:
            assert body["pagination"]["nextCursor"] is None
            break
        cursor = body["pagination"]["nextCursor"]
        assert isinstance(cursor, str)
    assert pages == 3
    assert seen == ["c4", "c3", "c2", "c1", "c0", "default"]


# --- authentication and scopes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/entities"),
        ("POST", "/v1/entities"),
        ("GET", "/v1/entities/00000000-0000-7000-8000-000000000000"),
        ("PATCH", "/v1/entities/00000000-0000-7000-8000-000000000000"),
        ("DELETE", "/v1/entities/00000000-0000-7000-8000-000000000000"),
    ],
)
async def test_keys_are_required(client, make_key: MakeKey, method: str, path: str) -> None:
    response = await client.request(method, path, json={"externalEntityId": "x"})
    assert_error(response, 401, "authentication_required")
    assert response.headers["www-authenticate"] == 'Bearer realm="waycore"'
    bad = await client.request(method, path, headers={"Authorization": "Bearer way_test_nope"})
    assert_error(bad, 401, "invalid_api_key")
    basic = await client.request(method, path, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_error(basic, 401, "authentication_required")


async def test_revoked_key_is_refused(client, app, make_key: MakeKey) -> None:
    key = await make_key()
    revoked = await client.delete(f"/v1/apiKeys/{key.key_id}", headers=key.headers)
    assert revoked.status_code == 200
    response = await client.post(
        "/v1/entities", json={"externalEntityId": "late"}, headers=key.headers
    )
    assert_error(response, 401, "invalid_api_key")
    assert (await _rows(app, key.org_id))[0] == 1


async def test_scopes(client, app, make_key: MakeKey) -> None:
    reader = await make_key(scopes=["entities:read"])
    writer = await make_key(org=reader.org, scopes=["entities:write"])
    other = await make_key(org=reader.org, scopes=["connections:read"])
    denied = await client.post(
        "/v1/entities", json={"externalEntityId": "x"}, headers=reader.headers
    )
    body = assert_error(denied, 403, "insufficient_scope")
    assert body["error"]["details"] == {"missingScopes": ["entities:write"]}  # type: ignore[index]
    entity = await _create(client, writer, externalEntityId="x")
    for method in ("PATCH", "DELETE"):
        response = await client.request(
            method, f"/v1/entities/{entity['entityId']}", json={"name": "n"}, headers=reader.headers
        )
        assert_error(response, 403, "insufficient_scope")
    # entities:write implies entities:read
    assert (await client.get("/v1/entities", headers=writer.headers)).status_code == 200
    for path in ("/v1/entities", f"/v1/entities/{entity['entityId']}"):
        body = assert_error(
            await client.get(path, headers=other.headers), 403, "insufficient_scope"
        )
        assert body["error"]["details"] == {"missingScopes": ["entities:read"]}  # type: ignore[index]
    # scope is checked before validation: a bad body with a bad scope is 403
    assert_error(
        await client.post("/v1/entities", content=b"{", headers=reader.headers),
        403,
        "insufficient_scope",
    )
    assert (await _rows(app, reader.org_id))[0] == 2


# --- isolation ----------------------------------------------------------------------------


async def test_isolation_two_orgs_two_environments(client, app, make_key: MakeKey) -> None:
    a_test = await make_key("test")
    a_live = await make_key("live", org=a_test.org)
    b_test = await make_key("test")
    b_live = await make_key("live", org=b_test.org)

    made_in_test = await _create(client, a_test, externalEntityId="shared")
    made_in_live = await _create(client, a_live, externalEntityId="from_live")
    # the organization's keys of both environments see and change the same entities
    for key in (a_test, a_live):
        listed = (await client.get("/v1/entities", headers=key.headers)).json()["data"]
        assert [e["externalEntityId"] for e in listed] == ["from_live", "shared", "default"]
    got = await client.get(f"/v1/entities/{made_in_test['entityId']}", headers=a_live.headers)
    assert got.json() == made_in_test
    patched = await client.patch(
        f"/v1/entities/{made_in_live['entityId']}", json={"name": "n"}, headers=a_test.headers
    )
    assert patched.status_code == 200
    # create-or-return sees the other environment's entity
    again = await client.post(
        "/v1/entities", json={"externalEntityId": "shared"}, headers=a_live.headers
    )
    assert again.status_code == 200 and again.json()["entityId"] == made_in_test["entityId"]

    # the other organization sees none of it, in either environment
    for key in (b_test, b_live):
        listed = (await client.get("/v1/entities", headers=key.headers)).json()["data"]
        assert [e["externalEntityId"] for e in listed] == ["default"]
        assert (
            await client.get("/v1/entities?externalEntityId=shared", headers=key.headers)
        ).json()["data"] == []
        for entity in (made_in_test, made_in_live):
            url = f"/v1/entities/{entity['entityId']}"
            assert_error(await client.get(url, headers=key.headers), 404, "not_found")
            assert_error(
                await client.patch(url, json={"name": "stolen"}, headers=key.headers),
                404,
                "not_found",
            )
            assert_error(await client.delete(url, headers=key.headers), 404, "not_found")
    # the same externalEntityId in another organization is a different entity
    own = await client.post(
        "/v1/entities", json={"externalEntityId": "shared"}, headers=b_live.headers
    )
    assert own.status_code == 201 and own.json()["entityId"] != made_in_test["entityId"]
    # nothing in org A changed
    assert (
        await client.get(f"/v1/entities/{made_in_test['entityId']}", headers=a_test.headers)
    ).json() == made_in_test
    b_default = (await client.get("/v1/entities", headers=b_test.headers)).json()["data"][-1]
    for key in (a_test, a_live):
        url = f"/v1/entities/{b_default['entityId']}"
        assert_error(await client.get(url, headers=key.headers), 404, "not_found")
    assert (await _rows(app, a_test.org_id))[0] == 3
    assert (await _rows(app, b_test.org_id))[0] == 2


@pytest.mark.parametrize(
    "entity_id",
    ["not-a-uuid", "0", "01964F7E-1C2A-7B3D-9E4F-5A6B7C8D9E0F", "x" * 300, "%20"],
)
async def test_malformed_ids_are_404(client, make_key: MakeKey, entity_id: str) -> None:
    key = await make_key()
    url = f"/v1/entities/{entity_id}"
    assert_error(await client.get(url, headers=key.headers), 404, "not_found")
    assert_error(await client.patch(url, json={"name": "n"}, headers=key.headers), 404, "not_found")
    assert_error(await client.delete(url, headers=key.headers), 404, "not_found")


# --- bad input ----------------------------------------------------------------------------

BAD_CREATES: list[tuple[Any, list[str]]] = [
    ({}, ["externalEntityId"]),
    ({"externalEntityId": ""}, ["externalEntityId"]),
    ({"externalEntityId": "x" * 256}, ["externalEntityId"]),
    ({"externalEntityId": " lead"}, ["externalEntityId"]),
    ({"externalEntityId": "trail\t"}, ["externalEntityId"]),
    ({"externalEntityId": "a\x00b"}, ["externalEntityId"]),
    ({"externalEntityId": "a\x7fb"}, ["externalEntityId"]),
    ({"externalEntityId": 42}, ["externalEntityId"]),
    ({"externalEntityId": None}, ["externalEntityId"]),
    ({"externalEntityId": "ok", "name": ""}, ["name"]),
    ({"externalEntityId": "ok", "name": "n" * 201}, ["name"]),
    ({"externalEntityId": "ok", "name": "line\nbreak"}, ["name"]),
    ({"externalEntityId": "ok", "name": ["list"]}, ["name"]),
    ({"externalEntityId": "ok", "contactEmails": "a@b.example"}, ["contactEmails"]),
    ({"externalEntityId": "ok", "contactEmails": None}, ["contactEmails"]),
    ({"externalEntityId": "ok", "contactEmails": ["ok@b.example", "nope"]}, ["contactEmails.1"]),
    (
        {"externalEntityId": "ok", "contactEmails": [f"u{i}@b.example" for i in range(101)]},
        ["contactEmails"],
    ),
    ({"externalEntityId": "ok", "contactEmails": [7]}, ["contactEmails.0"]),
    ({"externalEntityId": "ok", "metadata": []}, ["metadata"]),
    ({"externalEntityId": "ok", "metadata": "x"}, ["metadata"]),
    ({"externalEntityId": "ok", "metadata": {"k": 1}}, ["metadata"]),
    ({"externalEntityId": "ok", "metadata": {"k": None}}, ["metadata"]),
    ({"externalEntityId": "ok", "metadata": {"k": "v" * 501}}, ["metadata"]),
    ({"externalEntityId": "ok", "metadata": {"k" * 41: "v"}}, ["metadata"]),
    ({"externalEntityId": "ok", "metadata": {"": "v"}}, ["metadata"]),
    ({"externalEntityId": "ok", "metadata": {"bad key": "v"}}, ["metadata"]),
    ({"externalEntityId": "ok", "metadata": {"k": "a\x01"}}, ["metadata"]),
    ({"externalEntityId": "ok", "metadata": {f"k{i}": "v" for i in range(51)}}, ["metadata"]),
    ({"externalEntityId": "ok", "colour": "red"}, ["colour"]),
    (
        {"externalEntityId": "x" * 256, "name": "", "extra": 1},
        ["externalEntityId", "name", "extra"],
    ),
]


@pytest.mark.parametrize(("body", "fields"), BAD_CREATES)
async def test_bad_create_bodies_are_422_and_change_nothing(
    client, app, make_key: MakeKey, body: Any, fields: list[str]
) -> None:
    key = await make_key()
    response = await client.post("/v1/entities", json=body, headers=key.headers)
    assert [e["field"] for e in _fields(response)] == fields
    assert await _rows(app, key.org_id) == (1, 0)


async def test_limits_are_inclusive(client, make_key: MakeKey) -> None:
    key = await make_key()
    body = {
        "externalEntityId": "é" * 255,
        "name": "ü" * 200,
        "contactEmails": [f"u{i}@b.example" for i in range(100)],
        "metadata": {f"{i:02d}" + "k" * 38: "v" * 500 for i in range(50)},
    }
    created = await _create(client, key, **body)
    assert created["externalEntityId"] == body["externalEntityId"]
    assert len(created["contactEmails"]) == 100 and len(created["metadata"]) == 50


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{", "malformed JSON"), (b"[]", "object"), (b'"text"', "object"), (b"null", "object")],
)
async def test_malformed_and_non_object_json(
    client, app, make_key: MakeKey, content: bytes, message: str
) -> None:
    key = await make_key()
    headers = {**key.headers, "Content-Type": "application/json"}
    for method, path in (("POST", "/v1/entities"), ("PATCH", None)):
        if path is None:
            entity = (await client.get("/v1/entities", headers=key.headers)).json()["data"][0]
            path = f"/v1/entities/{entity['entityId']}"
        errors = _fields(await client.request(method, path, content=content, headers=headers))
        assert len(errors) == 1 and errors[0]["field"] == ""
        assert message in errors[0]["message"]
    assert await _rows(app, key.org_id) == (1, 0)


async def test_bad_patch_bodies(client, app, make_key: MakeKey) -> None:
    key = await make_key()
    entity = await _create(client, key, externalEntityId="p", name="Name")
    url = f"/v1/entities/{entity['entityId']}"
    before = await _rows(app, key.org_id)
    empty = _fields(await client.patch(url, json={}, headers=key.headers))
    assert empty == [{"field": "", "message": "at least one field is required"}]
    no_body = _fields(
        await client.patch(url, headers={**key.headers, "Content-Type": "application/json"})
    )
    assert [e["field"] for e in no_body] == [""]
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"externalEntityId": "renamed"}, ["externalEntityId"]),
        ({"name": ""}, ["name"]),
        ({"name": 3}, ["name"]),
        ({"contactEmails": None}, ["contactEmails"]),
        ({"contactEmails": ["x"]}, ["contactEmails.0"]),
        ({"metadata": {"k": 5}}, ["metadata"]),
        ({"isDefaultOrgEntity": True}, ["isDefaultOrgEntity"]),
        ({"name": "ok", "entityId": "x"}, ["entityId"]),
    ]
    for body, fields in cases:
        assert [
            e["field"] for e in _fields(await client.patch(url, json=body, headers=key.headers))
        ] == fields
    # validation comes before lookup: a bad body on an unknown id is 422
    unknown = "/v1/entities/00000000-0000-7000-8000-000000000000"
    assert_error(await client.patch(unknown, json={}, headers=key.headers), 422, "validation_error")
    assert (await client.get(url, headers=key.headers)).json() == entity
    assert await _rows(app, key.org_id) == before


async def test_unknown_query_parameters_are_422(client, make_key: MakeKey) -> None:
    key = await make_key()
    errors = _fields(await client.get("/v1/entities?external_entity_id=x", headers=key.headers))
    assert errors == [{"field": "query.external_entity_id", "message": "unknown query parameter"}]
    errors = _fields(
        await client.post(
            "/v1/entities?dryRun=1", json={"externalEntityId": "q"}, headers=key.headers
        )
    )
    assert [e["field"] for e in errors] == ["query.dryRun"]


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten", "1.5"])
async def test_bad_limit_is_422(client, make_key: MakeKey, limit: str) -> None:
    key = await make_key()
    errors = _fields(await client.get(f"/v1/entities?limit={limit}", headers=key.headers))
    assert [e["field"] for e in errors] == ["query.limit"]


async def test_tampered_and_foreign_cursors_are_400(client, make_key: MakeKey) -> None:
    key = await make_key()
    other_org = await make_key()
    same_org_live = await make_key("live", org=key.org)
    for i in range(3):
        await _create(client, key, externalEntityId=f"e{i}")
    first = (await client.get("/v1/entities?limit=1", headers=key.headers)).json()
    cursor = first["pagination"]["nextCursor"]
    ok = await client.get(f"/v1/entities?limit=1&cursor={cursor}", headers=key.headers)
    assert ok.status_code == 200
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    for bad, headers in [
        (flipped, key.headers),
        ("not-a-cursor", key.headers),
        ("", key.headers),
        (cursor, other_org.headers),
        (cursor, same_org_live.headers),
    ]:
        response = await client.get("/v1/entities", params={"cursor": bad}, headers=headers)
        assert_error(response, 400, "invalid_cursor")
    # bound to the filter
    other_filter = await client.get(
        "/v1/entities", params={"cursor": cursor, "externalEntityId": "e1"}, headers=key.headers
    )
    assert_error(other_filter, 400, "invalid_cursor")
    # bound to the endpoint
    keys_page = await client.get("/v1/apiKeys", params={"cursor": cursor}, headers=key.headers)
    assert_error(keys_page, 400, "invalid_cursor")


async def test_body_size_and_media_type(client, app, make_key: MakeKey) -> None:
    key = await make_key()
    big = json.dumps({"externalEntityId": "big", "name": "x" * (2 * 1024 * 1024)}).encode()
    response = await client.post(
        "/v1/entities", content=big, headers={**key.headers, "Content-Type": "application/json"}
    )
    body = assert_error(response, 413, "payload_too_large")
    assert body["error"]["details"] == {"maxBytes": 1048576}  # type: ignore[index]
    form = await client.post(
        "/v1/entities",
        content=b"externalEntityId=x",
        headers={**key.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(form, 415, "unsupported_media_type")
    plain = await client.post(
        "/v1/entities",
        content=b'{"externalEntityId": "x"}',
        headers={**key.headers, "Content-Type": "text/plain"},
    )
    assert_error(plain, 415, "unsupported_media_type")
    entity = (await client.get("/v1/entities", headers=key.headers)).json()["data"][0]
    patch = await client.patch(
        f"/v1/entities/{entity['entityId']}",
        content=b'{"name": "x"}',
        headers={**key.headers, "Content-Type": "text/plain"},
    )
    assert_error(patch, 415, "unsupported_media_type")
    charset = await client.post(
        "/v1/entities",
        content=b'{"externalEntityId": "cs"}',
        headers={**key.headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert charset.status_code == 201
    assert await _rows(app, key.org_id) == (2, 1)


async def test_delete_accepts_empty_object_and_refuses_a_body(client, make_key: MakeKey) -> None:
    key = await make_key()
    one = await _create(client, key, externalEntityId="one")
    two = await _create(client, key, externalEntityId="two")
    refused = await client.request(
        "DELETE", f"/v1/entities/{one['entityId']}", json={"force": True}, headers=key.headers
    )
    assert [e["field"] for e in _fields(refused)] == ["force"]
    assert (
        await client.get(f"/v1/entities/{one['entityId']}", headers=key.headers)
    ).status_code == 200
    empty = await client.request(
        "DELETE", f"/v1/entities/{two['entityId']}", json={}, headers=key.headers
    )
    assert empty.status_code == 204


# --- idempotency and concurrency ----------------------------------------------------------


async def test_idempotency_key(client, app, make_key: MakeKey) -> None:
    key = await make_key()
    headers = {**key.headers, "Idempotency-Key": "create-acme-1"}
    first = await client.post("/v1/entities", json={"externalEntityId": "acme"}, headers=headers)
    assert first.status_code == 201
    replay = await client.post("/v1/entities", json={"externalEntityId": "acme"}, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    reused = await client.post("/v1/entities", json={"externalEntityId": "other"}, headers=headers)
    assert_error(reused, 409, "idempotency_key_reused")
    assert await _rows(app, key.org_id) == (2, 1)


async def test_parallel_identical_creates_make_one_entity(client, app, make_key: MakeKey) -> None:
    key = await make_key()
    body = {"externalEntityId": "race", "name": "Race Ltd"}
    responses = await asyncio.gather(
        *[client.post("/v1/entities", json=body, headers=key.headers) for _ in range(20)]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201]
    assert len({r.json()["entityId"] for r in responses}) == 1
    assert await _rows(app, key.org_id) == (2, 1)


async def test_delete_is_refused_while_connections_are_live_in_either_environment(
    client, app, make_key: MakeKey
) -> None:
    test_key = await make_key("test")
    live_key = await make_key("live", org=test_key.org)
    entity = await _create(client, test_key, externalEntityId="owner")
    made = []
    for key, body in (
        (test_key, {"institutionId": "sandbox_bank"}),
        (live_key, {"institutionId": "barclays_uk"}),
    ):
        response = await client.post(
            "/v1/connections", json={"entityId": entity["entityId"], **body}, headers=key.headers
        )
        assert response.status_code == 201, response.text
        made.append((key, response.json()["id"]))
    url = f"/v1/entities/{entity['entityId']}"
    for key in (test_key, live_key):
        refused = assert_error(
            await client.delete(url, headers=key.headers), 409, "entity_has_connections"
        )
        assert refused["error"]["details"] == {"connectionCount": 2}  # type: ignore[index]
    key, connection_id = made[0]
    revoked = await client.delete(f"/v1/connections/{connection_id}", headers=key.headers)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = assert_error(
        await client.delete(url, headers=test_key.headers), 409, "entity_has_connections"
    )
    assert refused["error"]["details"] == {"connectionCount": 1}  # type: ignore[index]
    key, connection_id = made[1]
    assert (
        await client.delete(f"/v1/connections/{connection_id}", headers=key.headers)
    ).status_code == 200
    assert (await client.delete(url, headers=live_key.headers)).status_code == 204
    # the revoked connections went with the entity, in both environments
    async with app.state.sessionmaker() as session, session.begin():
        left = (
            await session.execute(
                text("select count(*) from connections where org_id = :o"),
                {"o": test_key.org_id},
            )
        ).scalar_one()
    assert left == 0
    for key, connection_id in made:
        assert_error(
            await client.get(f"/v1/connections/{connection_id}", headers=key.headers),
            404,
            "not_found",
        )
