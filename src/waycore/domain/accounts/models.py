from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, DateTime, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from waycore.db import Base


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    org_id: Mapped[UUID]
    environment: Mapped[str]
    connection_id: Mapped[str]
    entity_id: Mapped[UUID]
    bank_id: Mapped[str]
    type: Mapped[str]
    currency: Mapped[str]
    name: Mapped[str]
    status: Mapped[str]
    official_name: Mapped[str | None]
    masked_number: Mapped[str | None]
    account_number: Mapped[str | None]
    routing_number: Mapped[str | None]
    swift_bic: Mapped[str | None]
    iban: Mapped[str | None]
    current_balance: Mapped[Decimal | None] = mapped_column(Numeric)
    available_balance: Mapped[Decimal | None] = mapped_column(Numeric)
    balance_as_of: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    permissions: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Balance(Base):
    __tablename__ = "balances"

    account_id: Mapped[UUID] = mapped_column(primary_key=True)
    date: Mapped[date] = mapped_column(primary_key=True)
    org_id: Mapped[UUID]
    environment: Mapped[str]
    ledger: Mapped[Decimal | None] = mapped_column(Numeric)
    available: Mapped[Decimal | None] = mapped_column(Numeric)
    posted_transaction_delta: Mapped[Decimal] = mapped_column(Numeric)
    source: Mapped[str]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
