"""Assembles the portal on the bank app."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from waycore.sandbox_bank.errors import BankError
from waycore.sandbox_bank.portal import accounts, auth
from waycore.sandbox_bank.portal.middleware import PortalErrorMiddleware
from waycore.sandbox_bank.portal.render import STATIC, error_page
from waycore.sandbox_bank.portal.sessions import SessionMiddleware

_HEADINGS = {
    400: "Request not understood",
    401: "Please log in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "Not possible now",
    413: "Request too large",
    422: "Please check your input",
}


async def _on_bank_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BankError)
    status = exc.status if exc.status >= 400 else 500
    message = exc.message if status < 500 else "We could not complete your request."
    return error_page(
        request, status, _HEADINGS.get(status, "Something went wrong"), message, code=exc.code
    )


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    heading = _HEADINGS.get(status, "Something went wrong")
    message = "The page you asked for does not exist." if status == 404 else heading + "."
    return error_page(
        request,
        status,
        heading,
        message,
        code={404: "not_found", 405: "method_not_allowed"}.get(status, "error"),
    )


def _engine_of(scope: Any) -> Any:
    return scope["app"].state.engine


def install(app: Any) -> None:
    from waycore.sandbox_bank.portal import admin, payments, statements

    for module in (auth, accounts, statements, payments, admin):
        app.router.routes.extend(module.routes)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.state.portal_bank_error_handler = _on_bank_error
    app.state.portal_http_error_handler = _on_http_error
    app.add_middleware(SessionMiddleware, engine_of=_engine_of)
    app.add_middleware(PortalErrorMiddleware)
