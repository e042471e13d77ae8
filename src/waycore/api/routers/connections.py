"""``/v1/connections`` (API.md section 8)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from waycore.api.deps import DbSession, PageParams, json_body, no_body, partition_of, require_scope
from waycore.api.direct import direct
from waycore.api.pagination import keyset_page
from waycore.api.routing import WaycoreRoute
from waycore.api.schemas import ListOut, model_response
from waycore.domain.api_keys.models import ApiKey
from waycore.domain.connections import service
from waycore.domain.connections.models import Connection
from waycore.domain.connections.schemas import (
    ConnectionCreate,
    ConnectionKind,
    ConnectionOut,
    ConnectionStatus,
    ConnectionUpdate,
    CredentialsUpdate,
    SetupCompletion,
    SyncJobOut,
    VerificationCode,
)

router = APIRouter(prefix="/v1/connections", tags=["connections"], route_class=WaycoreRoute)

ConnectionId = Annotated[str, Path(alias="connectionId", max_length=64)]
Reader = Annotated[ApiKey, Depends(require_scope("connections:read"))]
Writer = Annotated[ApiKey, Depends(require_scope("connections:write"))]
NoBody = Annotated[None, Depends(no_body)]


def _out(request: Request, connection: Connection) -> ConnectionOut:
    return service.present(request.app.state.settings, connection)


@router.get("", response_model=ListOut[ConnectionOut], operation_id="listConnections")
async def list_connections(
    request: Request,
    key: Reader,
    session: DbSession,
    page: Annotated[PageParams, Depends()],
    entity_id: Annotated[UUID | None, Query(alias="entityId")] = None,
    institution_id: Annotated[str | None, Query(alias="institutionId", max_length=64)] = None,
    status: Annotated[ConnectionStatus | None, Query()] = None,
    kind: Annotated[ConnectionKind | None, Query()] = None,
) -> ListOut[ConnectionOut]:
    partition = partition_of(key)
    stmt = service.list_statement(
        partition, entity_id=entity_id, institution_id=institution_id, status=status, kind=kind
    )
    return await keyset_page(
        request,
        session,
        stmt,
        page,
        partition=partition,
        filters={
            "entityId": str(entity_id) if entity_id else None,
            "institutionId": institution_id,
            "status": status,
            "kind": kind,
        },
        order=[(Connection.created_at, "desc"), (Connection.id, "desc")],
        to_out=lambda c: _out(request, c),
    )


@router.post(
    "",
    status_code=201,
    response_model=ConnectionOut,
    operation_id="createConnection",
    responses={200: {"model": ConnectionOut, "description": "The existing connection."}},
)
async def create_connection(
    request: Request,
    response: Response,
    key: Writer,
    body: Annotated[ConnectionCreate, Depends(json_body(ConnectionCreate))],
    session: DbSession,
) -> ConnectionOut:
    connection, created = await service.create_connection(
        session, partition_of(key), request.app.state.settings, body
    )
    if not created:
        response.status_code = 200
    return _out(request, connection)


@router.get("/{connectionId}", response_model=ConnectionOut, operation_id="getConnection")
@direct
async def get_connection(request: Request, connection_id: ConnectionId, key: Reader) -> Response:
    state = request.app.state
    row = await service.read_connection(state.engine, partition_of(key), connection_id)
    return model_response(service.present(state.settings, row))


@router.patch("/{connectionId}", response_model=ConnectionOut, operation_id="updateConnection")
async def update_connection(
    request: Request,
    connection_id: ConnectionId,
    key: Writer,
    body: Annotated[ConnectionUpdate, Depends(json_body(ConnectionUpdate))],
    session: DbSession,
) -> ConnectionOut:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    connection = await service.update_connection(session, partition_of(key), connection_id, changes)
    return _out(request, connection)


@router.put(
    "/{connectionId}/credentials",
    response_model=ConnectionOut,
    operation_id="putConnectionCredentials",
)
async def put_credentials(
    request: Request,
    connection_id: ConnectionId,
    key: Writer,
    body: Annotated[CredentialsUpdate, Depends(json_body(CredentialsUpdate))],
    session: DbSession,
) -> ConnectionOut:
    connection = await service.put_credentials(
        session, partition_of(key), request.app.state.keyring, connection_id, body.changes()
    )
    return _out(request, connection)


@router.put(
    "/{connectionId}/setupCompletion",
    response_model=ConnectionOut,
    operation_id="completeConnectionSetup",
)
async def complete_setup(
    request: Request,
    connection_id: ConnectionId,
    key: Writer,
    body: Annotated[SetupCompletion, Depends(json_body(SetupCompletion))],
    session: DbSession,
) -> ConnectionOut:
    connection = await service.complete_setup(session, partition_of(key), connection_id)
    return _out(request, connection)


@router.put(
    "/{connectionId}/verificationCode",
    response_model=ConnectionOut,
    operation_id="submitConnectionVerificationCode",
)
async def submit_verification_code(
    request: Request,
    connection_id: ConnectionId,
    key: Writer,
    body: Annotated[VerificationCode, Depends(json_body(VerificationCode))],
    session: DbSession,
) -> ConnectionOut:
    connection = await service.submit_verification_code(
        session, partition_of(key), request.app.state.keyring, connection_id, body.code
    )
    return _out(request, connection)


@router.put(
    "/{connectionId}/sync",
    status_code=202,
    response_model=SyncJobOut,
    operation_id="requestConnectionSync",
)
async def request_sync(
    connection_id: ConnectionId, key: Writer, _: NoBody, session: DbSession
) -> SyncJobOut:
    connection, sync_id = await service.request_sync(session, partition_of(key), connection_id)
    return SyncJobOut(sync_id=sync_id, connection_id=connection.id, status="queued")


@router.delete("/{connectionId}", response_model=ConnectionOut, operation_id="revokeConnection")
async def revoke_connection(
    request: Request, connection_id: ConnectionId, key: Writer, _: NoBody, session: DbSession
) -> ConnectionOut:
    connection = await service.revoke_connection(session, partition_of(key), connection_id)
    return _out(request, connection)


for _route in router.routes:
    if not isinstance(_route, WaycoreRoute):
        continue
    if set(_route.methods or ()) & {"PATCH", "PUT"}:
        _route.openapi_extra_errors = ("409",)  # type: ignore[attr-defined]
    elif "POST" in (_route.methods or ()):
        _route.openapi_extra_errors = ("404",)  # type: ignore[attr-defined]  # entity, institution
