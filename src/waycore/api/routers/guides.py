"""Setup guides (API.md section 16): HTML, outside ``/v1``, no key, not in OpenAPI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from waycore.api.errors import error_response
from waycore.config import Settings
from waycore.domain.institutions import service
from waycore.domain.institutions.service import Institution
from waycore.errors import NotFound

router = APIRouter(prefix="/guides", include_in_schema=False)

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates" / "guides"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

READ_PERMISSIONS = [
    "View accounts and balances",
    "View transaction history and pending items",
    "View and download statements",
]
TRANSFER_PERMISSION = "Create (initiate) payments, to be approved by another user"


def _context(settings: Settings, institution: Institution | None) -> dict[str, Any]:
    permissions = list(READ_PERMISSIONS)
    if institution is None or institution.capabilities.transfers:
        permissions.append(TRANSFER_PERMISSION + ("" if institution else " (only if needed)"))
    return {
        "institution": institution,
        "bank_name": institution.name if institution else "your bank",
        "permissions": permissions,
        "guides_base": f"{settings.public_url.rstrip('/')}/guides",
        "catalogues": [
            (env, service.list_institutions(settings, env)) for env in service.ENVIRONMENTS
        ],
        "catalogue_note": service.catalogue_note(),
    }


def _html(template: str, context: dict[str, Any]) -> HTMLResponse:
    body = _templates.get_template(template).render(**context)
    return HTMLResponse(body, media_type="text/html; charset=utf-8")


@router.get("/generic", response_class=HTMLResponse)
async def generic_guide(request: Request) -> Response:
    return _html("generic.html", _context(request.app.state.settings, None))


@router.get("/{institutionId}", response_class=HTMLResponse)
async def institution_guide(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    institution = service.find_in_any_environment(settings, request.path_params["institutionId"])
    if institution is None:
        return error_response(NotFound())
    return _html("institution.html", _context(settings, institution))
