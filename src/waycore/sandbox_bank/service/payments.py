"""Payments: internal (between the customer's own accounts) and external (to a beneficiary).

Internal payments of 10,000.00 or more and every external one wait for approval by a
different user holding ``approvePayments`` (``status = "pending_approval"``); smaller
internal ones complete at once. Statuses: pending_approval, approved (future execution
date), completed, rejected, returned, withdrawn (by the initiator), deleted. A completed
payment posts a debit carrying both references (the bank's and the customer's). A
``form_token`` makes a double-submitted form one payment.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.sandbox_bank import clock
from waycore.sandbox_bank.catalogue import CLEARING_LABEL
from waycore.sandbox_bank.errors import (
    ApprovalRefused,
    Forbidden,
    InvalidState,
    NotFound,
    PaymentOverLimit,
    ValidationFailed,
)
from waycore.sandbox_bank.models import Account, Payment, User
from waycore.sandbox_bank.service import ledger
from waycore.sandbox_bank.service._common import parse_id, raise_if, text_field, tx
from waycore.sandbox_bank.service.users import can, faults_of, may_see_account

APPROVAL_THRESHOLD = Decimal("10000.00")
MAX_AMOUNT = Decimal("999999999.99")
CONTROL_ACTOR = "sandbox-control"
RAILS = {"USD": ("ach", "wire"), "GBP": ("fasterPayments", "wire"), "EUR": ("sepaCredit", "wire")}
DEBITABLE = ("checking", "savings", "moneyMarket")
_AMOUNT_RE = re.compile(r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?$")


def parse_amount(value: object) -> Decimal:
    text = str(value).strip() if isinstance(value, str | Decimal) else None
    if text is None or not _AMOUNT_RE.match(text.replace(",", "")):
        raise ValidationFailed.single("amount", "must be a positive amount like 1250.00")
    try:
        amount = Decimal(text.replace(",", "")).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValidationFailed.single("amount", "must be a positive amount") from None
    if not Decimal(0) < amount <= MAX_AMOUNT:
        raise ValidationFailed.single("amount", "must be more than 0 and at most 999999999.99")
    return amount


def _valid_iban(value: str) -> bool:
    iban = value.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}", iban):
        return False
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def _valid_aba(value: str) -> bool:
    if not re.fullmatch(r"[0-9]{9}", value):
        return False
    weights = [3, 7, 1] * 3
    return sum(int(d) * w for d, w in zip(value, weights, strict=True)) % 10 == 0


async def create_payment(
    session: AsyncSession,
    username: str,
    *,
    kind: str,
    from_account_id: str,
    amount: object,
    to_account_id: str | None = None,
    beneficiary_name: str | None = None,
    beneficiary_account_number: str | None = None,
    beneficiary_routing_number: str | None = None,
    beneficiary_sort_code: str | None = None,
    beneficiary_iban: str | None = None,
    rail: str | None = None,
    execution_date: date | None = None,
    memo: str = "",
    customer_reference: str = "",
    internal_note: str = "",
    form_token: str | None = None,
) -> Payment:
    """Record a payment the user initiates; raises ValidationFailed, Forbidden,
    PaymentOverLimit (fault ``paymentLimit``) or NotFound (account)."""
    errors: list[dict[str, str]] = []
    if kind not in ("internal", "external"):
        raise ValidationFailed.single("kind", "must be internal or external")
    value = parse_amount(amount)
    memo = text_field(errors, "memo", memo, max_len=140, required=False)
    reference = text_field(
        errors, "customerReference", customer_reference, max_len=35, required=False
    )
    note = text_field(
        errors, "internalNote", internal_note, max_len=500, required=False, multiline=True
    )
    async with tx(session):
        user = await session.get(User, username)
        if user is None:
            raise NotFound("User not found.")
        if not can(user, "initiatePayments"):
            raise Forbidden("You do not have permission to initiate payments.")
        if form_token:
            existing = (
                await session.scalars(
                    select(Payment).where(
                        Payment.customer_id == user.customer_id, Payment.form_token == form_token
                    )
                )
            ).one_or_none()
            if existing is not None:
                return existing
        source = await _visible(session, user, from_account_id, "fromAccountId")
        if source.type not in DEBITABLE:
            errors.append(
                {"field": "fromAccountId", "message": "payments leave from a deposit account"}
            )
        today = await clock.today_in(session)
        when = execution_date or today
        if not today <= when <= today + timedelta(days=365):
            errors.append({"field": "executionDate", "message": "must be today or within a year"})
        payment = Payment(
            id=uuid.uuid4(),
            customer_id=user.customer_id,
            kind=kind,
            from_account_id=source.id,
            amount=value,
            currency=source.currency,
            execution_date=when,
            memo=memo,
            customer_reference=reference,
            internal_note=note,
            created_by=username,
            bank_reference=f"PAY{today:%y%m%d}{secrets.randbelow(10**8):08d}",
            form_token=form_token or None,
            status="pending_approval",
            requires_approval=True,
            rail="internal",
        )
        if kind == "internal":
            target = await _visible(session, user, to_account_id or "", "toAccountId")
            if target.id == source.id:
                errors.append({"field": "toAccountId", "message": "must differ from the source"})
            elif target.currency != source.currency:
                errors.append({"field": "toAccountId", "message": "must be in the same currency"})
            payment.to_account_id = target.id
            payment.requires_approval = value >= APPROVAL_THRESHOLD
        else:
            _external(
                errors,
                payment,
                source,
                rail,
                beneficiary_name,
                beneficiary_account_number,
                beneficiary_routing_number,
                beneficiary_sort_code,
                beneficiary_iban,
            )
        raise_if(errors)
        limit = faults_of(user)["paymentLimit"]
        if limit is not None and value > Decimal(limit):
            raise PaymentOverLimit(f"The payment exceeds your limit of {limit}.", limit=limit)
        session.add(payment)
        await session.flush()
        if not payment.requires_approval:
            await _release(session, payment, today)
        return payment


def _external(
    errors: list[dict[str, str]],
    payment: Payment,
    source: Account,
    rail: str | None,
    name: str | None,
    number: str | None,
    routing: str | None,
    sort_code: str | None,
    iban: str | None,
) -> None:
    payment.beneficiary_name = text_field(errors, "beneficiaryName", name, max_len=140)
    allowed = RAILS.get(source.currency, ("wire",))
    payment.rail = rail or allowed[0]
    if payment.rail not in allowed:
        errors.append({"field": "rail", "message": "must be one of " + ", ".join(allowed)})
    number = (number or "").replace(" ", "")
    if iban:
        if not _valid_iban(iban):
            errors.append({"field": "beneficiaryIban", "message": "is not a valid IBAN"})
        payment.beneficiary_iban = iban.replace(" ", "").upper()
    elif sort_code:
        code = sort_code.replace("-", "").replace(" ", "")
        if not re.fullmatch(r"[0-9]{6}", code):
            errors.append({"field": "beneficiarySortCode", "message": "must be 6 digits"})
        if not re.fullmatch(r"[0-9]{8}", number):
            errors.append({"field": "beneficiaryAccountNumber", "message": "must be 8 digits"})
        payment.beneficiary_sort_code, payment.beneficiary_account_number = code, number
    else:
        if not _valid_aba(routing or ""):
            errors.append(
                {
                    "field": "beneficiaryRoutingNumber",
                    "message": "must be a valid 9-digit routing number",
                }
            )
        if not re.fullmatch(r"[0-9]{4,17}", number):
            errors.append({"field": "beneficiaryAccountNumber", "message": "must be 4-17 digits"})
        payment.beneficiary_routing_number, payment.beneficiary_account_number = routing, number


async def _visible(session: AsyncSession, user: User, account_id: str, field: str) -> Account:
    parsed = parse_id(account_id)
    account = await session.get(Account, parsed, populate_existing=True) if parsed else None
    if account is None or not may_see_account(user, account):
        raise ValidationFailed.single(field, "is not one of your accounts")
    return account


async def _release(session: AsyncSession, payment: Payment, today: date) -> None:
    """Approved (or needing no approval): complete now, or wait for the execution date."""
    if payment.execution_date <= today:
        await _complete(session, payment, today)
    else:
        payment.status = "approved"


async def _complete(session: AsyncSession, payment: Payment, day: date) -> None:
    reference = payment.customer_reference or None
    suffix = f"\nREF {payment.bank_reference}" + (f" CUST REF {reference}" if reference else "")
    if payment.kind == "internal":
        target = await session.get(Account, payment.to_account_id)
        source = await session.get(Account, payment.from_account_id)
        assert target is not None and source is not None
        debit_text = f"ONLINE TRANSFER TO {target.name} {target.masked_number}{suffix}"
        await ledger.post_now(
            session,
            target.id,
            day=day,
            description=f"ONLINE TRANSFER FROM {source.name} {source.masked_number}{suffix}",
            amount=payment.amount,
            rail="internalTransfer",
            bai_code="206",
            bank_reference=payment.bank_reference,
            customer_reference=reference,
            payment_id=payment.id,
        )
        rail, bai = "internalTransfer", "506"
    else:
        label = "WIRE" if payment.rail == "wire" else CLEARING_LABEL.get(payment.currency, "ACH")
        debit_text = f"{label} PAYMENT TO {payment.beneficiary_name}{suffix}"
        rail, bai = ("wire", "495") if payment.rail == "wire" else (payment.rail, "455")
    await ledger.post_now(
        session,
        payment.from_account_id,
        day=day,
        description=debit_text,
        amount=-payment.amount,
        rail=rail,
        bai_code=bai,
        bank_reference=payment.bank_reference,
        customer_reference=reference,
        payment_id=payment.id,
    )
    payment.status, payment.completed_on = "completed", day
    payment.updated_at = datetime.now(UTC)


async def _for_update(session: AsyncSession, payment_id: str) -> Payment:
    parsed = parse_id(payment_id)
    payment = (
        (
            await session.scalars(select(Payment).where(Payment.id == parsed).with_for_update())
        ).one_or_none()
        if parsed
        else None
    )
    if payment is None:
        raise NotFound("Payment not found.")
    return payment


def _require(payment: Payment, *allowed: str) -> None:
    if payment.status not in allowed:
        raise InvalidState(
            f"The payment is {payment.status.replace('_', ' ')}.",
            current_status=payment.status,
            allowed_statuses=sorted(allowed),
        )


async def _check_approver(session: AsyncSession, payment: Payment, username: str) -> None:
    user = await session.get(User, username)
    source = await session.get(Account, payment.from_account_id)
    if user is None or source is None or user.customer_id != payment.customer_id:
        raise ApprovalRefused("This user may not approve this payment.")
    if username == payment.created_by:
        raise ApprovalRefused("A payment must be approved by a different user.")
    if not can(user, "approvePayments") or not may_see_account(user, source):
        raise ApprovalRefused("You do not have permission to approve this payment.")


async def approve_payment(
    session: AsyncSession, payment_id: str, approver: str | None = None
) -> Payment:
    """Approve (``approver`` None: the control API acting as the bank)."""
    async with tx(session):
        payment = await _for_update(session, payment_id)
        _require(payment, "pending_approval")
        if approver is not None:
            await _check_approver(session, payment, approver)
        payment.approved_by = approver or CONTROL_ACTOR
        payment.updated_at = datetime.now(UTC)
        await _release(session, payment, await clock.today_in(session))
        return payment


async def reject_payment(
    session: AsyncSession, payment_id: str, approver: str | None = None
) -> Payment:
    async with tx(session):
        payment = await _for_update(session, payment_id)
        _require(payment, "pending_approval")
        if approver is not None:
            await _check_approver(session, payment, approver)
        payment.status, payment.rejected_by = "rejected", approver or CONTROL_ACTOR
        payment.updated_at = datetime.now(UTC)
        return payment


async def withdraw_payment(session: AsyncSession, payment_id: str, username: str) -> Payment:
    """The initiator takes back a payment still awaiting approval."""
    async with tx(session):
        payment = await _for_update(session, payment_id)
        if payment.created_by != username:
            raise Forbidden("Only the user who entered the payment can withdraw it.")
        _require(payment, "pending_approval")
        payment.status, payment.updated_at = "withdrawn", datetime.now(UTC)
        return payment


async def return_payment(session: AsyncSession, payment_id: str) -> Payment:
    """The beneficiary bank returns a completed payment: the money comes back."""
    async with tx(session):
        payment = await _for_update(session, payment_id)
        _require(payment, "completed")
        today = await clock.today_in(session)
        if payment.kind == "internal" and payment.to_account_id is not None:
            await ledger.post_now(
                session,
                payment.to_account_id,
                day=today,
                description=f"RETURNED TRANSFER\nREF {payment.bank_reference}",
                amount=-payment.amount,
                rail="internalTransfer",
                bai_code="506",
                bank_reference=payment.bank_reference,
                payment_id=payment.id,
            )
        await ledger.post_now(
            session,
            payment.from_account_id,
            day=today,
            description=f"RETURNED PAYMENT {payment.beneficiary_name or ''}".strip()
            + f"\nREF {payment.bank_reference}",
            amount=payment.amount,
            rail="other",
            bai_code="399",
            bank_reference=payment.bank_reference,
            customer_reference=payment.customer_reference or None,
            payment_id=payment.id,
        )
        payment.status, payment.updated_at = "returned", datetime.now(UTC)
        return payment


async def delete_payment(
    session: AsyncSession, payment_id: str, username: str | None = None
) -> Payment:
    """Delete a payment that has not moved money (``username``: only its initiator)."""
    async with tx(session):
        payment = await _for_update(session, payment_id)
        if username is not None and payment.created_by != username:
            raise Forbidden("Only the user who entered the payment can delete it.")
        _require(payment, "pending_approval", "approved", "rejected", "withdrawn")
        payment.status, payment.updated_at = "deleted", datetime.now(UTC)
        return payment


async def get_payment(session: AsyncSession, payment_id: str) -> Payment:
    async with tx(session):
        return await _for_update(session, payment_id)


async def list_payments(session: AsyncSession, customer_id: uuid.UUID) -> list[Payment]:
    """The customer's payments, newest first (deleted included)."""
    async with tx(session):
        query = (
            select(Payment)
            .where(Payment.customer_id == customer_id)
            .order_by(Payment.created_at.desc(), Payment.id)
        )
        return list((await session.scalars(query.execution_options(populate_existing=True))).all())


async def payments_for_user(session: AsyncSession, user: User) -> list[Payment]:
    """The payments from accounts the user may see, newest first."""
    async with tx(session):
        accounts = {
            a.id: a
            for a in (
                await session.scalars(
                    select(Account).where(Account.customer_id == user.customer_id)
                )
            ).all()
        }
    visible = {i for i, a in accounts.items() if may_see_account(user, a)}
    return [
        p for p in await list_payments(session, user.customer_id) if p.from_account_id in visible
    ]


async def execute_due(session: AsyncSession, day: date) -> None:
    """Complete approved payments whose execution date has come (the clock calls this)."""
    due = (
        await session.scalars(
            select(Payment)
            .where(Payment.status == "approved", Payment.execution_date <= day)
            .order_by(Payment.created_at)
            .with_for_update()
        )
    ).all()
    for payment in due:
        await _complete(session, payment, day)
