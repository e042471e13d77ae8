"""Statements: monthly PDF/CSV per account and date-range exports (CSV, BAI2)."""

from __future__ import annotations

import re
from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waycore.sandbox_bank import statements as statements_service
from waycore.sandbox_bank.errors import Forbidden, NotFound, ValidationFailed
from waycore.sandbox_bank.portal.context import Viewer, db, page, signed_in
from waycore.sandbox_bank.portal.render import error_page
from waycore.sandbox_bank.portal.sessions import web_session
from waycore.sandbox_bank.service import accounts as accounts_service

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _refused(request: Request, viewer: Viewer, status: int, message: str) -> Response:
    heading = {403: "Not allowed", 404: "Statement not found"}.get(status, "Please check")
    return error_page(
        request,
        status,
        heading,
        message,
        code=str(status),
        back_url="/statements",
        back_label="Back to statements",
        user=viewer,
    )


async def statements(request: Request) -> Response:
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    if not viewer.can_download:
        return _refused(request, viewer, 403, "You do not have permission to view statements.")
    async with db(request) as session:
        accounts = await accounts_service.visible_accounts(session, viewer.user)
        wanted = request.query_params.get("account") or (str(accounts[0].id) if accounts else "")
        chosen = next((a for a in accounts if str(a.id) == wanted), None)
        periods = (
            await statements_service.list_statements(session, viewer.user, str(chosen.id))
            if chosen
            else []
        )
    rows = [
        {
            "month": f"{p.year:04d}-{p.month:02d}",
            "label": f"{MONTH_NAMES[p.month - 1]} {p.year}",
            "start": p.period_start.isoformat(),
            "end": p.period_end.isoformat(),
        }
        for p in periods
    ]
    return page(
        request,
        "statements.html",
        viewer,
        title="Statements",
        nav="statements",
        accounts=accounts,
        chosen=chosen,
        periods=rows,
    )


async def download(request: Request) -> Response:
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    match = _MONTH.match(request.path_params["month"])
    fmt = request.path_params["fmt"]
    if match is None or fmt not in ("pdf", "csv") or not 1 <= int(match[2]) <= 12:
        return _refused(request, viewer, 404, "There is no such statement.")
    year, month = int(match[1]), int(match[2])
    account_id = request.path_params["account_id"]
    try:
        async with db(request) as session:
            make = (
                statements_service.statement_pdf
                if fmt == "pdf"
                else statements_service.statement_csv
            )
            body = await make(session, viewer.user, account_id, year, month)
    except Forbidden as exc:
        return _refused(request, viewer, 403, exc.message)
    except (NotFound, ValidationFailed):
        return _refused(request, viewer, 404, "There is no such statement.")
    name = f"statement-{account_id[:8]}-{year:04d}-{month:02d}.{fmt}"
    media = "application/pdf" if fmt == "pdf" else "text/csv; charset=utf-8"
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return None


async def export(request: Request) -> Response:
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    params = request.query_params
    if not web_session(request).csrf_ok(params.get("csrf_token")):
        return error_page(
            request,
            403,
            "Form expired",
            "Your session expired or the form is no longer valid.",
            code="csrf",
            back_url="/statements",
            user=viewer,
        )
    start, end, fmt = _date(params.get("from")), _date(params.get("to")), params.get("format")
    if start is None or end is None or start > end or fmt not in ("csv", "bai2"):
        return _refused(
            request,
            viewer,
            422,
            "Choose an account, a start and end date (start first) and a format.",
        )
    account_id = params.get("account") or ""
    try:
        async with db(request) as session:
            make = statements_service.export_csv if fmt == "csv" else statements_service.export_bai2
            body = await make(session, viewer.user, account_id, start, end)
    except Forbidden as exc:
        return _refused(request, viewer, 403, exc.message)
    except NotFound:
        return _refused(request, viewer, 404, "Account not found.")
    except ValidationFailed as exc:
        return _refused(request, viewer, 422, exc.message)
    ext = "csv" if fmt == "csv" else "bai"
    name = f"export-{account_id[:8]}-{start}-{end}.{ext}"
    media = "text/csv; charset=utf-8" if fmt == "csv" else "text/plain; charset=utf-8"
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


routes = [
    Route("/statements", statements, methods=["GET"]),
    Route("/statements/export", export, methods=["GET"]),
    Route("/statements/{account_id}/{month}.{fmt}", download, methods=["GET"]),
]
