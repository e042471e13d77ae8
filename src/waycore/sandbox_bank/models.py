"""The Sandbox Bank's rows (schema ``sandbox_bank``; migration 0003 creates the tables).

Money is ``Decimal`` in ``NUMERIC(18, 2)`` columns, signed as API.md section 1 signs it: a
debit is negative, and so is the balance owed on a credit card or a loan.

Transaction ordering: ``sort_key`` orders an account's rows newest first. Posted rows carry
their posting sequence (1, 2, …, in the order the running balance accumulates); a pending
row carries ``PENDING_BASE + n`` so it sorts above every posted row, and takes the next
posting sequence when it posts (keeping its id).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, MetaData, Numeric, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA = "sandbox_bank"
PENDING_BASE = 1_000_000_000_000


class BankBase(DeclarativeBase):
    metadata = MetaData(schema=SCHEMA)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads the class attribute
        Decimal: Numeric(18, 2),
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
    }


class Clock(BankBase):
    __tablename__ = "clock"
    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    origin: Mapped[date]
    today: Mapped[date]
    real_anchor: Mapped[date]
    pinned: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Customer(BankBase):
    __tablename__ = "customers"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str]
    seed: Mapped[int] = mapped_column(BigInteger)
    history_days: Mapped[int]
    demo_username: Mapped[str | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class User(BankBase):
    """An administrator, a delegated user, or a demo customer's approver."""

    __tablename__ = "users"
    username: Mapped[str] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID]
    role: Mapped[str]  # admin | delegated | approver
    first_name: Mapped[str] = mapped_column(default="")
    last_name: Mapped[str] = mapped_column(default="")
    address: Mapped[str] = mapped_column(default="")
    email: Mapped[str | None] = mapped_column(default=None)
    phone_number: Mapped[str | None] = mapped_column(default=None)
    second_factor: Mapped[str] = mapped_column(default="none")  # none | email | sms | totp
    permissions: Mapped[dict[str, Any]]
    password_hash: Mapped[str]
    must_change_password: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(default="active")  # active | locked
    failed_passwords: Mapped[int] = mapped_column(default=0)
    failed_codes: Mapped[int] = mapped_column(default=0)
    totp_secret: Mapped[str | None] = mapped_column(default=None)
    totp_enrolled: Mapped[bool] = mapped_column(default=False)
    totp_last_counter: Mapped[int | None] = mapped_column(BigInteger, default=None)
    demo_behaviour: Mapped[str | None] = mapped_column(default=None)
    contact_confirmed: Mapped[bool] = mapped_column(default=False)
    faults: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def is_demo(self) -> bool:
        return self.username.startswith("demo")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.username


class Account(BankBase):
    __tablename__ = "accounts"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID]
    position: Mapped[int]
    name: Mapped[str]
    official_name: Mapped[str]
    type: Mapped[str]  # checking | savings | moneyMarket | creditCard | loan
    currency: Mapped[str]
    country: Mapped[str]
    account_number: Mapped[str]
    masked_number: Mapped[str]
    routing_number: Mapped[str | None] = mapped_column(default=None)
    sort_code: Mapped[str | None] = mapped_column(default=None)
    iban: Mapped[str | None] = mapped_column(default=None)
    swift_bic: Mapped[str | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(default="open")
    opening_balance: Mapped[Decimal]
    current_balance: Mapped[Decimal]
    available_balance: Mapped[Decimal]
    credit_limit: Mapped[Decimal | None] = mapped_column(default=None)
    opened_on: Mapped[date]


class Transaction(BankBase):
    __tablename__ = "transactions"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID]
    sort_key: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str]  # pending | posted | voided
    transaction_date: Mapped[date]
    posted_date: Mapped[date | None] = mapped_column(default=None)
    description: Mapped[str]
    amount: Mapped[Decimal]
    running_balance: Mapped[Decimal | None] = mapped_column(default=None)
    bank_reference: Mapped[str | None] = mapped_column(default=None)
    customer_reference: Mapped[str | None] = mapped_column(default=None)
    rail: Mapped[str]
    bai_code: Mapped[str]
    post_due: Mapped[date | None] = mapped_column(default=None)
    post_outcome: Mapped[str | None] = mapped_column(default=None)
    post_amount: Mapped[Decimal | None] = mapped_column(default=None)
    post_description: Mapped[str | None] = mapped_column(default=None)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Payment(BankBase):
    __tablename__ = "payments"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID]
    kind: Mapped[str]  # internal | external
    rail: Mapped[str]  # internal | ach | wire | fasterPayments | sepaCredit
    from_account_id: Mapped[uuid.UUID]
    to_account_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    beneficiary_name: Mapped[str | None] = mapped_column(default=None)
    beneficiary_account_number: Mapped[str | None] = mapped_column(default=None)
    beneficiary_routing_number: Mapped[str | None] = mapped_column(default=None)
    beneficiary_sort_code: Mapped[str | None] = mapped_column(default=None)
    beneficiary_iban: Mapped[str | None] = mapped_column(default=None)
    amount: Mapped[Decimal]
    currency: Mapped[str]
    execution_date: Mapped[date]
    memo: Mapped[str] = mapped_column(default="")
    customer_reference: Mapped[str] = mapped_column(default="")
    internal_note: Mapped[str] = mapped_column(default="")
    bank_reference: Mapped[str]
    status: Mapped[str]
    requires_approval: Mapped[bool]
    created_by: Mapped[str]
    approved_by: Mapped[str | None] = mapped_column(default=None)
    rejected_by: Mapped[str | None] = mapped_column(default=None)
    form_token: Mapped[str | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    completed_on: Mapped[date | None] = mapped_column(default=None)


class OneTimeCode(BankBase):
    __tablename__ = "one_time_codes"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str]
    channel: Mapped[str]
    code_hash: Mapped[str]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class OutboxMessage(BankBase):
    __tablename__ = "outbox"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    channel: Mapped[str]  # email | sms
    recipient: Mapped[str]
    sender: Mapped[str]
    subject: Mapped[str | None] = mapped_column(default=None)
    body: Mapped[str]
    sent_at: Mapped[datetime] = mapped_column(server_default=text("clock_timestamp()"))


class WebSession(BankBase):
    """Portal sessions (owned by the portal package; defined here so the schema is one)."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    csrf_token: Mapped[str]
    username: Mapped[str | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_seen_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class RememberedDevice(BankBase):
    __tablename__ = "remembered_devices"
    token_hash: Mapped[str] = mapped_column(primary_key=True)
    username: Mapped[str]
    expires_at: Mapped[datetime]
