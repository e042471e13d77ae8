"""Reading accounts: list statement, get, wire presentation."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.accounts.models import Account
from waycore.domain.accounts.schemas import AccountOut
from waycore.domain.partition import Partition
from waycore.domain.queries import get_by_id, where_given
from waycore.money import format_optional


def _in_partition(partition: Partition) -> Select[Any]:
    return select(Account).where(
        Account.org_id == partition.org_id, Account.environment == partition.environment
    )


def list_statement(
    partition: Partition,
    *,
    connection_id: str | None = None,
    entity_id: UUID | None = None,
    type_: str | None = None,
    status: str | None = None,
    currency: str | None = None,
) -> Select[Any]:
    return where_given(
        _in_partition(partition),
        (Account.connection_id, connection_id),
        (Account.entity_id, entity_id),
        (Account.type, type_),
        (Account.status, status),
        (Account.currency, currency),
    )


async def get_account(session: AsyncSession, partition: Partition, account_id: str) -> Account:
    return await get_by_id(session, _in_partition(partition), Account.id, account_id)


def present(account: Account) -> AccountOut:
    return AccountOut(
        id=account.id,
        connection_id=account.connection_id,
        entity_id=account.entity_id,
        type=account.type,  # type: ignore[arg-type]
        currency=account.currency,
        name=account.name,
        status=account.status,  # type: ignore[arg-type]
        created_at=account.created_at,
        updated_at=account.updated_at,
        official_name=account.official_name,
        masked_number=account.masked_number,
        account_number=account.account_number,
        routing_number=account.routing_number,
        swift_bic=account.swift_bic,
        iban=account.iban,
        current_balance=format_optional(account.current_balance, account.currency),
        available_balance=format_optional(account.available_balance, account.currency),
        balance_as_of=account.balance_as_of,
        metadata={},
    )
