"""The one place that turns errors into API.md's error body."""

from __future__ import annotations

import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from waycore.api.context import current_request_id
from waycore.errors import (
    AuthenticationRequired,
    MethodNotAllowed,
    NotFound,
    ValidationFailed,
    WaycoreError,
)

log = structlog.get_logger(__name__)

_CAMEL = re.compile(r"_([a-z])")


def _camel(key: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), key)


def error_body(code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": {_camel(k): v for k, v in details.items()},
        },
        "meta": {"requestId": current_request_id()},
    }


def error_response(exc: WaycoreError, headers: dict[str, str] | None = None) -> JSONResponse:
    all_headers = dict(exc.headers)
    if headers:
        all_headers.update(headers)
    if exc.status == 401:
        all_headers["WWW-Authenticate"] = 'Bearer realm="waycore"'
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=all_headers
    )


def _loc_to_field(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "header", "path"):
        return ".".join(parts[:2]) if len(parts) > 1 else parts[0]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts)


def validation_items(errors: list[Any], prefix: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Pydantic errors as API.md's ``[{field, message}]`` (never echoing the input)."""
    items = []
    for err in errors:
        loc = tuple(prefix) + tuple(err.get("loc", ()))
        message = str(err.get("msg", "invalid value"))
        if err.get("type") == "extra_forbidden":
            message = "unknown field"
        items.append({"field": _loc_to_field(loc), "message": message})
    return items


def validation_from_pydantic(errors: list[Any], prefix: tuple[str, ...] = ()) -> ValidationFailed:
    return ValidationFailed(validation_items(errors, prefix))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WaycoreError)
    async def _waycore(request: Request, exc: WaycoreError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(validation_from_pydantic(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            from waycore.api.routing import allowed_methods

            methods = allowed_methods(request.app.routes, request.url.path)
            allow = ", ".join(methods) or (exc.headers or {}).get("Allow", "")
            return error_response(MethodNotAllowed(), headers={"Allow": allow} if allow else None)
        if exc.status_code == 401:
            return error_response(AuthenticationRequired())
        if exc.status_code == 404:
            return error_response(NotFound())
        return error_response(WaycoreError(str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled_error", error_type=type(exc).__name__)
        return error_response(WaycoreError("Internal error; the request may be retried."))
