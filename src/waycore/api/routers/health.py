"""Health checks (API.md section 16): no key, no rate limit."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/healthz", openapi_extra={"security": []})
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", openapi_extra={"security": []})
async def readyz(request: Request) -> JSONResponse:
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("select 1"))
    except Exception:
        return JSONResponse(
            {"status": "unavailable", "checks": {"database": "error"}},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ready", "checks": {"database": "ok"}})
