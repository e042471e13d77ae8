"""``/v1/accounts`` (API.md section 9)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request

from waycore.api import fields
from waycore.api.deps import DbSession, PageParams, partition_of, require_scope
from waycore.api.pagination import keyset_page
from waycore.api.routing import WaycoreRoute
from waycore.api.schemas import ListOut
from waycore.domain.accounts import service
from waycore.domain.accounts.models import Account
from waycore.domain.accounts.schemas import AccountOut, AccountStatus, AccountType
from waycore.domain.api_keys.models import ApiKey

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], route_class=WaycoreRoute)

AccountId = Annotated[str, Path(alias="accountId", max_length=64)]
Reader = Annotated[ApiKey, Depends(require_scope("accounts:read"))]


@router.get("", response_model=ListOut[AccountOut], operation_id="listAccounts")
async def list_accounts(
    request: Request,
    key: Reader,
    session: DbSession,
    page: Annotated[PageParams, Depends()],
    connection_id: Annotated[str | None, Query(alias="connectionId", max_length=64)] = None,
    entity_id: Annotated[UUID | None, Query(alias="entityId")] = None,
    type_: Annotated[AccountType | None, Query(alias="type")] = None,
    status: Annotated[AccountStatus | None, Query()] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{3,12}$")] = None,
    fields_: Annotated[fields.FieldsQuery, Query(alias="fields")] = None,
) -> Any:
    partition = partition_of(key)
    selected = fields.parse(fields_, AccountOut)
    stmt = service.list_statement(
        partition,
        connection_id=connection_id,
        entity_id=entity_id,
        type_=type_,
        status=status,
        currency=currency,
    )
    page_out = await keyset_page(
        request,
        session,
        stmt,
        page,
        partition=partition,
        filters={
            "connectionId": connection_id,
            "entityId": str(entity_id) if entity_id else None,
            "type": type_,
            "status": status,
            "currency": currency,
        },
        order=[(Account.created_at, "asc"), (Account.id, "asc")],
        to_out=service.present,
    )
    return fields.response(page_out, selected)


@router.get("/{accountId}", response_model=AccountOut, operation_id="getAccount")
async def get_account(
    account_id: AccountId,
    key: Reader,
    session: DbSession,
    fields_: Annotated[fields.FieldsQuery, Query(alias="fields")] = None,
) -> Any:
    selected = fields.parse(fields_, AccountOut)
    account = await service.get_account(session, partition_of(key), account_id)
    return fields.response(service.present(account), selected)
