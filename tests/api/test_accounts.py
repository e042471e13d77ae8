"""``/v1/accounts``: list, filters, cursors, fields, get, partition isolation."""

from __future__ import annotations

from decimal import Decimal

from fastapi import FastAPI

from tests.api.conftest import MakeKey, assert_error
from tests.api.sync_data import ids, seed
from tests.sync.helpers import account

ACCOUNT_FIELDS = {
    "id", "connectionId", "entityId", "type", "currency", "name", "status", "createdAt",
    "updatedAt", "officialName", "maskedNumber", "accountNumber", "routingNumber", "swiftBic",
    "iban", "currentBalance", "availableBalance", "balanceAsOf", "metadata",
}  # fmt: skip


async def test_list_and_get_show_every_field(client, app: FastAPI, make_key: MakeKey) -> None:
    key = await make_key()
    conn, result = await seed(
        app,
        key,
        [
            account("A1", current_balance=Decimal("15230.5"), official_name="Business Checking"),
            account("A2", currency="JPY", type="savings", current_balance=Decimal("1200"),
                    available_balance=None),
        ],
    )  # fmt: skip
    body = (await client.get("/v1/accounts", headers=key.headers)).json()
    assert body["pagination"] == {"hasMore": False, "nextCursor": None}
    assert ids(body) == sorted(str(i) for i in result.accounts_created)  # createdAt, id asc
    first, _ = body["data"]
    assert set(first) == ACCOUNT_FIELDS
    assert first["connectionId"] == conn.id and first["entityId"] == str(conn.entity_id)
    usd = next(a for a in body["data"] if a["currency"] == "USD")
    jpy = next(a for a in body["data"] if a["currency"] == "JPY")
    assert (usd["currentBalance"], usd["availableBalance"]) == ("15230.50", "90.00")
    assert (jpy["currentBalance"], jpy["availableBalance"]) == ("1200", None)
    assert usd["officialName"] == "Business Checking" and usd["iban"] is None
    assert usd["metadata"] == {} and usd["status"] == "open"
    assert usd["createdAt"].endswith("Z") and usd["balanceAsOf"].endswith("Z")
    one = await client.get(f"/v1/accounts/{usd['id']}", headers=key.headers)
    assert one.status_code == 200 and one.json() == usd


async def test_filters(client, app: FastAPI, make_key: MakeKey) -> None:
    key = await make_key()
    conn, _ = await seed(app, key, [account("A1"), account("A2", currency="EUR", type="savings")])
    other, _ = await seed(app, key, [account("B1")])

    async def names(query: str) -> list[str]:
        response = await client.get(f"/v1/accounts?{query}", headers=key.headers)
        assert response.status_code == 200, response.text
        return sorted(a["name"] for a in response.json()["data"])

    assert await names(f"connectionId={conn.id}") == ["Account A1", "Account A2"]
    assert await names(f"connectionId={other.id}") == ["Account B1"]
    assert await names("type=savings") == ["Account A2"]
    assert await names("currency=EUR") == ["Account A2"]
    assert await names(f"entityId={conn.entity_id}") == ["Account A1", "Account A2", "Account B1"]
    assert await names("status=closed") == []
    await seed(app, key, [account("A1")], connection=conn)  # A2 no longer shown
    assert await names("status=closed") == ["Account A2"]
    assert await names("connectionId=conn_nonexistent") == []


async def test_bad_queries_are_rejected(client, make_key: MakeKey) -> None:
    key = await make_key()
    for query, field in (
        ("type=current", "query.type"),
        ("status=gone", "query.status"),
        ("entityId=nope", "query.entityId"),
        ("currency=usd", "query.currency"),
        ("limit=0", "query.limit"),
        ("limit=501", "query.limit"),
        ("fields=name,colour", "query.fields"),
        ("accountId=x", "query.accountId"),
    ):
        response = await client.get(f"/v1/accounts?{query}", headers=key.headers)
        body = assert_error(response, 422, "validation_error")
        assert [e["field"] for e in body["error"]["details"]["errors"]] == [field], query  # type: ignore[index]
    bad = await client.get("/v1/accounts?cursor=abc", headers=key.headers)
    assert_error(bad, 400, "invalid_cursor")


async def test_cursor_pages_and_is_bound_to_filters(
    client, app: FastAPI, make_key: MakeKey
) -> None:
    key = await make_key()
    await seed(app, key, [account(f"A{i}") for i in range(5)])
    seen: list[str] = []
    url = "/v1/accounts?limit=2&status=open"
    while True:
        body = (await client.get(url, headers=key.headers)).json()
        seen += ids(body)
        if not body["pagination"]["hasMore"]:
            assert body["pagination"]["nextCursor"] is None
            break
        cursor = body["pagination"]["nextCursor"]
        url = f"/v1/accounts?limit=2&status=open&cursor={cursor}"
    everything = ids((await client.get("/v1/accounts", headers=key.headers)).json())
    assert seen == everything and len(seen) == 5
    first = (await client.get("/v1/accounts?limit=2&status=open", headers=key.headers)).json()
    cursor = first["pagination"]["nextCursor"]
    changed = await client.get(f"/v1/accounts?limit=2&cursor={cursor}", headers=key.headers)
    assert_error(changed, 400, "invalid_cursor")
    other_key = await make_key()
    foreign = await client.get(
        f"/v1/accounts?limit=2&status=open&cursor={cursor}", headers=other_key.headers
    )
    assert_error(foreign, 400, "invalid_cursor")


async def test_fields_selection(client, app: FastAPI, make_key: MakeKey) -> None:
    key = await make_key()
    await seed(app, key, [account("A1")])
    body = (await client.get("/v1/accounts?fields=name,currentBalance", headers=key.headers)).json()
    (item,) = body["data"]
    assert set(item) == {"id", "connectionId", "entityId", "name", "currentBalance"}
    assert set(body) == {"data", "pagination", "meta"}
    one = await client.get(f"/v1/accounts/{item['id']}?fields=type", headers=key.headers)
    assert one.json() == {
        "id": item["id"],
        "connectionId": item["connectionId"],
        "entityId": item["entityId"],
        "type": "checking",
    }
    bad = await client.get(f"/v1/accounts/{item['id']}?fields=nope", headers=key.headers)
    assert_error(bad, 422, "validation_error")


async def test_other_partitions_and_malformed_ids_are_404(
    client, app: FastAPI, make_key: MakeKey
) -> None:
    key = await make_key()
    _, result = await seed(app, key, [account("A1")])
    account_id = str(result.accounts_created[0])
    live = await make_key(environment="live", org=key.org)
    stranger = await make_key()
    for other in (live, stranger):
        assert_error(
            await client.get(f"/v1/accounts/{account_id}", headers=other.headers), 404, "not_found"
        )
        assert (await client.get("/v1/accounts", headers=other.headers)).json()["data"] == []
    for bad in ("not-a-uuid", account_id.upper(), "01964f81-3c4d-7e5f-9a6b-7c8d9e0f1a2b"):
        assert_error(await client.get(f"/v1/accounts/{bad}", headers=key.headers), 404, "not_found")


async def test_scope_is_required(client, make_key: MakeKey) -> None:
    key = await make_key(scopes=["transactions:read"])
    response = await client.get("/v1/accounts", headers=key.headers)
    body = assert_error(response, 403, "insufficient_scope")
    assert body["error"]["details"]["missingScopes"] == ["accounts:read"]  # type: ignore[index]
