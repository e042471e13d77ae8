"""``/v1/transactions``: sorts (pending placement), filters, cursors, fields, removals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import FastAPI

from tests.api.conftest import MakeKey, assert_error
from tests.api.sync_data import ids, seed
from tests.sync.conftest import ConnectionRow
from tests.sync.helpers import account, txn

if TYPE_CHECKING:
    from tests.api.conftest import TestKey

TRANSACTION_FIELDS = {
    "id", "connectionId", "accountId", "status", "postedDate", "transactionDate", "updatedAt",
    "amount", "currency", "entryType", "description", "rail", "rawDescription",
    "customerReference", "bankReference", "baiCode", "category", "subcategory", "mcc",
    "merchantName", "counterpartyName", "counterpartyAccountMasked", "runningBalance",
}  # fmt: skip


def _items() -> list[Any]:
    return [
        txn("-1250", "ACH PAYMENT   ACME SUPPLY  INV1042", date(2026, 3, 2), portal_row_id="a",
            posted_date=date(2026, 3, 3), rail="ach", bank_reference="ACH0303-000871",
            customer_reference="INV1042", bai_code="455", counterparty_name="Acme Supply",
            running_balance=Decimal("15230.55")),
        txn("300.5", "DEPOSIT", date(2026, 3, 1), portal_row_id="b", rail="check"),
        txn("-2", "FEE", date(2026, 3, 3), portal_row_id="c", rail="fee"),
        txn("-9.99", "CARD HOLD", date(2026, 3, 4), portal_row_id="p1", status="pending",
            rail="card"),
        txn("-5", "CARD HOLD 2", date(2026, 3, 4), portal_row_id="p2", status="pending",
            rail="card"),
    ]  # fmt: skip


async def _setup(app: FastAPI, key: TestKey) -> ConnectionRow:
    conn, _ = await seed(app, key, [account("A1")], {"A1": _items()})
    return conn


async def _all(client: httpx.AsyncClient, key: TestKey, query: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/transactions?{query}", headers=key.headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_transaction_wire_shape(client, app: FastAPI, make_key: MakeKey) -> None:
    key = await make_key()
    conn = await _setup(app, key)
    data = await _all(client, key, "rail=ach")
    (ach,) = data
    assert set(ach) == TRANSACTION_FIELDS
    assert ach["connectionId"] == conn.id
    assert (ach["amount"], ach["currency"], ach["entryType"]) == ("-1250.00", "USD", "debit")
    assert (ach["postedDate"], ach["transactionDate"]) == ("2026-03-03", "2026-03-02")
    assert ach["description"] == "ACH PAYMENT ACME SUPPLY INV1042"
    assert ach["rawDescription"] == "ACH PAYMENT   ACME SUPPLY  INV1042"
    assert ach["runningBalance"] == "15230.55" and ach["category"] is None
    assert ach["updatedAt"].endswith("Z")
    one = await client.get(f"/v1/transactions/{ach['id']}", headers=key.headers)
    assert one.json() == ach
    (deposit,) = await _all(client, key, "rail=check")
    assert (deposit["amount"], deposit["entryType"]) == ("300.50", "credit")


async def test_sorts_place_pending_items(client, app: FastAPI, make_key: MakeKey) -> None:
    key = await make_key()
    await _setup(app, key)

    def described(data: list[dict[str, Any]]) -> list[str]:
        return [t["description"] for t in data]

    newest = await _all(client, key, "")
    assert [t["status"] for t in newest[:2]] == ["pending", "pending"]
    pending_ids = [t["id"] for t in newest[:2]]
    assert pending_ids == sorted(pending_ids, reverse=True)  # id breaks ties, same direction
    assert described(newest)[-1] == "DEPOSIT"
    posted_dates = [t["postedDate"] for t in newest[2:]]
    assert posted_dates == sorted(posted_dates, reverse=True)
    oldest = await _all(client, key, "sort=postedDate")
    assert [t["status"] for t in oldest[-2:]] == ["pending", "pending"]
    assert [t["postedDate"] for t in oldest[:3]] == ["2026-03-01", "2026-03-03", "2026-03-03"]
    assert described(oldest)[0] == "DEPOSIT"
    assert oldest == list(reversed(newest))
    by_update = await _all(client, key, "sort=-updatedAt")
    assert sorted(t["id"] for t in by_update) == sorted(t["id"] for t in newest)
    assert await _all(client, key, "sort=updatedAt") == list(reversed(by_update))


async def test_every_sort_pages_like_one_list(client, app: FastAPI, make_key: MakeKey) -> None:
    key = await make_key()
    await _setup(app, key)
    for sort in ("-postedDate", "postedDate", "-updatedAt", "updatedAt"):
        whole = [t["id"] for t in await _all(client, key, f"sort={sort}")]
        paged: list[str] = []
        url = f"/v1/transactions?sort={sort}&limit=2"
        while True:
            body = (await client.get(url, headers=key.headers)).json()
            paged += ids(body)
            if not body["pagination"]["hasMore"]:
                break
            url = f"/v1/transactions?sort={sort}&limit=2&cursor={body['pagination']['nextCursor']}"
        assert paged == whole, sort
    first = (await client.get("/v1/transactions?limit=2", headers=key.headers)).json()
    cursor = first["pagination"]["nextCursor"]
    resorted = await client.get(
        f"/v1/transactions?limit=2&sort=postedDate&cursor={cursor}", headers=key.headers
    )
    assert_error(resorted, 400, "invalid_cursor")
    elsewhere = await client.get(f"/v1/accounts?limit=2&cursor={cursor}", headers=key.headers)
    assert_error(elsewhere, 400, "invalid_cursor")


async def test_filters(client, app: FastAPI, make_key: MakeKey) -> None:
    key = await make_key()
    conn = await _setup(app, key)
    other, _ = await seed(app, key, [account("Z")], {"Z": [txn("1", "OTHER", account_bank_id="Z")]})
    assert len(await _all(client, key, "")) == 6
    assert len(await _all(client, key, f"connectionId={conn.id}")) == 5
    (only,) = await _all(client, key, f"connectionId={other.id}")
    assert len(await _all(client, key, f"accountId={only['accountId']}")) == 1
    assert {t["status"] for t in await _all(client, key, "status=pending")} == {"pending"}
    assert len(await _all(client, key, "status=pending")) == 2
    assert len(await _all(client, key, "rail=card")) == 2
    ranged = await _all(client, key, "postedDateGte=2026-03-02&postedDateLt=2026-03-04")
    assert sorted(t["postedDate"] for t in ranged) == ["2026-03-02", "2026-03-03", "2026-03-03"]
    assert all(t["postedDate"] for t in await _all(client, key, "postedDateGte=2000-01-01"))
    assert len(await _all(client, key, "postedDateLt=2100-01-01")) == 4  # pending excluded
    assert await _all(client, key, "postedDateGte=2026-03-03&postedDateLt=2026-03-03") == []


async def test_bad_queries_are_rejected(client, make_key: MakeKey) -> None:
    key = await make_key()
    for query, field in (
        ("postedDateGte=2026-03-05&postedDateLt=2026-03-04", "query.postedDateGte"),
        ("postedDateGte=yesterday", "query.postedDateGte"),
        ("postedDateLt=0", "query.postedDateLt"),
        ("postedDateLt=2026-02-30", "query.postedDateLt"),
        ("postedDateLt=2026-3-01", "query.postedDateLt"),
        ("sort=amount", "query.sort"),
        ("status=settled", "query.status"),
        ("rail=carrier-pigeon", "query.rail"),
        ("accountId=123", "query.accountId"),
        ("fields=amount,colour", "query.fields"),
        ("fields=", "query.fields"),
        ("entityId=x", "query.entityId"),
    ):
        response = await client.get(f"/v1/transactions?{query}", headers=key.headers)
        body = assert_error(response, 422, "validation_error")
        assert [e["field"] for e in body["error"]["details"]["errors"]] == [field], query  # type: ignore[index]
    assert_error(
        await client.get("/v1/transactions?cursor=Zm9v", headers=key.headers), 400, "invalid_cursor"
    )


async def test_fields_selection(client, app: FastAPI, make_key: MakeKey) -> None:
    key = await make_key()
    await _setup(app, key)
    data = await _all(client, key, "fields=amount,status")
    assert {frozenset(t) for t in data} == {
        frozenset({"id", "connectionId", "accountId", "amount", "status"})
    }
    one = await client.get(f"/v1/transactions/{data[0]['id']}?fields=rail", headers=key.headers)
    assert set(one.json()) == {"id", "connectionId", "accountId", "rail"}


async def test_removed_items_disappear_and_other_partitions_see_nothing(
    client, app: FastAPI, make_key: MakeKey
) -> None:
    key = await make_key()
    conn = await _setup(app, key)
    voided = next(t for t in await _all(client, key, "") if t["description"] == "CARD HOLD")
    remaining = [t for t in _items() if t.portal_row_id != "p1"]
    _, result = await seed(
        app, key, [account("A1")], {"A1": remaining}, connection=conn, window=date(2026, 3, 1)
    )
    assert (result.added, result.modified, result.removed) == (0, 0, 1)
    assert voided["id"] not in [t["id"] for t in await _all(client, key, "")]
    gone = await client.get(f"/v1/transactions/{voided['id']}", headers=key.headers)
    assert_error(gone, 404, "not_found")
    live = await make_key(environment="live", org=key.org)
    assert (await client.get("/v1/transactions", headers=live.headers)).json()["data"] == []
    some = (await _all(client, key, ""))[0]["id"]
    assert_error(
        await client.get(f"/v1/transactions/{some}", headers=live.headers), 404, "not_found"
    )
    assert_error(
        await client.get("/v1/transactions/not-a-uuid", headers=key.headers), 404, "not_found"
    )
    scoped = await make_key(scopes=["accounts:read"])
    assert_error(await client.get("/v1/transactions", headers=scoped.headers), 403,
                 "insufficient_scope")  # fmt: skip
