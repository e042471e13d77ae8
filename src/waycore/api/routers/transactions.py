"""``/v1/transactions`` browse and get (API.md section 10.1)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from waycore.api import fields
from waycore.api.deps import DbSession, PageParams, partition_of, require_scope
from waycore.api.pagination import keyset_page
from waycore.api.routing import WaycoreRoute
from waycore.api.schemas import ListOut
from waycore.domain.api_keys.models import ApiKey
from waycore.domain.transactions import service
from waycore.domain.transactions.schemas import (
    Rail,
    TransactionOut,
    TransactionSort,
    TransactionStatus,
)

router = APIRouter(prefix="/v1/transactions", tags=["transactions"], route_class=WaycoreRoute)

TransactionId = Annotated[str, Path(alias="transactionId", max_length=64)]


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _calendar_date(value: object) -> object:
    """Only ``YYYY-MM-DD`` (pydantic alone would also take a number of seconds)."""
    if isinstance(value, str) and not ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date_format", "must be a date, YYYY-MM-DD")
    return value


QueryDate = Annotated[date, BeforeValidator(_calendar_date)]
Reader = Annotated[ApiKey, Depends(require_scope("transactions:read"))]


@router.get("", response_model=ListOut[TransactionOut], operation_id="listTransactions")
async def list_transactions(
    request: Request,
    key: Reader,
    session: DbSession,
    page: Annotated[PageParams, Depends()],
    account_id: Annotated[UUID | None, Query(alias="accountId")] = None,
    connection_id: Annotated[str | None, Query(alias="connectionId", max_length=64)] = None,
    status: Annotated[TransactionStatus | None, Query()] = None,
    rail: Annotated[Rail | None, Query()] = None,
    posted_date_gte: Annotated[QueryDate | None, Query(alias="postedDateGte")] = None,
    posted_date_lt: Annotated[QueryDate | None, Query(alias="postedDateLt")] = None,
    sort: Annotated[TransactionSort, Query()] = "-postedDate",
    fields_: Annotated[fields.FieldsQuery, Query(alias="fields")] = None,
) -> Any:
    partition = partition_of(key)
    selected = fields.parse(fields_, TransactionOut)
    stmt = service.list_statement(
        partition,
        account_id=account_id,
        connection_id=connection_id,
        status=status,
        rail=rail,
        posted_date_gte=posted_date_gte,
        posted_date_lt=posted_date_lt,
    )
    page_out = await keyset_page(
        request,
        session,
        stmt,
        page,
        partition=partition,
        filters={
            "accountId": str(account_id) if account_id else None,
            "connectionId": connection_id,
            "status": status,
            "rail": rail,
            "postedDateGte": posted_date_gte.isoformat() if posted_date_gte else None,
            "postedDateLt": posted_date_lt.isoformat() if posted_date_lt else None,
            "sort": sort,
        },
        order=service.ORDERS[sort],
        to_out=service.present,
    )
    return fields.response(page_out, selected)


@router.get("/{transactionId}", response_model=TransactionOut, operation_id="getTransaction")
async def get_transaction(
    transaction_id: TransactionId,
    key: Reader,
    session: DbSession,
    fields_: Annotated[fields.FieldsQuery, Query(alias="fields")] = None,
) -> Any:
    selected = fields.parse(fields_, TransactionOut)
    txn = await service.get_transaction(session, partition_of(key), transaction_id)
    return fields.response(service.present(txn), selected)
