"""The test control API under ``/_sandbox/`` (JSON; for tests and demos, never a connector).

Auth: with ``WAYCORE_SANDBOX_TOKEN`` set, header ``X-Sandbox-Token`` must equal it; unset,
only loopback callers are served; else 401 ``authentication_required``. Unknown or
malformed ids are 404 ``not_found``, a wrong method 405, invalid bodies 422
``validation_error``; errors are ``{"error": {"code", "message", "details"}}`` and lists
``{"data": [...]}``.

    POST /_sandbox/customers                               201 customer, admin, accounts
    POST /_sandbox/customers/{customerId}/delegatedUsers   201 username, temporaryPassword,
                                                                totpSecret
    GET  /_sandbox/customers/{customerId}/accounts         accounts with balances, counts
    GET  /_sandbox/customers/{customerId}/payments         payments
    GET  /_sandbox/accounts/{accountId}/transactions       every row, voided included
    GET  /_sandbox/delegatedUsers/{username}               username, customerId, ...
    GET|PUT /_sandbox/delegatedUsers/{username}/faults     fault switches
    POST /_sandbox/payments/{paymentId}/approve|reject|return|delete
    GET  /_sandbox/outbox?to=…                             messages, newest first
    GET  /_sandbox/clock, POST /_sandbox/clock/advance {"days": N}
    POST /_sandbox/reset
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from waycore.sandbox_bank import clock, service
from waycore.sandbox_bank.errors import NotFound, ValidationFailed
from waycore.sandbox_bank.models import Account, OutboxMessage, Payment, Transaction, User
from waycore.sandbox_bank.service._common import parse_id

CONTROL_PREFIX = "/_sandbox"
MAX_BODY = 1_048_576


def error_response(
    status: int, code: str, message: str, details: dict[str, object]
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}}, status_code=status
    )


class ControlAuthMiddleware:
    """Refuses control-API calls without the token (or, with none set, off loopback)."""

    def __init__(self, app: ASGIApp, token: SecretStr | None) -> None:
        self.app = app
        self.token = token.get_secret_value() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (
            path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")
        ):
            if not self._allowed(scope):
                response = error_response(
                    401,
                    "authentication_required",
                    "Send X-Sandbox-Token (or call from loopback when no token is set).",
                    {},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        if self.token is not None:
            for name, value in scope.get("headers", []):
                if name == b"x-sandbox-token":
                    return secrets.compare_digest(value, self.token.encode())
            return False
        client = scope.get("client")
        if not client:
            return False
        try:
            return ipaddress.ip_address(client[0]).is_loopback
        except ValueError:
            return False


router = APIRouter(prefix=CONTROL_PREFIX, include_in_schema=False)


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(_session)]


async def _body(request: Request, allowed: set[str], *, optional: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ValidationFailed.single("body", "is larger than 1 MiB")
    if not raw.strip():
        if optional:
            return {}
        raise ValidationFailed.single("body", "a JSON object is required")
    try:
        body = json.loads(raw)
    except ValueError:
        raise ValidationFailed.single("body", "is not valid JSON") from None
    if not isinstance(body, dict):
        raise ValidationFailed.single("body", "must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationFailed([{"field": key, "message": "unknown field"} for key in unknown])
    return body


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _account_brief(account: Account) -> dict[str, Any]:
    return {
        "accountId": str(account.id),
        "name": account.name,
        "type": account.type,
        "currency": account.currency,
        "maskedNumber": account.masked_number,
    }


def transaction_out(row: Transaction) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "bankReference": row.bank_reference,
        "postedDate": _day(row.posted_date),
        "transactionDate": row.transaction_date.isoformat(),
        "amount": money(row.amount),
        "description": row.description,
        "status": row.status,
        "runningBalance": money(row.running_balance),
    }


def payment_out(payment: Payment) -> dict[str, Any]:
    return {
        "paymentId": str(payment.id),
        "customerId": str(payment.customer_id),
        "kind": payment.kind,
        "rail": payment.rail,
        "fromAccountId": str(payment.from_account_id),
        "toAccountId": str(payment.to_account_id) if payment.to_account_id else None,
        "beneficiaryName": payment.beneficiary_name,
        "beneficiaryAccountNumber": payment.beneficiary_account_number,
        "beneficiaryRoutingNumber": payment.beneficiary_routing_number,
        "beneficiarySortCode": payment.beneficiary_sort_code,
        "beneficiaryIban": payment.beneficiary_iban,
        "amount": money(payment.amount),
        "currency": payment.currency,
        "executionDate": payment.execution_date.isoformat(),
        "memo": payment.memo,
        "customerReference": payment.customer_reference or None,
        "bankReference": payment.bank_reference,
        "note": payment.internal_note or None,
        "status": payment.status,
        "requiresApproval": payment.requires_approval,
        "createdBy": payment.created_by,
        "approvedBy": payment.approved_by,
        "rejectedBy": payment.rejected_by,
        "createdAt": payment.created_at.isoformat().replace("+00:00", "Z"),
        "completedOn": _day(payment.completed_on),
    }


def user_out(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "customerId": str(user.customer_id),
        "secondFactor": service.second_factor_channel(user),
        "permissions": user.permissions,
        "status": user.status,
    }


def message_out(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "channel": message.channel,
        "to": message.recipient,
        "from": message.sender,
        "subject": message.subject,
        "body": message.body,
        "sentAt": message.sent_at.isoformat().replace("+00:00", "Z"),
    }


CUSTOMER_FIELDS = {"name", "seed", "accounts", "historyDays", "transactionsPerAccount"}
USER_FIELDS = {
    "firstName",
    "lastName",
    "address",
    "email",
    "username",
    "phoneNumber",
    "secondFactor",
    "permissions",
}


@router.post("/customers", status_code=201)
async def create_customer(request: Request, session: DbSession) -> dict[str, Any]:
    body = await _body(request, CUSTOMER_FIELDS)
    missing = sorted({"name", "seed"} - set(body))
    if missing:
        raise ValidationFailed([{"field": f, "message": "is required"} for f in missing])
    created = await service.create_customer(
        session,
        name=body["name"],
        seed=body["seed"],
        accounts=body.get("accounts", 3),
        history_days=body.get("historyDays", 1095),
        transactions_per_account=body.get("transactionsPerAccount"),
    )
    return {
        "customerId": str(created.customer.id),
        "adminUsername": created.admin_username,
        "adminPassword": created.admin_password,
        "accounts": [_account_brief(a) for a in created.accounts],
    }


@router.post("/customers/{customerId}/delegatedUsers", status_code=201)
async def create_delegated_user(
    request: Request,
    session: DbSession,
    customer_id: Annotated[str, Path(alias="customerId")],
) -> dict[str, Any]:
    customer = await service.get_customer(session, customer_id)
    body = await _body(request, USER_FIELDS)
    created = await service.create_delegated_user(
        session,
        customer.id,
        first_name=body.get("firstName"),
        last_name=body.get("lastName"),
        address=body.get("address"),
        email=body.get("email"),
        username=body.get("username"),
        phone_number=body.get("phoneNumber"),
        second_factor=body.get("secondFactor"),
        permissions=body.get("permissions"),
    )
    return {
        "username": created.user.username,
        "temporaryPassword": created.temporary_password,
        "totpSecret": created.totp_secret,
    }


@router.get("/customers/{customerId}/accounts")
async def list_accounts(
    session: DbSession, customer_id: Annotated[str, Path(alias="customerId")]
) -> dict[str, Any]:
    rows = await service.customer_accounts(session, customer_id)
    return {
        "data": [
            {
                **_account_brief(account),
                "currentBalance": money(account.current_balance),
                "availableBalance": money(account.available_balance),
                "transactionCount": count,
            }
            for account, count in rows
        ]
    }


@router.get("/customers/{customerId}/payments")
async def list_payments(
    session: DbSession, customer_id: Annotated[str, Path(alias="customerId")]
) -> dict[str, Any]:
    customer = await service.get_customer(session, customer_id)
    return {"data": [payment_out(p) for p in await service.list_payments(session, customer.id)]}


@router.get("/accounts/{accountId}/transactions")
async def list_transactions(
    session: DbSession, account_id: Annotated[str, Path(alias="accountId")]
) -> dict[str, Any]:
    return {
        "data": [transaction_out(t) for t in await service.all_transactions(session, account_id)]
    }


@router.get("/delegatedUsers/{username}")
async def get_delegated_user(session: DbSession, username: str) -> dict[str, Any]:
    return user_out(await service.require_user(session, username))


@router.get("/delegatedUsers/{username}/faults")
async def get_faults(session: DbSession, username: str) -> dict[str, Any]:
    return await service.get_faults(session, username)


@router.put("/delegatedUsers/{username}/faults")
async def put_faults(request: Request, session: DbSession, username: str) -> dict[str, Any]:
    if not username.startswith("demo"):
        await service.require_user(session, username)
    body = await _body(request, set(service.users.DEFAULT_FAULTS))
    return await service.set_faults(session, username, body)


async def _payment_action(
    request: Request, session: DbSession, payment_id: str, action: str
) -> dict[str, Any]:
    if parse_id(payment_id) is None:
        raise NotFound("Payment not found.")
    await service.get_payment(session, payment_id)
    await _body(request, set(), optional=True)
    handlers = {
        "approve": service.approve_payment,
        "reject": service.reject_payment,
        "return": service.return_payment,
        "delete": service.delete_payment,
    }
    payment = await handlers[action](session, payment_id)
    return payment_out(payment)


@router.post("/payments/{paymentId}/{action}")
async def payment_action(
    request: Request,
    session: DbSession,
    payment_id: Annotated[str, Path(alias="paymentId")],
    action: str,
) -> dict[str, Any]:
    if action not in ("approve", "reject", "return", "delete"):
        raise NotFound("Not found.")
    return await _payment_action(request, session, payment_id, action)


@router.get("/outbox")
async def outbox(session: DbSession, to: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    return {"data": [message_out(m) for m in await service.list_outbox(session, to)]}


@router.get("/clock")
async def get_clock(session: DbSession) -> dict[str, Any]:
    return {"today": (await clock.today(session)).isoformat()}


@router.post("/clock/advance")
async def advance_clock(request: Request, session: DbSession) -> dict[str, Any]:
    body = await _body(request, {"days"})
    if "days" not in body:
        raise ValidationFailed.single("days", "is required")
    return {"today": (await clock.advance(session, body["days"])).isoformat()}


@router.post("/reset")
async def reset(request: Request, session: DbSession) -> dict[str, Any]:
    await _body(request, set(), optional=True)
    settings = request.app.state.settings
    await service.reset(session, clock.parse_start_date(settings.sandbox_start_date))
    return {"today": (await clock.today(session)).isoformat()}
