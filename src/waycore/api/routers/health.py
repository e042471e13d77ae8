"""Health checks (API.md section 16): no key, no rate limit."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from waycore.api.schemas import ApiModel

router = APIRouter(tags=["health"])

READY_TIMEOUT_S = 2.0


class HealthOut(ApiModel):
    status: Literal["ok"]


class ReadinessChecks(ApiModel):
    database: Literal["ok", "error"]


class ReadinessOut(ApiModel):
    status: Literal["ready", "unavailable"]
    checks: ReadinessChecks


@router.get(
    "/healthz",
    operation_id="getHealth",
    summary="Liveness: the process serves requests",
    response_model=HealthOut,
    openapi_extra={"security": []},
)
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    operation_id="getReadiness",
    summary="Readiness: the database answers",
    response_model=ReadinessOut,
    responses={503: {"model": ReadinessOut, "description": "The database is unreachable."}},
    openapi_extra={"security": []},
)
async def readyz(request: Request) -> JSONResponse:
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), request.app.state.engine.connect() as conn:
            await conn.execute(text("select 1"))
    except Exception:
        return JSONResponse(
            {"status": "unavailable", "checks": {"database": "error"}},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ready", "checks": {"database": "ok"}})
