"""The /_sandbox/ control API against the real database, and outbox delivery to real
receivers (aiosmtpd on loopback, a local HTTP server for the SMS webhook)."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import uuid
from decimal import Decimal
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller

from waycore.sandbox_bank import service
from waycore.sandbox_bank.errors import ApprovalRefused, PaymentOverLimit

ALL = {
    "viewBalances": True,
    "viewTransactions": True,
    "downloadStatements": True,
    "initiatePayments": True,
    "approvePayments": True,
    "accountIds": None,
}
TXN_FIELDS = {
    "id",
    "bankReference",
    "postedDate",
    "transactionDate",
    "amount",
    "description",
    "status",
    "runningBalance",
}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _user_body(username: str, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "address": "1 Example Street, Springfield, IL 62701, US",
        "email": f"{username}@inbox.localhost",
        "username": username,
        "phoneNumber": "+12015550142",
        "secondFactor": "email",
        "permissions": ALL,
    }
    body.update(overrides)
    return body


def _assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


async def _customer(client, **overrides: object) -> dict:
    body = {"name": "Initech LLC", "seed": 1234, **overrides}
    response = await client.post("/_sandbox/customers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_token_is_required_when_configured(bank_client) -> None:
    async with bank_client(sandbox_token="s3cret-token") as (client, _):
        _assert_error(await client.get("/_sandbox/clock"), 401, "authentication_required")
        wrong = await client.get("/_sandbox/clock", headers={"X-Sandbox-Token": "nope"})
        _assert_error(wrong, 401, "authentication_required")
        unknown = await client.get("/_sandbox/nothing-here")
        _assert_error(unknown, 401, "authentication_required")
        ok = await client.get("/_sandbox/clock", headers={"X-Sandbox-Token": "s3cret-token"})
        assert ok.status_code == 200 and re.fullmatch(r"\d{4}-\d\d-\d\d", ok.json()["today"])


async def test_without_token_only_loopback_is_served(bank_client) -> None:
    async with bank_client(client_host="10.1.2.3") as (client, _):
        _assert_error(await client.get("/_sandbox/clock"), 401, "authentication_required")
    async with bank_client(client_host="::1") as (client, _):
        assert (await client.get("/_sandbox/clock")).status_code == 200


async def test_unknown_path_and_wrong_method(bank_client) -> None:
    async with bank_client() as (client, _):
        _assert_error(await client.get("/_sandbox/nothing-here"), 404, "not_found")
        _assert_error(await client.get("/_sandbox/customers"), 405, "method_not_allowed")
        _assert_error(await client.delete("/_sandbox/reset"), 405, "method_not_allowed")


async def test_create_customer_and_list_accounts_and_transactions(bank_client) -> None:
    async with bank_client() as (client, _):
        created = await _customer(client, accounts=4, historyDays=400, transactionsPerAccount=60)
        assert set(created) == {"customerId", "adminUsername", "adminPassword", "accounts"}
        assert len(created["accounts"]) == 4
        assert {"accountId", "name", "type", "currency", "maskedNumber"} == set(
            created["accounts"][0]
        )
        listed = await client.get(f"/_sandbox/customers/{created['customerId']}/accounts")
        assert listed.status_code == 200
        accounts = listed.json()["data"]
        assert [a["accountId"] for a in accounts] == [a["accountId"] for a in created["accounts"]]
        for account in accounts:
            assert account["transactionCount"] == 60
            rows = await client.get(f"/_sandbox/accounts/{account['accountId']}/transactions")
            data = rows.json()["data"]
            assert len(data) == 60
            assert all(set(r) == TXN_FIELDS for r in data)
            assert any(r["status"] == "pending" for r in data)
            assert any(r["bankReference"] for r in data)
            assert any(r["bankReference"] is None for r in data if r["status"] == "posted")
            assert any(not r["description"].isascii() for r in data)
            posted = [r for r in data if r["status"] == "posted"]
            assert posted[0]["runningBalance"] == account["currentBalance"]
            for newer, older in itertools.pairwise(posted):
                expected = Decimal(older["runningBalance"]) + Decimal(newer["amount"])
                assert Decimal(newer["runningBalance"]) == expected
            for row in data:
                assert re.fullmatch(r"-?\d+\.\d\d", row["amount"])
                if row["status"] != "posted":
                    assert row["postedDate"] is None and row["runningBalance"] is None
        owed = [a for a in accounts if a["type"] in ("creditCard", "loan")]
        assert all(Decimal(a["currentBalance"]) < 0 for a in owed)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},
        {"name": "x", "seed": "1"},
        {"name": "x", "seed": 1, "accounts": 0},
        {"name": "x", "seed": 1, "historyDays": -3},
        {"name": "x", "seed": 1, "transactionsPerAccount": 0},
        {"name": "x", "seed": 1, "colour": "red"},
        [1, 2],
    ],
)
async def test_create_customer_rejects_invalid_bodies(bank_client, body) -> None:
    async with bank_client() as (client, _):
        _assert_error(await client.post("/_sandbox/customers", json=body), 422, "validation_error")


async def test_malformed_json_is_422_and_unknown_ids_are_404(bank_client) -> None:
    async with bank_client() as (client, _):
        bad = await client.post(
            "/_sandbox/customers",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        _assert_error(bad, 422, "validation_error")
        for path in (
            "/_sandbox/customers/nope/accounts",
            f"/_sandbox/customers/{uuid.uuid4()}/accounts",
            f"/_sandbox/customers/{uuid.uuid4()}/payments",
            "/_sandbox/accounts/123/transactions",
            f"/_sandbox/accounts/{uuid.uuid4()}/transactions",
            "/_sandbox/delegatedUsers/nobody-here",
        ):
            _assert_error(await client.get(path), 404, "not_found")
        user = await client.post(
            f"/_sandbox/customers/{uuid.uuid4()}/delegatedUsers", json=_user_body("someone")
        )
        _assert_error(user, 404, "not_found")


async def test_delegated_user_gets_temporary_password_by_email(bank_client) -> None:
    async with bank_client() as (client, _):
        customer = await _customer(client)
        username = _name("clerk")
        response = await client.post(
            f"/_sandbox/customers/{customer['customerId']}/delegatedUsers",
            json=_user_body(username, email=f"{username}@example.test"),
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == {"username", "temporaryPassword", "totpSecret"}
        assert body["username"] == username and body["totpSecret"] is None
        outbox = await client.get("/_sandbox/outbox", params={"to": f"{username}@example.test"})
        messages = outbox.json()["data"]
        assert len(messages) == 1
        message = messages[0]
        assert set(message) == {"id", "channel", "to", "from", "subject", "body", "sentAt"}
        assert message["channel"] == "email" and message["subject"]
        found = re.search(r"temporary password is: (\S+)", message["body"])
        assert found and found.group(1) == body["temporaryPassword"]
        got = await client.get(f"/_sandbox/delegatedUsers/{username}")
        assert got.json() == {
            "username": username,
            "customerId": customer["customerId"],
            "secondFactor": "email",
            "permissions": ALL,
            "status": "active",
        }
        again = await client.post(
            f"/_sandbox/customers/{customer['customerId']}/delegatedUsers",
            json=_user_body(username),
        )
        _assert_error(again, 409, "username_taken")
        totp = await client.post(
            f"/_sandbox/customers/{customer['customerId']}/delegatedUsers",
            json=_user_body(_name("totp"), secondFactor="totp"),
        )
        assert re.fullmatch(r"[A-Z2-7]{16,}", totp.json()["totpSecret"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("phoneNumber", "2015550142"),
        ("phoneNumber", "+0123456789"),
        ("secondFactor", "carrier-pigeon"),
        ("permissions", {"viewBalances": "yes"}),
        ("permissions", {"accountIds": [str(uuid.uuid4())]}),
        ("permissions", {"launchRockets": True}),
        ("username", "a b"),
        ("username", "demo-mine"),
        ("firstName", ""),
        ("lastName", "x" * 500),
    ],
)
async def test_delegated_user_validation(bank_client, field, value) -> None:
    async with bank_client() as (client, _):
        customer = await _customer(client, accounts=1, historyDays=30)
        body = _user_body(_name("bad"))
        body[field] = value
        response = await client.post(
            f"/_sandbox/customers/{customer['customerId']}/delegatedUsers", json=body
        )
        _assert_error(response, 422, "validation_error")
        assert field in {
            e["field"].split(".")[0] for e in response.json()["error"]["details"]["errors"]
        }


async def test_fault_switches(bank_client) -> None:
    async with bank_client() as (client, _):
        customer = await _customer(client, accounts=1, historyDays=30)
        username = _name("faulty")
        await client.post(
            f"/_sandbox/customers/{customer['customerId']}/delegatedUsers",
            json=_user_body(username),
        )
        path = f"/_sandbox/delegatedUsers/{username}/faults"
        first = await client.put(path, json={"slowMs": 250, "maintenance": True})
        assert first.status_code == 200
        faults = first.json()
        assert set(faults) == {
            "wrongPassword",
            "locked",
            "otpNeverDelivered",
            "sessionExpiryAfterPages",
            "slowMs",
            "errorRate",
            "maintenance",
            "redesign",
            "holdConfirmationMs",
            "confirmationLost",
            "paymentLimit",
        }
        assert faults["slowMs"] == 250 and faults["maintenance"] is True
        second = (await client.put(path, json={"paymentLimit": "500.00", "errorRate": 0.5})).json()
        assert second["slowMs"] == 250 and second["maintenance"] is True
        assert second["paymentLimit"] == "500.00" and second["errorRate"] == 0.5
        assert (await client.get(path)).json() == second
        for bad in (
            {"slowMs": -1},
            {"errorRate": 2},
            {"locked": "yes"},
            {"bogus": True},
            {"sessionExpiryAfterPages": 0},
            {"paymentLimit": 12},
        ):
            _assert_error(await client.put(path, json=bad), 422, "validation_error")
        _assert_error(
            await client.put("/_sandbox/delegatedUsers/ghost-user/faults", json={}),
            404,
            "not_found",
        )


async def test_payments_approval_rules_and_actions(bank_client) -> None:
    async with bank_client() as (client, app):
        customer = await _customer(client, accounts=2, historyDays=60)
        cid = customer["customerId"]
        checking, savings = (a["accountId"] for a in customer["accounts"])
        maker, checker = _name("maker"), _name("checker")
        for username in (maker, checker):
            await client.post(
                f"/_sandbox/customers/{cid}/delegatedUsers", json=_user_body(username)
            )
        async with app.state.sessionmaker() as session:
            small = await service.create_payment(
                session,
                maker,
                kind="internal",
                from_account_id=checking,
                to_account_id=savings,
                amount="9999.99",
                customer_reference="INV-1",
                internal_note="petty",
            )
            large = await service.create_payment(
                session,
                maker,
                kind="internal",
                from_account_id=checking,
                to_account_id=savings,
                amount="10000.00",
                customer_reference="INV-2",
            )
            external = await service.create_payment(
                session,
                maker,
                kind="external",
                from_account_id=checking,
                amount="250.00",
                beneficiary_name="Acme Supply",
                beneficiary_account_number="123456789",
                beneficiary_routing_number="021000021",
                rail="ach",
                customer_reference="PO-77",
                form_token="form-1",
            )
            twice = await service.create_payment(
                session,
                maker,
                kind="external",
                from_account_id=checking,
                amount="250.00",
                beneficiary_name="Acme Supply",
                beneficiary_account_number="123456789",
                beneficiary_routing_number="021000021",
                rail="ach",
                form_token="form-1",
            )
            assert twice.id == external.id
            assert small.status == "completed"
            assert large.status == external.status == "pending_approval"
            with pytest.raises(ApprovalRefused):
                await service.approve_payment(session, str(large.id), maker)
            approved = await service.approve_payment(session, str(large.id), checker)
            assert approved.status == "completed" and approved.approved_by == checker
            await service.set_faults(session, maker, {"paymentLimit": "100.00"})
            with pytest.raises(PaymentOverLimit):
                await service.create_payment(
                    session,
                    maker,
                    kind="internal",
                    from_account_id=checking,
                    to_account_id=savings,
                    amount="100.01",
                )
        listed = (await client.get(f"/_sandbox/customers/{cid}/payments")).json()["data"]
        assert len(listed) == 3
        by_id = {p["paymentId"]: p for p in listed}
        assert by_id[str(small.id)]["note"] == "petty"
        assert by_id[str(large.id)]["createdBy"] == maker
        assert by_id[str(large.id)]["approvedBy"] == checker
        rows = (await client.get(f"/_sandbox/accounts/{checking}/transactions")).json()["data"]
        debit = next(
            r
            for r in rows
            if r["bankReference"] == large.bank_reference and r["amount"] == "-10000.00"
        )
        assert "INV-2" in debit["description"] and debit["status"] == "posted"
        credit = (await client.get(f"/_sandbox/accounts/{savings}/transactions")).json()["data"]
        assert any(r["amount"] == "9999.99" for r in credit)

        ext = f"/_sandbox/payments/{external.id}"
        _assert_error(await client.get(f"{ext}/approve"), 405, "method_not_allowed")
        _assert_error(await client.post(f"{ext}/return", json={}), 409, "invalid_state")
        approved_ext = await client.post(f"{ext}/approve", json={})
        assert approved_ext.status_code == 200, approved_ext.text
        assert approved_ext.json()["status"] == "completed"
        assert approved_ext.json()["approvedBy"] == "sandbox-control"
        returned = await client.post(f"{ext}/return")
        assert returned.json()["status"] == "returned"
        _assert_error(await client.post(f"{ext}/delete"), 409, "invalid_state")
        _assert_error(await client.post(f"{ext}/approve", json={}), 409, "invalid_state")
        _assert_error(await client.post(f"{ext}/approve", json={"x": 1}), 422, "validation_error")
        for bad in ("not-a-uuid", str(uuid.uuid4())):
            _assert_error(
                await client.post(f"/_sandbox/payments/{bad}/approve", json={"x": 1}),
                404,
                "not_found",
            )

        async with app.state.sessionmaker() as session:
            pending = await service.create_payment(
                session,
                checker,
                kind="external",
                from_account_id=checking,
                amount="75.00",
                beneficiary_name="Björk Design AB",
                beneficiary_iban="DE89370400440532013000",
                rail="wire",
            )
        rejected = await client.post(f"/_sandbox/payments/{pending.id}/reject")
        assert rejected.json()["status"] == "rejected"
        deleted = await client.post(f"/_sandbox/payments/{pending.id}/delete")
        assert deleted.json()["status"] == "deleted"


async def test_clock_advance(bank_client) -> None:
    async with bank_client() as (client, _):
        before = (await client.get("/_sandbox/clock")).json()["today"]
        moved = await client.post("/_sandbox/clock/advance", json={"days": 2})
        assert moved.status_code == 200
        from datetime import date, timedelta

        assert moved.json()["today"] == (date.fromisoformat(before) + timedelta(days=2)).isoformat()
        for bad in ({}, {"days": 0}, {"days": "3"}, {"days": 1.5}, {"days": 2, "x": 1}):
            _assert_error(
                await client.post("/_sandbox/clock/advance", json=bad), 422, "validation_error"
            )


async def test_demo_users_through_the_control_api(bank_client) -> None:
    async with bank_client() as (client, app):
        name = _name("demo-ctl")
        _assert_error(await client.get(f"/_sandbox/delegatedUsers/{name}"), 404, "not_found")
        async with app.state.sessionmaker() as session:
            for _ in range(7):
                wrong = await service.verify_password(session, name, "wrong")
                assert wrong.outcome == service.LoginOutcome.WRONG
            ok = await service.verify_password(session, name, "demo-password")
            assert ok.outcome == service.LoginOutcome.OK
            assert not service.needs_password_change(ok.user)
            locked = await service.verify_password(session, name + "+locked", "demo-password")
            assert locked.outcome == service.LoginOutcome.LOCKED
            approver = await service.verify_password(session, name + ".approver", "demo-password")
            assert approver.outcome == service.LoginOutcome.OK
        got = (await client.get(f"/_sandbox/delegatedUsers/{name}")).json()
        assert got["status"] == "active" and got["secondFactor"] == "none"
        same = (await client.get(f"/_sandbox/delegatedUsers/{name}.approver")).json()
        assert same["customerId"] == got["customerId"]
        accounts = (await client.get(f"/_sandbox/customers/{got['customerId']}/accounts")).json()
        assert len(accounts["data"]) == 3
        assert all(150 <= a["transactionCount"] <= 400 for a in accounts["data"])
        hardware = (await client.get(f"/_sandbox/delegatedUsers/{name}+locked")).json()
        assert hardware["status"] == "locked"


async def test_reset_empties_the_bank(make_database, bank_settings, engine) -> None:
    import httpx

    from waycore.sandbox_bank.app import create_app

    clone = make_database()
    await engine.dispose()  # cloning terminated the shared engine's pooled connections
    app = create_app(bank_settings(), clone)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bank") as client:
            customer = await _customer(client, accounts=1, historyDays=20)
            await client.post("/_sandbox/clock/advance", json={"days": 3})
            reset = await client.post("/_sandbox/reset", json={})
            assert reset.status_code == 200
            assert reset.json()["today"] == bank_settings().sandbox_start_date
            gone = await client.get(f"/_sandbox/customers/{customer['customerId']}/accounts")
            _assert_error(gone, 404, "not_found")
            assert (await client.get("/_sandbox/outbox")).json() == {"data": []}


class _SmtpSink:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


class _SmsReceiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, list[str]]]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = parse_qs(self.rfile.read(length).decode())
        type(self).received.append((self.path, form))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


async def _eventually(predicate, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_email_goes_by_smtp_and_sms_to_the_webhook(bank_client) -> None:
    sink = _SmtpSink()
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port)
    smtp.start()
    http = ThreadingHTTPServer(("127.0.0.1", 0), _SmsReceiver)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    _SmsReceiver.received = []
    try:
        smtp_port = free_port
        sms_url = f"http://127.0.0.1:{http.server_address[1]}/inbox/sms?token=abc123"
        async with bank_client(
            sandbox_smtp_url=f"smtp://127.0.0.1:{smtp_port}", sandbox_sms_webhook_url=sms_url
        ) as (client, app):
            customer = await _customer(client, accounts=1, historyDays=10)
            username = _name("smsuser")
            created = await client.post(
                f"/_sandbox/customers/{customer['customerId']}/delegatedUsers",
                json=_user_body(username, secondFactor="sms", phoneNumber="+12015550177"),
            )
            password = created.json()["temporaryPassword"]
            await _eventually(lambda: sink.messages)
            mail = message_from_bytes(sink.messages[0])
            assert mail["To"] == f"{username}@inbox.localhost"
            assert (
                f"Your temporary password is: {password}" in mail.get_payload(decode=True).decode()
            )

            async with app.state.sessionmaker() as session:
                issued = await service.issue_one_time_code(session, username)
            assert issued.channel == "sms" and issued.sent
            await _eventually(lambda: _SmsReceiver.received)
            path, form = _SmsReceiver.received[0]
            assert path == "/inbox/sms?token=abc123"
            assert form["To"] == ["+12015550177"] and form["From"]
            code = re.search(r"\b(\d{6})\b", form["Body"][0]).group(1)
            async with app.state.sessionmaker() as session:
                assert await service.verify_one_time_code(session, username, code) == "ok"
                assert await service.verify_one_time_code(session, username, code) == "wrong"
            outbox = (await client.get("/_sandbox/outbox", params={"to": "+12015550177"})).json()
            assert outbox["data"][0]["channel"] == "sms" and outbox["data"][0]["subject"] is None
    finally:
        smtp.stop()
        http.shutdown()
