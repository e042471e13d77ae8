"""The realistic path: an administrator creates the delegated user from ``setup.instructions``
through the bank's control API; the temporary password reaches Waycore's inbox by real SMTP;
codes come by e-mail, SMS (the bank posts to the API's webhook) or TOTP. Every row Waycore
stores is compared with the bank's own rows; a clock advance then changes exactly the new,
posted and voided items, with one ``transactions.sync_available`` per sync."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.activation.system import ApiClient, System, is_active_and_synced

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PERMISSIONS = {
    "viewBalances": True,
    "viewTransactions": True,
    "downloadStatements": True,
    "initiatePayments": False,
    "approvePayments": False,
    "accountIds": None,
}


def _create_delegated_user(
    system: System, instructions: dict[str, Any], factor: str
) -> tuple[str, dict[str, Any]]:
    with system.bank() as bank:
        customer = bank.post(
            "/customers",
            json={
                "name": f"Acme {secrets.token_hex(3)}",
                "seed": secrets.randbelow(10_000),
                "accounts": 2,
                "historyDays": 90,
                "transactionsPerAccount": 60,
            },
        )
        assert customer.status_code == 201, customer.text
        customer_id = customer.json()["customerId"]
        created = bank.post(
            f"/customers/{customer_id}/delegatedUsers",
            json={
                "firstName": instructions["firstName"],
                "lastName": instructions["lastName"],
                "address": instructions["address"],
                "email": instructions["email"],
                "username": instructions["username"],
                "phoneNumber": instructions["phoneNumber"],
                "secondFactor": factor,
                "permissions": PERMISSIONS,
            },
        )
        assert created.status_code == 201, created.text
    return str(customer_id), created.json()


def _bank_rows(bank: httpx.Client, customer_id: str) -> dict[str, dict[str, Any]]:
    """Every visible (not voided) transaction of the customer, by the bank's row id."""
    accounts = bank.get(f"/customers/{customer_id}/accounts").json()["data"]
    rows: dict[str, dict[str, Any]] = {}
    for account in accounts:
        listed = bank.get(f"/accounts/{account['accountId']}/transactions").json()["data"]
        for row in listed:
            if row["status"] != "voided":
                rows[row["id"]] = row | {"accountId": account["accountId"]}
    return rows


def _our_rows(system: System, connection_id: str) -> dict[str, dict[str, Any]]:
    found = system.sql(
        "select t.identity, a.bank_id, t.status, t.posted_date, t.transaction_date, t.amount, "
        "t.running_balance from transactions t join accounts a on a.id = t.account_id "
        "where t.connection_id = %s and t.removed_at is null and t.identity_kind = 'row_id'",
        connection_id,
    )
    total = system.sql(
        "select count(*) from transactions where connection_id = %s and removed_at is null",
        connection_id,
    )[0][0]
    assert total == len(found), "every Sandbox Bank row is identified by its row id"
    return {
        r[0]: {
            "accountId": r[1],
            "status": r[2],
            "postedDate": r[3].isoformat() if r[3] else None,
            "transactionDate": r[4].isoformat(),
            "amount": Decimal(r[5]),
            "runningBalance": None if r[6] is None else Decimal(r[6]),
        }
        for r in found
    }


def _assert_same(system: System, connection_id: str, customer_id: str) -> dict[str, Any]:
    with system.bank() as bank:
        theirs = _bank_rows(bank, customer_id)
        accounts = {
            a["accountId"] for a in bank.get(f"/customers/{customer_id}/accounts").json()["data"]
        }
    ours = _our_rows(system, connection_id)
    stored_accounts = {
        r[0]
        for r in system.sql("select bank_id from accounts where connection_id = %s", connection_id)
    }
    assert stored_accounts == accounts
    assert set(ours) == set(theirs)
    for row_id, row in theirs.items():
        mine = ours[row_id]
        assert mine["accountId"] == row["accountId"]
        assert mine["status"] == row["status"], row
        assert mine["amount"] == Decimal(row["amount"]), row
        assert mine["transactionDate"] == row["transactionDate"], row
        assert mine["postedDate"] == row["postedDate"], row
    return theirs


def _sync_events(system: System, connection_id: str) -> list[dict[str, Any]]:
    rows = system.sql(
        "select data from events where type = 'transactions.sync_available' "
        "and data->>'connectionId' = %s order by created_at, xmin::text::bigint, id",
        connection_id,
    )
    return [r[0] for r in rows]


