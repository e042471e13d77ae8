"""The OpenAPI document: request bodies parsed by ``json_body``, error responses, security."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from waycore.api.routing import WaycoreRoute
from waycore.api.schemas import ErrorOut

REF = "#/components/schemas/{model}"

_ERROR_TEXT = {
    "400": "Invalid cursor.",
    "401": "Missing, invalid or expired API key.",
    "403": "The API key lacks a required scope.",
    "404": "Not found.",
    "409": "Conflict with the resource's state or an earlier request.",
    "410": "Cursor expired.",
    "413": "Body larger than 1 MiB.",
    "415": "Body is not application/json.",
    "422": "Validation failed.",
    "429": "Rate limited.",
}


def _add_schema(components: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    schema = model.model_json_schema(by_alias=True, ref_template=REF, mode="validation")
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def install_openapi(app: FastAPI, public_url: str) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version="3.1.0",
            description="Waycore HTTP API v1.",
            routes=app.routes,
            servers=[{"url": public_url.rstrip("/")}],
        )
        components = doc.setdefault("components", {}).setdefault("schemas", {})
        error_ref = _add_schema(components, ErrorOut)
        doc["components"]["securitySchemes"] = {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "way_<env>_<keyId>_<secret>",
            }
        }
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for route in app.routes:
            if not isinstance(route, WaycoreRoute):
                continue
            for method in route.methods:
                op = doc["paths"].get(route.path_format, {}).get(method.lower())
                if op is None:
                    continue
                responses = op.setdefault("responses", {})
                responses.pop("422", None)
                codes = {"401", "403", "429"}
                if route.body_model is not None:
                    op["requestBody"] = {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": _add_schema(components, route.body_model)
                            }
                        },
                    }
                    codes |= {"413", "415", "422"}
                if route.reads_body or route.allowed_query:
                    codes.add("422")
                if "cursor" in route.allowed_query:
                    codes.add("400")
                if method == "POST":
                    codes.add("409")
                if "{" in route.path_format:
                    codes.add("404")
                codes |= set(getattr(route, "openapi_extra_errors", ()))
                for code in sorted(codes):
                    responses[code] = {
                        "description": _ERROR_TEXT.get(code, "Error."),
                        "content": {"application/json": {"schema": error_ref}},
                    }
                op["security"] = [{"bearerAuth": []}]
        for path, item in doc["paths"].items():
            if not path.startswith("/v1"):
                for op in item.values():
                    op["security"] = []
        app.openapi_schema = doc
        return doc

    app.openapi = build  # type: ignore[method-assign]
