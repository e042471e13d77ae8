"""The Sandbox Bank's ASGI app: ``create_app(settings, database_url)``.

It mounts the control API (``/_sandbox/``, ``control.py``) and, when the package
``waycore.sandbox_bank.portal`` exists and has ``install(app)``, lets the portal add its
pages. ``app.state`` carries ``settings``, ``engine`` and ``sessionmaker`` (sessions with
``autobegin=False, expire_on_commit=False`` whose committed outbox messages are delivered
by SMTP / SMS webhook when configured).

Errors: under ``/_sandbox`` every error is ``{"error": {"code", "message", "details"}}``.
Elsewhere a ``BankError`` or an HTTP error goes to ``app.state.portal_bank_error_handler`` /
``app.state.portal_http_error_handler`` when the portal sets them (same signature as a
Starlette exception handler), else to the same JSON shape / Starlette's default.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from waycore.config import Settings
from waycore.db import make_engine, make_sessionmaker
from waycore.sandbox_bank import clock
from waycore.sandbox_bank.control import CONTROL_PREFIX, ControlAuthMiddleware, error_response
from waycore.sandbox_bank.control import router as control_router
from waycore.sandbox_bank.errors import BankError, ValidationFailed
from waycore.sandbox_bank.service.outbox import Delivery, wait_for_deliveries

log = structlog.get_logger(__name__)
_HTTP_CODES = {401: "authentication_required", 404: "not_found", 405: "method_not_allowed"}


def _is_control(request: Request) -> bool:
    return request.url.path == CONTROL_PREFIX or request.url.path.startswith(CONTROL_PREFIX + "/")


def create_app(settings: Settings, database_url: str) -> FastAPI:
    start = clock.parse_start_date(settings.sandbox_start_date)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(database_url)
        factory = make_sessionmaker(engine)
        factory.configure(
            info={
                "sandbox_delivery": Delivery(
                    smtp_url=settings.sandbox_smtp_url,
                    sms_webhook_url=settings.sandbox_sms_webhook_url,
                )
            }
        )
        app.state.engine = engine
        app.state.sessionmaker = factory
        async with factory() as session:
            await clock.ensure_clock(session, start)
            await clock.catch_up(session)
        yield
        await wait_for_deliveries(timeout_s=5.0)
        await engine.dispose()

    app = FastAPI(
        title="Sandbox Bank", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.add_middleware(ControlAuthMiddleware, token=settings.sandbox_token)

    async def on_bank_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BankError)
        custom = getattr(request.app.state, "portal_bank_error_handler", None)
        if custom is not None and not _is_control(request):
            response: Response = await custom(request, exc)
            return response
        if exc.status >= 500:
            log.error("sandbox_bank_error", code=exc.code)
        return error_response(exc.status, exc.code, exc.message, exc.details)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if _is_control(request):
            code = _HTTP_CODES.get(exc.status_code, "http_error")
            response = error_response(exc.status_code, code, str(exc.detail), {})
            if exc.headers:
                response.headers.update(exc.headers)
            return response
        custom = getattr(request.app.state, "portal_http_error_handler", None)
        if custom is not None:
            result: Response = await custom(request, exc)
            return result
        return await http_exception_handler(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        failure = ValidationFailed(errors)
        if not _is_control(request):
            custom = getattr(request.app.state, "portal_bank_error_handler", None)
            if custom is not None:
                response: Response = await custom(request, failure)
                return response
        return error_response(422, failure.code, failure.message, failure.details)

    app.add_exception_handler(BankError, on_bank_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.include_router(control_router)
    _install_portal(app)
    return app


def _install_portal(app: FastAPI) -> None:
    if importlib.util.find_spec("waycore.sandbox_bank.portal") is None:
        return
    portal = importlib.import_module("waycore.sandbox_bank.portal")
    install = getattr(portal, "install", None)
    if callable(install):
        install(app)