def _activate(system: System, api: ApiClient, factor: str) -> tuple[str, str]:
    cid, customer_id, _ = _activate_returning_secrets(system, api, factor)
    return cid, customer_id


def _activate_returning_secrets(
    system: System, api: ApiClient, factor: str
) -> tuple[str, str, dict[str, Any]]:
    connection = api.new_connection()
    instructions = connection["setup"]["instructions"]
    customer_id, created = _create_delegated_user(system, instructions, factor)
    # no password: the temporary one the bank e-mailed is read from Waycore's inbox
    api.credentials(connection["id"], bankUsername=instructions["username"])
    api.complete_setup(connection["id"])
    return str(connection["id"]), customer_id, created


@pytest.mark.parametrize("factor", ["email", "sms", "totp"])
def test_delegated_user_from_instructions_activates_with_inbox_secrets(
    system: System, factor: str
) -> None:
    api = system.client()
    with system.worker(WAYCORE_INBOX_CODE_TIMEOUT_S="30"):
        cid, customer_id, created = _activate_returning_secrets(system, api, factor)
        done = api.wait_for(cid, is_active_and_synced)
    assert done["kind"] == "ready"
    _assert_same(system, cid, customer_id)
    _assert_secrets_kept_secret(system, api, cid, created)
    sealed = system.sql(
        "select password is not null, totp_secret is not null from connection_credentials "
        "where connection_id = %s",
        cid,
    )[0]
    assert sealed == (True, factor == "totp")  # the changed password (and secret) kept


def _assert_secrets_kept_secret(
    system: System, api: ApiClient, connection_id: str, created: dict[str, Any]
) -> None:
    """The temporary password, the TOTP seed and the one-time codes the bank sent never reach
    a log line, an event, a stored inbox row in plaintext or an API response."""
    planted = [created["temporaryPassword"]]
    if created["totpSecret"]:
        planted.append(created["totpSecret"])
    email, phone = system.sql(
        "select email, phone_number from connections where id = %s", connection_id
    )[0]
    with system.bank() as bank:
        for address in (email, phone):
            for message in bank.get("/outbox", params={"to": address}).json()["data"]:
                planted.extend(re.findall(r"\b\d{6}\b", message["body"]))
    assert len(planted) >= 2, "the temporary password and a code or TOTP seed were planted"
    logs = system.logs()
    events = "".join(str(row[0]) for row in system.sql("select data::text from events"))
    inbox = "".join(str(row) for row in system.sql("select * from inbox_messages"))
    response = api.call("GET", f"/v1/connections/{connection_id}").text
    for secret in planted:
        assert secret not in logs
        assert secret not in events
        assert secret not in inbox
        assert secret not in response


def test_clock_advance_changes_exactly_new_posted_and_voided_items(system: System) -> None:
    api = system.client()
    with system.worker(WAYCORE_INBOX_CODE_TIMEOUT_S="30"):
        cid, customer_id = _activate(system, api, "email")
        first = api.wait_for(cid, is_active_and_synced)
        before = _assert_same(system, cid, customer_id)
        seq = system.sql("select coalesce(max(seq), 0) from transaction_changes")[0][0]
        with system.bank() as bank:
            advanced = bank.post("/clock/advance", json={"days": 5})
            assert advanced.status_code == 200, advanced.text
        response = api.call("PUT", f"/v1/connections/{cid}/sync")
        assert response.status_code == 202, response.text
        api.wait_for(
            cid, lambda c: is_active_and_synced(c) and c["lastSyncedAt"] != first["lastSyncedAt"]
        )
    after = _assert_same(system, cid, customer_id)
    added = set(after) - set(before)
    removed = set(before) - set(after)
    posted = {k for k in set(before) & set(after) if before[k]["status"] != after[k]["status"]}
    changes = system.sql(
        "select c.type, t.identity from transaction_changes c "
        "join transactions t on t.id = c.transaction_id where c.connection_id = %s and c.seq > %s",
        cid,
        seq,
    )
    by_type: dict[str, set[str]] = {"added": set(), "modified": set(), "removed": set()}
    for kind, identity in changes:
        by_type[kind].add(identity)
    assert by_type["added"] == added
    assert by_type["removed"] == removed
    assert posted <= by_type["modified"]
    # anything else modified is a row whose running balance moved with a late posting
    events = _sync_events(system, cid)
    assert len(events) == 2
    assert events[1]["added"] == len(added) and events[1]["removed"] == len(removed)
    assert events[1]["modified"] == len(by_type["modified"])
