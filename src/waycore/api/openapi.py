"""The OpenAPI document: request bodies parsed by ``json_body``, error responses, security.

FastAPI builds the paths; this module then declares what the pipeline adds to every operation
(API.md sections 2-4): the bearer scheme, the error responses each step can answer with, the
``Idempotency-Key`` header of every POST and the request body that ``json_body`` parses. Wire
names drop the Python suffixes (``ApiKeyOut`` → ``ApiKey``, ``ListOut[ApiKeyOut]`` →
``ApiKeyList``).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from waycore.api.routing import WaycoreRoute, walk_routes
from waycore.api.schemas import ErrorOut

REF = "#/components/schemas/{model}"

_ERROR_TEXT = {
    "400": "Invalid cursor (`invalid_cursor`).",
    "401": "Missing, invalid or expired API key.",
    "403": "The API key lacks a required scope (`insufficient_scope`).",
    "404": "Not found (`not_found`).",
    "409": "Conflict with the resource's state or an earlier request with this Idempotency-Key.",
    "410": "Cursor expired (`cursor_expired`).",
    "413": "Body larger than 1 MiB (`payload_too_large`).",
    "415": "Body is not application/json (`unsupported_media_type`).",
    "422": "Validation failed (`validation_error`).",
    "429": "Rate limited (`rate_limited`).",
}

_ERROR_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {
            "description": 'Always `Bearer realm="waycore"`.',
            "schema": {"type": "string"},
        }
    },
    "409": {
        "Retry-After": {
            "description": "Seconds to wait (`idempotency_key_in_use` only).",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
    "429": {
        "Retry-After": {
            "description": "Seconds until a token is available (at least 1).",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}

IDEMPOTENCY_HEADER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes the POST safe to repeat for 24 hours: 1-255 printable ASCII characters, no "
        "leading or trailing whitespace."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": r"^[!-~]([ -~]*[!-~])?$",
    },
}

_LIST_NAME = re.compile(r"^ListOut_(\w+?)(Out)?_$")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the errors a handler itself raises beyond the pipeline's own
    (``@router.patch(..., responses=error_responses(409))``)."""
    return {
        code: {"model": ErrorOut, "description": _ERROR_TEXT.get(str(code), "Error.")}
        for code in codes
    }


def _add_schema(components: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    schema = model.model_json_schema(by_alias=True, ref_template=REF, mode="validation")
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def _wire_name(name: str) -> str:
    match = _LIST_NAME.match(name)
    if match:
        return f"{match.group(1)}List"
    if name.endswith("Out") and len(name) > 3:
        return name[:-3]
    return name


def _rename_schemas(doc: dict[str, Any]) -> dict[str, Any]:
    """Drop the Python suffixes from component names and rewrite every ``$ref``."""
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    renames: dict[str, str] = {}
    taken = set(schemas)
    for name in sorted(schemas):
        new = _wire_name(name)
        if new != name and new not in taken:
            renames[name] = new
            taken.add(new)
    if not renames:
        return doc

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    target = value.rsplit("/", 1)[-1]
                    if target in renames:
                        value = REF.format(model=renames[target])
                out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    doc = walk(doc)
    doc["components"]["schemas"] = {
        renames.get(name, name): (
            {**schema, "title": renames[name]} if name in renames and "title" in schema else schema
        )
        for name, schema in doc["components"]["schemas"].items()
    }
    return doc


def _error_codes(route: WaycoreRoute, method: str) -> set[str]:
    codes = {"401", "403", "422", "429"}  # 422: unknown query parameters, everywhere
    if route.body_model is not None:
        codes |= {"413", "415"}
    if "cursor" in route.allowed_query:
        codes.add("400")
    if method == "POST":
        codes.add("409")
    if "{" in route.path_format:
        codes.add("404")
    codes |= {str(c) for c in getattr(route, "openapi_extra_errors", ())}
    return codes


def install_openapi(app: FastAPI, public_url: str) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version="3.1.0",
            summary="Waycore HTTP API v1.",
            description=(
                "Bank portals as an API. Every `/v1` request carries "
                "`Authorization: Bearer way_<environment>_<keyId>_<secret>`."
            ),
            routes=app.routes,
            servers=[{"url": public_url.rstrip("/")}],
            license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        )
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        error_ref = _add_schema(components, ErrorOut)
        doc["components"]["securitySchemes"] = {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key: `way_<environment>_<keyId>_<secret>`.",
            }
        }
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for route in walk_routes(app.routes):
            if not isinstance(route, WaycoreRoute):
                continue
            for method in sorted(route.methods or ()):
                op = doc["paths"].get(route.path_format, {}).get(method.lower())
                if op is None:
                    continue
                responses = op.setdefault("responses", {})
                responses.pop("422", None)
                if route.body_model is not None:
                    op["requestBody"] = {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": _add_schema(components, route.body_model)
                            }
                        },
                    }
                if method == "POST":
                    params = op.setdefault("parameters", [])
                    if not any(p.get("name") == "Idempotency-Key" for p in params):
                        params.append(IDEMPOTENCY_HEADER)
                for code in sorted(_error_codes(route, method)):
                    response: dict[str, Any] = {
                        "description": _ERROR_TEXT.get(code, "Error."),
                        "content": {"application/json": {"schema": error_ref}},
                    }
                    if code in _ERROR_HEADERS:
                        response["headers"] = _ERROR_HEADERS[code]
                    responses[code] = response
                op["security"] = [{"bearerAuth": []}]
        for path, item in doc["paths"].items():
            if not path.startswith("/v1"):
                for op in item.values():
                    op["security"] = []
        doc = _rename_schemas(doc)
        app.openapi_schema = doc
        return doc

    app.openapi = build  # type: ignore[method-assign]
