"""``/v1/entities`` (API.md section 6)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from waycore.api.deps import (
    DbSession,
    PageParams,
    json_body,
    no_body,
    partition_of,
    require_scope,
)
from waycore.api.pagination import keyset_page
from waycore.api.routing import WaycoreRoute
from waycore.api.schemas import ListOut
from waycore.domain.api_keys.models import ApiKey
from waycore.domain.entities import service
from waycore.domain.entities.models import Entity
from waycore.domain.entities.schemas import EntityCreate, EntityOut, EntityUpdate

router = APIRouter(prefix="/v1/entities", tags=["entities"], route_class=WaycoreRoute)

EntityId = Annotated[str, Path(alias="entityId")]


def to_out(entity: Entity) -> EntityOut:
    return EntityOut(
        entity_id=entity.id,
        external_entity_id=entity.external_entity_id,
        name=entity.name,
        is_default_org_entity=entity.is_default,
        contact_emails=list(entity.contact_emails),
        metadata=dict(entity.metadata_),
        created_at=entity.created_at,
        updated_at=entity.updated_at,
    )


@router.get("", response_model=ListOut[EntityOut], operation_id="listEntities")
async def list_entities(
    request: Request,
    key: Annotated[ApiKey, Depends(require_scope("entities:read"))],
    session: DbSession,
    page: Annotated[PageParams, Depends()],
    external_entity_id: Annotated[
        str | None, Query(alias="externalEntityId", max_length=255)
    ] = None,
) -> ListOut[EntityOut]:
    partition = partition_of(key)
    return await keyset_page(
        request,
        session,
        service.list_statement(partition, external_entity_id),
        page,
        partition=partition,
        filters={"externalEntityId": external_entity_id},
        order=[(Entity.created_at, "desc"), (Entity.id, "desc")],
        to_out=to_out,
    )


@router.post(
    "",
    status_code=201,
    response_model=EntityOut,
    operation_id="createEntity",
    responses={200: {"model": EntityOut, "description": "The existing entity, unchanged."}},
)
async def create_entity(
    response: Response,
    key: Annotated[ApiKey, Depends(require_scope("entities:write"))],
    body: Annotated[EntityCreate, Depends(json_body(EntityCreate))],
    session: DbSession,
) -> EntityOut:
    entity, created = await service.create_or_get_entity(session, partition_of(key), body)
    if not created:
        response.status_code = 200
    return to_out(entity)


@router.get("/{entityId}", response_model=EntityOut, operation_id="getEntity")
async def get_entity(
    entity_id: EntityId,
    key: Annotated[ApiKey, Depends(require_scope("entities:read"))],
    session: DbSession,
) -> EntityOut:
    return to_out(await service.get_entity(session, partition_of(key), entity_id))


@router.patch("/{entityId}", response_model=EntityOut, operation_id="updateEntity")
async def update_entity(
    entity_id: EntityId,
    key: Annotated[ApiKey, Depends(require_scope("entities:write"))],
    body: Annotated[EntityUpdate, Depends(json_body(EntityUpdate))],
    session: DbSession,
) -> EntityOut:
    return to_out(await service.update_entity(session, partition_of(key), entity_id, body))


@router.delete("/{entityId}", status_code=204, response_class=Response, operation_id="deleteEntity")
async def delete_entity(
    entity_id: EntityId,
    key: Annotated[ApiKey, Depends(require_scope("entities:write"))],
    _: Annotated[None, Depends(no_body)],
    session: DbSession,
) -> Response:
    await service.delete_entity(session, partition_of(key), entity_id)
    return Response(status_code=204)


for _route in router.routes:  # default_entity_immutable, entity_has_connections
    if isinstance(_route, WaycoreRoute) and set(_route.methods or ()) & {"PATCH", "DELETE"}:
        _route.openapi_extra_errors = ("409",)  # type: ignore[attr-defined]
