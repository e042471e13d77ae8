"""Wire shapes of accounts (API.md section 9)."""

from __future__ import annotations

from uuid import UUID

from waycore.api.schemas import ApiModel, Timestamp
from waycore.enums import AccountStatus, AccountType


class AccountOut(ApiModel):
    id: UUID
    connection_id: str
    entity_id: UUID
    type: AccountType
    currency: str
    name: str
    status: AccountStatus
    created_at: Timestamp
    updated_at: Timestamp
    official_name: str | None
    masked_number: str | None
    account_number: str | None
    routing_number: str | None
    swift_bic: str | None
    iban: str | None
    current_balance: str | None
    available_balance: str | None
    balance_as_of: Timestamp | None
    metadata: dict[str, str]
