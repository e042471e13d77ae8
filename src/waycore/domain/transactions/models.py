from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.orm import Mapped, mapped_column

from waycore.db import Base


class Transaction(Base):
    __tablename__ = "transactions"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    org_id: Mapped[UUID]
    environment: Mapped[str]
    connection_id: Mapped[str]
    account_id: Mapped[UUID]
    identity_kind: Mapped[str]
    identity: Mapped[str]
    status: Mapped[str]
    posted_date: Mapped[date | None]
    transaction_date: Mapped[date | None]
    amount: Mapped[Decimal] = mapped_column(Numeric)
    currency: Mapped[str]
    description: Mapped[str]
    raw_description: Mapped[str | None]
    rail: Mapped[str]
    customer_reference: Mapped[str | None]
    bank_reference: Mapped[str | None]
    bai_code: Mapped[str | None]
    category: Mapped[str | None]
    subcategory: Mapped[str | None]
    mcc: Mapped[str | None]
    merchant_name: Mapped[str | None]
    counterparty_name: Mapped[str | None]
    counterparty_account_masked: Mapped[str | None]
    running_balance: Mapped[Decimal | None] = mapped_column(Numeric)
    # written by the sync engine with posted_date (migration 0010, ``sync.store.SORT_DAY_SQL``):
    # coalesce(posted_date - date '1970-01-01', 2147483647)
    sort_day: Mapped[int]
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TransactionChange(Base):
    __tablename__ = "transaction_changes"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    org_id: Mapped[UUID]
    environment: Mapped[str]
    connection_id: Mapped[str]
    account_id: Mapped[UUID]
    transaction_id: Mapped[UUID]
    type: Mapped[str]
    committed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
