"""``/v1/connections``: create-or-return, get, list, isolation, concurrency, the phone pool."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.api import conftest as api_conftest
from tests.api.conftest import MakeKey, assert_error
from tests.api.connections_helpers import create, new_connection, sql
from waycore.api.app import create_app
from waycore.config import Settings
from waycore.domain.institutions.service import list_institutions

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FIELDS = [
    "id", "entityId", "status", "kind", "createdAt", "updatedAt", "portalUrl", "institutionId",
    "institutionName", "metadata", "setup", "syncStatus", "lastSyncedAt", "nextSyncAt",
    "errorCode", "errorMessage",
]  # fmt: skip


def _errors(response: httpx.Response) -> list[dict[str, str]]:
    body = assert_error(response, 422, "validation_error")
    return body["error"]["details"]["errors"]  # type: ignore[index,no-any-return]


async def test_create_returns_a_draft_with_instructions_then_the_same_one(
    client: httpx.AsyncClient, make_key: MakeKey, settings: Settings, app: FastAPI
) -> None:
    key = await make_key()
    response = await create(client, key, institutionId="sandbox_bank", metadata={"crm": "42"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert list(body) == FIELDS
    assert re.fullmatch(r"conn_[a-z2-7]{24}", body["id"])
    assert body["status"] == "draft" and body["kind"] == "setup"
    assert body["portalUrl"] == "http://localhost:8100"
    assert body["institutionId"] == "sandbox_bank" and body["institutionName"] == "Sandbox Bank"
    assert body["metadata"] == {"crm": "42"}
    assert body["syncStatus"] == "idle"
    assert body["lastSyncedAt"] is body["nextSyncAt"] is body["errorCode"] is None
    assert TIMESTAMP.match(body["createdAt"]) and TIMESTAMP.match(body["updatedAt"])
    setup = body["setup"]
    assert setup["status"] == "awaitingDelegatedUserCreation"
    assert setup["credentialsPresent"] is False
    assert (setup["nextAction"], setup["actionRequiredBy"]) == ("createDelegatedUser", "endUser")
    instructions = setup["instructions"]
    assert instructions["firstName"] == "Waycore" and instructions["lastName"] == "Service"
    assert instructions["address"] == settings.delegated_user_address
    assert instructions["email"].endswith("@" + settings.inbox_domain)
    assert re.fullmatch(r"waycore[a-z2-7]{8}", instructions["username"])
    assert re.fullmatch(r"\+[1-9][0-9]{6,14}", instructions["phoneNumber"])
    assert instructions["emailProvisioningStatus"] == "provisioned"
    assert instructions["phoneNumberProvisioningStatus"] == "provisioned"
    assert instructions["guideUrl"] == "http://localhost:8000/guides/sandbox_bank"
    required = {p["code"]: p["required"] for p in instructions["permissions"]}
    assert required == {
        "viewAccounts": True,
        "viewTransactions": True,
        "downloadStatements": False,
        "initiateTransfers": False,
        "approveTransfers": False,
    }
    # the default entity owns it
    entities = await client.get("/v1/entities", headers=key.headers)
    if entities.status_code == 200:
        default = [e for e in entities.json()["data"] if e["isDefaultOrgEntity"]]
        assert default and default[0]["entityId"] == body["entityId"]

    again = await create(client, key, portalUrl="HTTP://LOCALHOST:8100/#x", metadata={"x": "y"})
    assert again.status_code == 200, again.text
    assert again.json() == body  # unchanged: request metadata ignored
    got = await client.get(f"/v1/connections/{body['id']}", headers=key.headers)
    assert got.status_code == 200 and got.json() == body
    leases = await sql(
        app, "select number from phone_leases where connection_id = :c", c=body["id"]
    )
    assert [r[0] for r in leases] == [instructions["phoneNumber"]]
    audit = await sql(app, "select action from audit_log where resource_id = :c", c=body["id"])
    assert [r[0] for r in audit] == ["connection.create"]
    events = await sql(app, "select 1 from events where data->>'connectionId' = :c", c=body["id"])
    assert events == []  # creation fires no status event


async def test_portal_url_is_normalized_and_unlisted_portals_have_no_institution(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    key = await make_key()
    body = await new_connection(client, key, portalUrl="https://Bank.example:443/login/?q=1#a")
    assert body["portalUrl"] == "https://bank.example/login?q=1"
    assert body["institutionId"] is None and body["institutionName"] is None
    assert body["setup"]["instructions"]["guideUrl"] == "http://localhost:8000/guides/generic"
    # test accepts http and loopback
    local = await new_connection(client, key, portalUrl="http://127.0.0.1:9/portal")
    assert local["portalUrl"] == "http://127.0.0.1:9/portal"
    # a portal on the sandbox host resolves to the institution
    sub = await new_connection(client, key, portalUrl="http://localhost:8100/login")
    assert sub["institutionId"] == "sandbox_bank"


async def test_entity_id_selects_the_owner(client: httpx.AsyncClient, make_key: MakeKey) -> None:
    key = await make_key()
    made = await client.post(
        "/v1/entities", headers=key.headers, json={"externalEntityId": "cust_1"}
    )
    if made.status_code not in (200, 201):
        pytest.skip("entities API not available")
    entity_id = made.json()["entityId"]
    body = await new_connection(client, key, institutionId="sandbox_bank", entityId=entity_id)
    assert body["entityId"] == entity_id
    default = await new_connection(client, key, institutionId="sandbox_bank")
    assert default["id"] != body["id"]  # same portal, another entity: another connection


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, ""),
        ({"metadata": {}}, ""),
        ({"portalUrl": "ftp://bank.example"}, "portalUrl"),
        ({"portalUrl": "bank.example/login"}, "portalUrl"),
        ({"portalUrl": "https://user:pw@bank.example"}, "portalUrl"),
        ({"portalUrl": "https://user@bank.example"}, "portalUrl"),
        ({"portalUrl": "https://bank.example/" + "a" * 2030}, "portalUrl"),
        ({"portalUrl": "https://bank.example/\x07"}, "portalUrl"),
        ({"portalUrl": 5}, "portalUrl"),
        ({"institutionId": ["sandbox_bank"]}, "institutionId"),
        ({"institutionId": "sandbox_bank", "entityId": "not-a-uuid"}, "entityId"),
        ({"institutionId": "sandbox_bank", "entityId": 7}, "entityId"),
        ({"institutionId": "sandbox_bank", "colour": "red"}, "colour"),
        ({"institutionId": "sandbox_bank", "metadata": {f"k{i}": "v" for i in range(51)}},
         "metadata"),
        ({"institutionId": "sandbox_bank", "metadata": {"k": "v" * 501}}, "metadata"),
        ({"institutionId": "sandbox_bank", "metadata": {"bad key": "v"}}, "metadata"),
        ({"institutionId": "sandbox_bank", "metadata": {"k": 1}}, "metadata"),
        ({"institutionId": "sandbox_bank", "metadata": "x"}, "metadata"),
    ],
)  # fmt: skip
async def test_create_validation(
    client: httpx.AsyncClient, make_key: MakeKey, app: FastAPI, payload: object, field: str
) -> None:
    key = await make_key()
    errors = _errors(await client.post("/v1/connections", headers=key.headers, json=payload))
    assert field in [e["field"] for e in errors]
    rows = await sql(app, "select count(*) from connections where org_id = :o", o=key.org_id)
    assert rows[0][0] == 0


async def test_create_rejects_bad_bodies_keys_and_scopes(
    client: httpx.AsyncClient, make_key: MakeKey, app: FastAPI
) -> None:
    key = await make_key()
    headers = {**key.headers, "Content-Type": "application/json"}
    post = client.post
    assert _errors(await post("/v1/connections", headers=headers, content=b"{"))[0]["field"] == ""
    assert _errors(await post("/v1/connections", headers=headers, content=b"[1]"))[0]["field"] == ""
    big = b'{"portalUrl": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    assert_error(
        await post("/v1/connections", headers=headers, content=big), 413, "payload_too_large"
    )
    text_headers = {**key.headers, "Content-Type": "text/plain"}
    assert_error(
        await post("/v1/connections", headers=text_headers, content=b'{"institutionId":"x"}'),
        415,
        "unsupported_media_type",
    )
    body = {"institutionId": "sandbox_bank"}
    assert_error(await post("/v1/connections", json=body), 401, "authentication_required")
    bad = {"Authorization": "Bearer way_test_aaaaaaaaaaaaaaaa_" + "x" * 43}
    assert_error(await post("/v1/connections", headers=bad, json=body), 401, "invalid_api_key")
    reader = await make_key(scopes=["connections:read"])
    denied = assert_error(
        await post("/v1/connections", headers=reader.headers, json=body), 403, "insufficient_scope"
    )
    assert denied["error"]["details"] == {"missingScopes": ["connections:write"]}  # type: ignore[index]
    other = await make_key(scopes=["entities:read"])
    assert_error(
        await client.get("/v1/connections", headers=other.headers), 403, "insufficient_scope"
    )
    for k in (key, reader):
        rows = await sql(app, "select count(*) from connections where org_id = :o", o=k.org_id)
        assert rows[0][0] == 0


async def test_unknown_entity_or_institution_is_404(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    key = await make_key()
    other = await make_key()
    unknown = "01964f7e-1c2a-7b3d-9e4f-5a6b7c8d9e0f"
    assert_error(
        await create(client, key, institutionId="sandbox_bank", entityId=unknown), 404, "not_found"
    )
    assert_error(await create(client, key, institutionId="no_such_bank"), 404, "not_found")
    # another organization's entity is unknown here
    made = await client.post(
        "/v1/entities", headers=other.headers, json={"externalEntityId": "theirs"}
    )
    if made.status_code in (200, 201):
        assert_error(
            await create(
                client, key, institutionId="sandbox_bank", entityId=made.json()["entityId"]
            ),
            404,
            "not_found",
        )
    live = await make_key(environment="live", org=key.org)
    assert_error(await create(client, live, institutionId="sandbox_bank"), 404, "not_found")


async def test_live_address_rules(
    client: httpx.AsyncClient, make_key: MakeKey, settings: Settings
) -> None:
    key = await make_key(environment="live")
    for url in (
        "http://bank.example",
        "https://10.1.2.3/login",
        "https://127.0.0.1",
        "https://192.168.0.10:8443",
        "https://169.254.169.254/latest",
        "https://[::1]/",
        "https://[fe80::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://localhost/login",
    ):
        errors = _errors(await create(client, key, portalUrl=url))
        assert [e["field"] for e in errors] == ["portalUrl"], url
    accepted = await create(client, key, portalUrl="https://no-such-host.invalid/login")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["institutionId"] is None
    bank = next(i for i in list_institutions(settings, "live") if i.domains)
    first = await create(client, key, portalUrl=bank.default_portal_url)
    assert first.status_code == 201, first.text
    assert first.json()["institutionId"] == bank.institution_id
    by_id = await create(client, key, institutionId=bank.institution_id)
    assert by_id.status_code == 200 and by_id.json()["id"] == first.json()["id"]
    errors = _errors(
        await create(
            client, key, institutionId=bank.institution_id, portalUrl="https://other.example/x"
        )
    )
    assert errors[0]["field"] == "portalUrl"


async def test_isolation_across_organizations_and_environments(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    mine = await make_key()
    conn = await new_connection(client, mine)
    cid = conn["id"]
    strangers = [
        await make_key(),
        await make_key(environment="live", org=mine.org),
        await make_key(environment="live"),
    ]
    for key in strangers:
        h = key.headers
        assert_error(await client.get(f"/v1/connections/{cid}", headers=h), 404, "not_found")
        assert_error(
            await client.patch(f"/v1/connections/{cid}", headers=h, json={"metadata": {}}),
            404,
            "not_found",
        )
        assert_error(
            await client.put(
                f"/v1/connections/{cid}/credentials", headers=h, json={"password": "x"}
            ),
            404,
            "not_found",
        )
        assert_error(
            await client.put(
                f"/v1/connections/{cid}/setupCompletion",
                headers=h,
                json={"delegatedUserActive": True, "termsAccepted": True},
            ),
            404,
            "not_found",
        )
        assert_error(
            await client.put(
                f"/v1/connections/{cid}/verificationCode", headers=h, json={"code": "123456"}
            ),
            404,
            "not_found",
        )
        assert_error(await client.put(f"/v1/connections/{cid}/sync", headers=h), 404, "not_found")
        assert_error(await client.delete(f"/v1/connections/{cid}", headers=h), 404, "not_found")
        listed = await client.get("/v1/connections", headers=h)
        assert cid not in [c["id"] for c in listed.json()["data"]]
    got = await client.get(f"/v1/connections/{cid}", headers=mine.headers)
    assert got.json() == conn  # nothing a stranger did changed it
    for malformed in ("nope", "conn_" + "A" * 24, "%20", "x" * 64):
        assert_error(
            await client.get(f"/v1/connections/{malformed}", headers=mine.headers),
            404,
            "not_found",
        )


async def test_list_order_filters_and_cursors(
    client: httpx.AsyncClient, make_key: MakeKey, app: FastAPI
) -> None:
    key = await make_key()
    made = [
        await new_connection(client, key, portalUrl=f"https://bank{i}.example") for i in range(3)
    ]
    sandbox = await new_connection(client, key, institutionId="sandbox_bank")
    await client.delete(f"/v1/connections/{made[0]['id']}", headers=key.headers)
    listed = await client.get("/v1/connections", headers=key.headers)
    assert listed.status_code == 200
    ids = [c["id"] for c in listed.json()["data"]]
    rows = await sql(
        app,
        "select id from connections where org_id = :o order by created_at desc, id desc",
        o=key.org_id,
    )
    assert ids == [r[0] for r in rows] and len(ids) == 4

    first = (await client.get("/v1/connections?limit=3", headers=key.headers)).json()
    assert first["pagination"]["hasMore"] is True
    cursor = first["pagination"]["nextCursor"]
    second = (
        await client.get(f"/v1/connections?limit=3&cursor={cursor}", headers=key.headers)
    ).json()
    assert [c["id"] for c in first["data"] + second["data"]] == ids
    assert second["pagination"] == {"hasMore": False, "nextCursor": None}

    def get(query: str) -> object:
        return client.get(f"/v1/connections?{query}", headers=key.headers)

    by_status = (await get("status=revoked")).json()["data"]  # type: ignore[attr-defined]
    assert [c["id"] for c in by_status] == [made[0]["id"]]
    by_inst = (await get("institutionId=sandbox_bank")).json()["data"]  # type: ignore[attr-defined]
    assert [c["id"] for c in by_inst] == [sandbox["id"]]
    by_kind = (await get("kind=ready")).json()["data"]  # type: ignore[attr-defined]
    assert by_kind == []
    by_entity = (await get(f"entityId={sandbox['entityId']}")).json()["data"]  # type: ignore[attr-defined]
    assert len(by_entity) == 4
    other_entity = (await get("entityId=01964f7e-1c2a-7b3d-9e4f-5a6b7c8d9e0f")).json()  # type: ignore[attr-defined]
    assert other_entity["data"] == []

    for query, field in (
        ("status=bogus", "query.status"),
        ("kind=other", "query.kind"),
        ("entityId=nope", "query.entityId"),
        ("limit=0", "query.limit"),
        ("limit=501", "query.limit"),
        ("colour=red", "query.colour"),
    ):
        assert field in [e["field"] for e in _errors(await get(query))]  # type: ignore[arg-type]
    assert_error(await get(f"limit=3&cursor={cursor}x"), 400, "invalid_cursor")  # type: ignore[arg-type]
    assert_error(await get(f"limit=3&status=draft&cursor={cursor}"), 400, "invalid_cursor")  # type: ignore[arg-type]
    foreign = await make_key()
    assert_error(
        await client.get(f"/v1/connections?limit=3&cursor={cursor}", headers=foreign.headers),
        400,
        "invalid_cursor",
    )


async def test_idempotency_key_replays_and_refuses_another_body(
    client: httpx.AsyncClient, make_key: MakeKey
) -> None:
    key = await make_key()
    headers = {**key.headers, "Idempotency-Key": "create-1"}
    first = await client.post(
        "/v1/connections", headers=headers, json={"portalUrl": "https://a.example"}
    )
    assert first.status_code == 201
    replay = await client.post(
        "/v1/connections", headers=headers, json={"portalUrl": "https://a.example"}
    )
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    assert_error(
        await client.post(
            "/v1/connections", headers=headers, json={"portalUrl": "https://b.example"}
        ),
        409,
        "idempotency_key_reused",
    )
    listed = await client.get("/v1/connections", headers=key.headers)
    assert [c["portalUrl"] for c in listed.json()["data"]] == ["https://a.example"]


async def test_twenty_parallel_creates_make_one_connection(
    client: httpx.AsyncClient, make_key: MakeKey, app: FastAPI
) -> None:
    key = await make_key()
    responses = await asyncio.gather(
        *[create(client, key, portalUrl="https://race.example/login") for _ in range(20)]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201], [r.text for r in responses if r.status_code >= 300]
    assert len({r.json()["id"] for r in responses}) == 1
    rows = await sql(app, "select id from connections where org_id = :o", o=key.org_id)
    assert len(rows) == 1
    leases = await sql(
        app, "select count(*) from phone_leases where connection_id = :c", c=rows[0][0]
    )
    assert leases[0][0] == 1


@pytest.fixture
async def small_pool_app(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, settings: Settings
) -> AsyncIterator[tuple[FastAPI, list[str]]]:
    base = 15550000000 + secrets.randbelow(4_000_000_000)
    numbers = [f"+{base}", f"+{base + 1}"]
    small = api_conftest.test_settings(
        tmp_path_factory,
        phone_pool=f"+{base}-+{base + 1}",
        master_key_file=settings.master_key_file,  # the deployment's one keyring
    )
    application = create_app(small, database_url)
    async with application.router.lifespan_context(application):
        yield application, numbers


async def test_phone_pool_exhaustion_and_reuse_after_revoke(
    small_pool_app: tuple[FastAPI, list[str]], make_key: MakeKey
) -> None:
    application, numbers = small_pool_app
    key = await make_key()
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        made = [await new_connection(c, key, portalUrl=f"https://p{i}.example") for i in range(3)]
        phones = [m["setup"]["instructions"]["phoneNumber"] for m in made]
        assert sorted(phones[:2]) == numbers
        third = made[2]["setup"]["instructions"]
        assert third["phoneNumber"] is None
        assert third["phoneNumberProvisioningStatus"] == "failed"
        assert third["emailProvisioningStatus"] == "provisioned"
        assert made[2]["status"] == "draft"
        revoked = await c.delete(f"/v1/connections/{made[0]['id']}", headers=key.headers)
        assert revoked.status_code == 200
        fourth = await new_connection(c, key, portalUrl="https://p3.example")
        assert fourth["setup"]["instructions"]["phoneNumber"] == phones[0]
        assert fourth["setup"]["instructions"]["phoneNumberProvisioningStatus"] == "provisioned"
