"""Accounts overview, account page and its history endpoint (JSON for the page's script).

These are the pages a connector loads most: they read through ``service.fastpath`` (one
statement each, outside any transaction), with the user fetched along with the web session.
"""

from __future__ import annotations

from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from waycore.sandbox_bank.errors import Forbidden, NotFound, ValidationFailed
from waycore.sandbox_bank.portal.context import Viewer, engine, page, signed_in
from waycore.sandbox_bank.portal.queries import JSON, AccountView, page_json, row_json
from waycore.sandbox_bank.portal.render import error_page
from waycore.sandbox_bank.service import fastpath


async def accounts(request: Request) -> Response:
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    found = await fastpath.visible_accounts(engine(request), viewer.user)
    views = [AccountView(a, viewer.can_view_balances) for a in found]
    return page(
        request,
        "accounts.html",
        viewer,
        title="Accounts",
        nav="accounts",
        accounts=views,
        show_balances=viewer.can_view_balances,
        notice=request.query_params.get("notice"),
    )


def _not_found(request: Request, viewer: Viewer) -> Response:
    return error_page(
        request,
        404,
        "Account not found",
        "This account does not exist or you may not view it.",
        code="not_found",
        back_url="/accounts",
        back_label="Back to accounts",
        user=viewer,
    )


async def account(request: Request) -> Response:
    viewer = await signed_in(request)
    if not isinstance(viewer, Viewer):
        return viewer
    try:
        found = await fastpath.account_page(
            engine(request),
            viewer.user,
            request.path_params["account_id"],
            with_history=viewer.can_view_transactions,
        )
    except NotFound:
        return _not_found(request, viewer)
    rows, has_next = [], False
    if found.history is not None:
        rows, has_next = [row_json(r) for r in found.history.rows], found.history.has_next
    return page(
        request,
        "account.html",
        viewer,
        title=found.account.name,
        nav="accounts",
        account=AccountView(found.account, viewer.can_view_balances),
        rows=rows,
        has_next=has_next,
        can_view_transactions=viewer.can_view_transactions,
    )


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _json_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def history(request: Request) -> Response:
    """``GET /accounts/{id}/history?page=N&from=YYYY-MM-DD&to=YYYY-MM-DD`` (JSON)."""
    viewer = await signed_in(request, json=True)
    if not isinstance(viewer, Viewer):
        return viewer
    params = request.query_params
    raw_page = params.get("page", "1")
    page_number = int(raw_page) if raw_page.isdigit() and len(raw_page) < 7 else 0
    start, end = _date(params.get("from")), _date(params.get("to"))
    if page_number < 1 or (params.get("from") and not start) or (params.get("to") and not end):
        return _json_error(422, "validation_error", "page must be ≥ 1; dates YYYY-MM-DD")
    try:
        result = await fastpath.account_history(
            engine(request),
            viewer.user,
            request.path_params["account_id"],
            page=page_number,
            date_from=start,
            date_to=end,
        )
    except NotFound:
        return _json_error(404, "not_found", "Account not found.")
    except Forbidden as exc:
        return _json_error(403, "forbidden", exc.message)
    except ValidationFailed as exc:
        return _json_error(422, "validation_error", exc.message)
    return JSON(page_json(result), headers={"Cache-Control": "no-store"})


routes = [
    Route("/accounts", accounts, methods=["GET"]),
    Route("/accounts/{account_id}", account, methods=["GET"]),
    Route("/accounts/{account_id}/history", history, methods=["GET"]),
]
