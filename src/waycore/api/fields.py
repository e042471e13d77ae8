"""``fields`` selection of list and get endpoints (API.md section 4.1).

Objects then carry only the named fields plus their identifiers (``id``, ``accountId``,
``connectionId``, ``entityId`` where present); an unknown name is ``422`` (``query.fields``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from waycore.errors import ValidationFailed

IDENTIFIERS = ("id", "accountId", "connectionId", "entityId")

FieldsQuery = Annotated[
    str | None,
    Query(
        max_length=2000,
        description="Comma-separated field names; objects carry only these plus identifiers.",
    ),
]


def wire_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def parse(raw: str | None, model: type[BaseModel]) -> frozenset[str] | None:
    """The selected wire names (identifiers included), or None for whole objects."""
    if raw is None:
        return None
    known = wire_names(model)
    names = [n.strip() for n in raw.split(",")]
    unknown = sorted({n for n in names if n not in known})
    if unknown or not any(names):
        shown = ", ".join(repr(n) for n in unknown) or "an empty name"
        raise ValidationFailed.single("query.fields", f"unknown field {shown}")
    return frozenset(names) | frozenset(n for n in IDENTIFIERS if n in known)


def prune(item: dict[str, Any], selected: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k in selected}


def response(body: BaseModel, selected: frozenset[str] | None) -> Any:
    """``body`` itself, or a JSON response of it with its objects pruned to ``selected``."""
    if selected is None:
        return body
    dumped = body.model_dump(mode="json", by_alias=True)
    if isinstance(dumped.get("data"), list):
        dumped["data"] = [prune(item, selected) for item in dumped["data"]]
    else:
        dumped = prune(dumped, selected)
    return JSONResponse(dumped)
