"""``/v1/apiKeys`` (API.md section 5)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import select

from waycore.api.deps import DbSession, PageParams, json_body, no_body, require_scope
from waycore.api.pagination import keyset_page
from waycore.api.routing import WaycoreRoute
from waycore.api.schemas import ListOut
from waycore.domain.api_keys import service
from waycore.domain.api_keys.models import ApiKey
from waycore.domain.api_keys.schemas import ApiKeyCreate, ApiKeyCreatedOut, ApiKeyOut

router = APIRouter(prefix="/v1/apiKeys", tags=["apiKeys"], route_class=WaycoreRoute)

KeyId = Annotated[str, Path(alias="keyId", description="The key's keyId.")]


def to_out(api_key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=api_key.id,
        name=api_key.name,
        environment=api_key.environment,  # type: ignore[arg-type]
        key_prefix=f"way_{api_key.environment}_{api_key.id}",
        scopes=api_key.scopes,  # type: ignore[arg-type]
        status=service.key_status(api_key),  # type: ignore[arg-type]
        created_at=api_key.created_at,
        expires_at=api_key.expires_at,
        last_used_at=api_key.last_used_at,
        revoked_at=api_key.revoked_at,
        created_by_key_id=api_key.created_by_key_id,
    )


@router.get("", response_model=ListOut[ApiKeyOut], operation_id="listApiKeys")
async def list_api_keys(
    request: Request,
    key: Annotated[ApiKey, Depends(require_scope("apiKeys:read"))],
    session: DbSession,
    page: Annotated[PageParams, Depends()],
    status: Annotated[Literal["active", "expired", "revoked"] | None, Query()] = None,
) -> ListOut[ApiKeyOut]:
    partition = service.partition_of(key)
    stmt = service.filter_status(
        select(ApiKey).where(
            ApiKey.org_id == partition.org_id, ApiKey.environment == partition.environment
        ),
        status,
    )
    return await keyset_page(
        request,
        session,
        stmt,
        page,
        partition=partition,
        filters={"status": status},
        order=[(ApiKey.created_at, "desc"), (ApiKey.id, "desc")],
        to_out=to_out,
    )


@router.post("", status_code=201, response_model=ApiKeyCreatedOut, operation_id="createApiKey")
async def create_api_key(
    key: Annotated[ApiKey, Depends(require_scope("apiKeys:write"))],
    body: Annotated[ApiKeyCreate, Depends(json_body(ApiKeyCreate))],
    session: DbSession,
) -> ApiKeyCreatedOut:
    minted = await service.create_key(
        session, key, name=body.name, scopes=list(body.scopes), expires_in_days=body.expires_in_days
    )
    return ApiKeyCreatedOut(**to_out(minted.api_key).model_dump(), key=minted.key)


@router.get("/{keyId}", response_model=ApiKeyOut, operation_id="getApiKey")
async def get_api_key(
    key_id: KeyId,
    key: Annotated[ApiKey, Depends(require_scope("apiKeys:read"))],
    session: DbSession,
) -> ApiKeyOut:
    return to_out(await service.get_key(session, service.partition_of(key), key_id))


@router.delete("/{keyId}", response_model=ApiKeyOut, operation_id="revokeApiKey")
async def revoke_api_key(
    request: Request,
    key_id: KeyId,
    key: Annotated[ApiKey, Depends(require_scope("apiKeys:write"))],
    _: Annotated[None, Depends(no_body)],
    session: DbSession,
) -> ApiKeyOut:
    revoked = await service.revoke_key(session, service.partition_of(key), key_id)
    request.app.state.key_cache.evict(revoked.id)
    return to_out(revoked)
