"""``/v1/institutions`` (API.md section 7): the environment's catalogue, in memory."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from waycore.api import cursors
from waycore.api.deps import PageParams, partition_of, require_scope
from waycore.api.routing import WaycoreRoute
from waycore.api.schemas import ListOut, Pagination, meta
from waycore.domain.api_keys.models import ApiKey
from waycore.domain.institutions import service
from waycore.domain.institutions.countries import ISO_3166_ALPHA2
from waycore.domain.institutions.schemas import InstitutionOut
from waycore.errors import InvalidCursor, NotFound, ValidationFailed

router = APIRouter(prefix="/v1/institutions", tags=["institutions"], route_class=WaycoreRoute)

InstitutionId = Annotated[str, Path(alias="institutionId")]


@router.get("", response_model=ListOut[InstitutionOut], operation_id="listInstitutions")
async def list_institutions(
    request: Request,
    key: Annotated[ApiKey, Depends(require_scope("connections:read"))],
    page: Annotated[PageParams, Depends()],
    query: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[^\x00-\x1f\x7f]*$",
            description="Case-insensitive substring of the name, id, a portal URL or a host.",
        ),
    ] = None,
    country: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 country code."),
    ] = None,
) -> ListOut[InstitutionOut]:
    if country is not None:
        country = country.upper()
        if country not in ISO_3166_ALPHA2:
            raise ValidationFailed.single("query.country", "unknown ISO 3166-1 alpha-2 code")
    partition = partition_of(key)
    settings = request.app.state.settings
    found = service.search_institutions(
        settings, partition.environment, query=query, country=country
    )
    cursor_key = request.app.state.cursor_key
    endpoint = request.scope["route"].path
    filters = {"query": query, "country": country}
    if page.cursor is not None:
        position = cursors.read(cursor_key, page.cursor, endpoint, partition, filters)
        if len(position) != 2 or not all(isinstance(p, str) for p in position):
            raise InvalidCursor()
        after = (position[0], position[1])
        found = [i for i in found if (i.name, i.institution_id) > after]
    items = found[: page.limit]
    has_more = len(found) > page.limit
    next_cursor = None
    if has_more:
        last = items[-1]
        next_cursor = cursors.issue(
            cursor_key, endpoint, partition, filters, [last.name, last.institution_id]
        )
    return ListOut[InstitutionOut](
        data=[InstitutionOut.of(i) for i in items],
        pagination=Pagination(has_more=has_more, next_cursor=next_cursor),
        meta=meta(),
    )


@router.get("/{institutionId}", response_model=InstitutionOut, operation_id="getInstitution")
async def get_institution(
    request: Request,
    institution_id: InstitutionId,
    key: Annotated[ApiKey, Depends(require_scope("connections:read"))],
) -> InstitutionOut:
    institution = service.get_institution(
        request.app.state.settings, partition_of(key).environment, institution_id
    )
    if institution is None:
        raise NotFound()
    return InstitutionOut.of(institution)
