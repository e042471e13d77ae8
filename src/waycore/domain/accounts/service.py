"""Reading accounts: list statement, get, wire presentation."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.domain.accounts.models import Account
from waycore.domain.accounts.schemas import AccountOut
from waycore.domain.partition import Partition
from waycore.errors import NotFound
from waycore.ids import parse_uuid
from waycore.money import format_optional


def list_statement(
    partition: Partition,
    *,
    connection_id: str | None = None,
    entity_id: UUID | None = None,
    type_: str | None = None,
    status: str | None = None,
    currency: str | None = None,
) -> Select[Any]:
    stmt = select(Account).where(
        Account.org_id == partition.org_id, Account.environment == partition.environment
    )
    for column, value in (
        (Account.connection_id, connection_id),
        (Account.entity_id, entity_id),
        (Account.type, type_),
        (Account.status, status),
        (Account.currency, currency),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


async def get_account(session: AsyncSession, partition: Partition, account_id: str) -> Account:
    parsed = parse_uuid(account_id)
    if parsed is None:
        raise NotFound()
    async with session.begin():
        account = (
            await session.execute(
                select(Account).where(
                    Account.id == parsed,
                    Account.org_id == partition.org_id,
                    Account.environment == partition.environment,
                )
            )
        ).scalar_one_or_none()
    if account is None:
        raise NotFound()
    return account


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
