"""Wire-model base classes: camelCase aliases, unknown fields forbidden, the list envelope."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from waycore.api.context import current_request_id


def _rfc3339(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Timestamp = Annotated[
    datetime,
    PlainSerializer(_rfc3339, return_type=str, when_used="json"),
    Field(json_schema_extra={"format": "date-time"}),
]


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: object) -> object:
    if isinstance(value, str) and not _DATE.match(value):
        raise ValueError("must be a date, YYYY-MM-DD")
    if isinstance(value, int | float):
        raise ValueError("must be a date, YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date), Field(json_schema_extra={"format": "date"})]
"""A ``YYYY-MM-DD`` date, in a body or a query (plain ``date`` also takes ``0`` as 1970-01-01)."""


class ApiModel(BaseModel):
    """Base of request and response bodies."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        from_attributes=True,
        str_strip_whitespace=False,
    )


class Meta(ApiModel):
    request_id: str


def meta() -> Meta:
    return Meta(request_id=current_request_id())


class Pagination(ApiModel):
    has_more: bool
    next_cursor: str | None


T = TypeVar("T")


class ListOut(ApiModel, Generic[T]):
    data: list[T]
    pagination: Pagination
    meta: Meta


class ErrorDetail(ApiModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(ApiModel):
    error: ErrorDetail
    meta: Meta


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    """The JSON body FastAPI renders for ``response_model=type(model)`` (by alias), rendered
    once. A route keeps ``response_model`` for its OpenAPI document and returns this, which
    FastAPI passes through without validating and serializing the model a second time."""
    body = model.__pydantic_serializer__.to_json(model, by_alias=True)
    return Response(body, status_code=status_code, media_type="application/json")
