"""Wire shapes of transactions (API.md section 10)."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from waycore.api.schemas import ApiModel, Timestamp
from waycore.enums import Rail, TransactionStatus

TransactionSort = Literal["-postedDate", "postedDate", "-updatedAt", "updatedAt"]


class TransactionOut(ApiModel):
    id: UUID
    connection_id: str
    account_id: UUID
    status: TransactionStatus
    posted_date: date | None
    transaction_date: date | None
    updated_at: Timestamp
    amount: str
    currency: str
    entry_type: Literal["credit", "debit"]
    description: str
    rail: Rail
    raw_description: str | None
    customer_reference: str | None
    bank_reference: str | None
    bai_code: str | None
    category: str | None
    subcategory: str | None
    mcc: str | None
    merchant_name: str | None
    counterparty_name: str | None
    counterparty_account_masked: str | None
    running_balance: str | None
