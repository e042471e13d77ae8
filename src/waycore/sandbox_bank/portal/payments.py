"""Payments: the form, its confirmation, the list, withdrawal and approvals.

The form carries a one-time ``form_token`` issued into the session; the bank records at most
one payment per token, so a double-submitted form answers with the same confirmation.
Fault switches: ``paymentLimit`` (refused over the limit), ``holdConfirmationMs`` (recorded,
answer delayed), ``confirmationLost`` (recorded, then the user is logged out on an error page).
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waycore.sandbox_bank.errors import (
    ApprovalRefused,
    BankError,
    Forbidden,
    InvalidState,
    NotFound,
    PaymentOverLimit,
    ValidationFailed,
)
from waycore.sandbox_bank.models import Payment
from waycore.sandbox_bank.portal.context import Viewer, db, page, signed_in
from waycore.sandbox_bank.portal.forms import read_form
from waycore.sandbox_bank.portal.queries import AccountView
from waycore.sandbox_bank.portal.render import error_page, money, see_other
from waycore.sandbox_bank.portal.sessions import web_session
from waycore.sandbox_bank.service import accounts as accounts_service
from waycore.sandbox_bank.service import payments as payments_service

FIELD_LIMITS = {
    "beneficiary_name": 140,
    "beneficiary_account_number": 34,
    "beneficiary_routing_number": 9,
    "beneficiary_sort_code": 8,
    "beneficiary_iban": 42,
    "amount": 20,
    "memo": 140,
    "customer_reference": 35,
    "internal_note": 500,
}
FIELD_LABELS = {
    "kind": "Payment type",
    "fromAccountId": "From account",
    "toAccountId": "To account",
    "beneficiaryName": "Beneficiary name",
    "beneficiaryAccountNumber": "Account number",
    "beneficiaryRoutingNumber": "Routing number",
    "beneficiarySortCode": "Sort code",
    "beneficiaryIban": "IBAN",
    "rail": "Method",
    "amount": "Amount",
    "executionDate": "Execution date",
    "memo": "Memo",
    "customerReference": "Your reference",
    "internalNote": "Internal note",
}
STATUS_LABELS = {
    "pending_approval": "Awaiting approval",
    "approved": "Approved",
    "completed": "Completed",
    "rejected": "Rejected",
    "returned": "Returned",
    "withdrawn": "Withdrawn",
    "deleted": "Deleted",
}


def payment_view(p: Payment, accounts: dict[str, Any]) -> dict[str, Any]:
    source = accounts.get(str(p.from_account_id))
    target = accounts.get(str(p.to_account_id)) if p.to_account_id else None
    if p.kind == "internal":
        beneficiary = f"{target.name} {target.masked_number}" if target else "Own account"
    else:
        where = p.beneficiary_iban or (
            f"{p.beneficiary_sort_code} {p.beneficiary_account_number}"
            if p.beneficiary_sort_code
            else f"{p.beneficiary_routing_number} {p.beneficiary_account_number}"
        )
        beneficiary = f"{p.beneficiary_name} · {where}"
    return {
        "id": str(p.id),
        "kind": p.kind,
        "rail": p.rail,
        "from": f"{source.name} {source.masked_number}" if source else "",
        "beneficiary": beneficiary,
        "amount": f"{p.amount:.2f}",
        "amount_text": money(p.amount),
        "currency": p.currency,
        "execution_date": p.execution_date.isoformat(),
        "created": p.created_at.strftime("%Y-%m-%d %H:%M") if p.created_at else "",
        "memo": p.memo,
        "customer_reference": p.customer_reference,
        "internal_note": p.internal_note,
        "bank_reference": p.bank_reference,
        "status": p.status,
        "status_label": STATUS_LABELS.get(p.status, p.status),
        "created_by": p.created_by,
        "approved_by": p.approved_by,
        "rejected_by": p.rejected_by,
        "requires_approval": p.requires_approval,
    }


async def _accounts(request: Request, viewer: Viewer) -> dict[str, Any]:
    async with db(request) as session:
        found = await accounts_service.visible_accounts(session, viewer.user)
    return {str(a.id): AccountView(a, viewer.can_view_balances) for a in found}


async def payments_list(request: Request) -> Response:
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    accounts = await _accounts(request, viewer)
    async with db(request) as session:
        found = await payments_service.payments_for_user(session, viewer.user)
    rows = [payment_view(p, accounts) for p in found if p.status != "deleted"]
    return page(
        request,
        "payments.html",
        viewer,
        title="Payments",
        nav="payments",
        payments=rows,
        notice=request.query_params.get("notice"),
    )


def _form_page(
    request: Request,
    viewer: Viewer,
    accounts: dict[str, Any],
    *,
    values: dict[str, str] | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    ws = web_session(request)
    token = ws.issue_form_token()
    return page(
        request,
        "payment_form.html",
        viewer,
        status=status,
        title="New payment",
        nav="payments",
        accounts=list(accounts.values()),
        values=values or {},
        errors=errors or [],
        form_token=token,
    )


async def payment_new(request: Request) -> Response:
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    if not viewer.can_initiate:
        return _forbidden(request, viewer, "You do not have permission to initiate payments.")
    return _form_page(
        request, viewer, await _accounts(request, viewer), values={"execution_date": ""}
    )


def _forbidden(request: Request, viewer: Viewer, message: str) -> Response:
    return error_page(
        request,
        403,
        "Not allowed",
        message,
        code="forbidden",
        back_url="/payments",
        back_label="Back to payments",
        user=viewer,
    )


def _messages(exc: ValidationFailed) -> list[str]:
    errors: Any = exc.details.get("errors") or []
    return [f"{FIELD_LABELS.get(e['field'], e['field'])}: {e['message']}" for e in errors] or [
        exc.message
    ]


async def payment_submit(request: Request) -> Response:
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    ws = web_session(request)
    form = await read_form(request)
    values = {
        k: (form.get(k) or "")
        for k in (*FIELD_LIMITS, "kind", "from_account", "to_account", "rail", "execution_date")
    }
    accounts = await _accounts(request, viewer)
    shown = {k: v[:600] for k, v in values.items()}
    if not ws.csrf_ok(form.get("csrf_token")):
        return _form_page(
            request,
            viewer,
            accounts,
            values=shown,
            status=403,
            errors=[
                "Your session expired or the form was already used. "
                "Please check the details and submit again."
            ],
        )
    if not viewer.can_initiate:
        return _forbidden(request, viewer, "You do not have permission to initiate payments.")
    token = form.get("form_token") or ""
    if token not in ws.data.get("form_tokens", []):
        return _form_page(
            request,
            viewer,
            accounts,
            values=shown,
            status=409,
            errors=["This form has expired. Please check the details and submit again."],
        )
    too_long = [
        f"{FIELD_LABELS.get(_camel(k), k)}: must be at most {limit} characters"
        for k, limit in FIELD_LIMITS.items()
        if len(values[k]) > limit
    ]
    execution: date | None = None
    if values["execution_date"]:
        try:
            execution = date.fromisoformat(values["execution_date"])
        except ValueError:
            too_long.append("Execution date: must be a date")
    if too_long:
        return _form_page(request, viewer, accounts, values=shown, errors=too_long, status=422)
    kind = values["kind"]
    try:
        async with db(request) as session:
            payment = await payments_service.create_payment(
                session,
                viewer.username,
                kind=kind,
                from_account_id=values["from_account"],
                amount=values["amount"],
                to_account_id=values["to_account"] or None,
                beneficiary_name=values["beneficiary_name"] or None,
                beneficiary_account_number=values["beneficiary_account_number"] or None,
                beneficiary_routing_number=values["beneficiary_routing_number"] or None,
                beneficiary_sort_code=values["beneficiary_sort_code"] or None,
                beneficiary_iban=values["beneficiary_iban"] or None,
                rail=values["rail"] or None,
                execution_date=execution,
                memo=values["memo"],
                customer_reference=values["customer_reference"],
                internal_note=values["internal_note"],
                form_token=token,
            )
    except ValidationFailed as exc:
        return _form_page(
            request, viewer, accounts, values=shown, errors=_messages(exc), status=422
        )
    except PaymentOverLimit as exc:
        return _form_page(request, viewer, accounts, values=shown, errors=[exc.message], status=422)
    except Forbidden as exc:
        return _forbidden(request, viewer, exc.message)
    hold = int(viewer.faults.get("holdConfirmationMs") or 0)
    if hold > 0:
        await asyncio.sleep(hold / 1000)
    if viewer.faults.get("confirmationLost"):
        ws.end()
        return error_page(
            request,
            500,
            "Something went wrong",
            "We could not confirm your request. You have been logged out.",
            code="confirmation_lost",
            back_url="/login",
            back_label="Log in again",
        )
    return see_other(f"/payments/{payment.id}")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


async def _visible_payment(
    request: Request, viewer: Viewer
) -> tuple[Payment, dict[str, Any]] | Response:
    accounts = await _accounts(request, viewer)
    try:
        async with db(request) as session:
            payment = await payments_service.get_payment(session, request.path_params["pid"])
    except NotFound:
        payment = None
    if payment is None or str(payment.from_account_id) not in accounts:
        return error_page(
            request,
            404,
            "Payment not found",
            "This payment does not exist or you may not view it.",
            code="not_found",
            back_url="/payments",
            user=viewer,
        )
    return payment, accounts


async def payment_detail(request: Request) -> Response:
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    found = await _visible_payment(request, viewer)
    if isinstance(found, Response):
        return found
    payment, accounts = found
    return page(
        request,
        "payment_confirmation.html",
        viewer,
        title="Payment",
        nav="payments",
        p=payment_view(payment, accounts),
    )


async def _action(request: Request, action: str, admin: bool = False) -> Response:
    viewer = await signed_in(request, admin=admin)
    if not isinstance(viewer, Viewer):
        return viewer
    ws = web_session(request)
    form = await read_form(request)
    if not ws.csrf_ok(form.get("csrf_token")):
        return error_page(
            request,
            403,
            "Form expired",
            "Your session expired or the form was already used. Nothing changed.",
            code="csrf",
            back_url="/payments",
            user=viewer,
        )
    found = await _visible_payment(request, viewer)
    if isinstance(found, Response):
        return found
    payment, _ = found
    try:
        async with db(request) as session:
            if action == "withdraw":
                await payments_service.withdraw_payment(session, str(payment.id), viewer.username)
            elif action == "approve":
                await payments_service.approve_payment(session, str(payment.id), viewer.username)
            else:
                await payments_service.reject_payment(session, str(payment.id), viewer.username)
    except ApprovalRefused as exc:
        return error_page(
            request,
            403,
            "Approval refused",
            exc.message,
            code="approval_refused",
            back_url="/approvals",
            user=viewer,
        )
    except (Forbidden, InvalidState) as exc:
        return error_page(
            request,
            exc.status,
            "Not possible",
            exc.message,
            code=exc.code,
            back_url="/payments",
            user=viewer,
        )
    except BankError:
        raise
    back = (
        "/admin/payments"
        if viewer.kind == "admin"
        else ("/payments" if action == "withdraw" else "/approvals")
    )
    return see_other(f"{back}?notice=Payment+{payment.bank_reference}+{action}")


async def withdraw(request: Request) -> Response:
    return await _action(request, "withdraw")


async def approve(request: Request) -> Response:
    return await _action(request, "approve")


async def reject(request: Request) -> Response:
    return await _action(request, "reject")


async def approvals(request: Request) -> Response:
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    if not viewer.can_approve:
        return _forbidden(request, viewer, "You do not have permission to approve payments.")
    accounts = await _accounts(request, viewer)
    async with db(request) as session:
        found = await payments_service.payments_for_user(session, viewer.user)
    rows = [payment_view(p, accounts) for p in found if p.status == "pending_approval"]
    return page(
        request,
        "approvals.html",
        viewer,
        title="Approvals",
        nav="approvals",
        payments=rows,
        notice=request.query_params.get("notice"),
    )


async def admin_approve(request: Request) -> Response:
    return await _action(request, "approve", admin=True)


async def admin_reject(request: Request) -> Response:
    return await _action(request, "reject", admin=True)


async def admin_payments(request: Request) -> Response:
    viewer = await signed_in(request, admin=True)
    if not isinstance(viewer, Viewer):
        return viewer
    accounts = await _accounts(request, viewer)
    async with db(request) as session:
        found = await payments_service.list_payments(session, viewer.user.customer_id)
    rows = [payment_view(p, accounts) for p in found]
    return page(
        request,
        "admin_payments.html",
        viewer,
        title="Payments",
        nav="admin-payments",
        payments=rows,
        notice=request.query_params.get("notice"),
    )


routes = [
    Route("/admin/payments", admin_payments, methods=["GET"]),
    Route("/admin/payments/{pid}/approve", admin_approve, methods=["POST"]),
    Route("/admin/payments/{pid}/reject", admin_reject, methods=["POST"]),
    Route("/payments", payments_list, methods=["GET"]),
    Route("/payments", payment_submit, methods=["POST"]),
    Route("/payments/new", payment_new, methods=["GET"]),
    Route("/payments/{pid}", payment_detail, methods=["GET"]),
    Route("/payments/{pid}/withdraw", withdraw, methods=["POST"]),
    Route("/payments/{pid}/approve", approve, methods=["POST"]),
    Route("/payments/{pid}/reject", reject, methods=["POST"]),
    Route("/approvals", approvals, methods=["GET"]),
]
