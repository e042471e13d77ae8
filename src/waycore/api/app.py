"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError

from waycore.api.deps import KeyCache
from waycore.api.direct import DirectRoutes
from waycore.api.errors import install_error_handlers
from waycore.api.middleware import RequestContextMiddleware
from waycore.api.openapi import install_openapi
from waycore.api.ratelimit import make_limiter
from waycore.config import Settings
from waycore.db import make_engine, make_sessionmaker
from waycore.vault import app_secrets
from waycore.vault.keyring import load_keyring

log = structlog.get_logger(__name__)


def create_app(settings: Settings, database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # At most 30 connections, as before (20 + 10 overflow), but all kept: an overflow
        # connection is closed on return, so each burst past 20 paid new connections (TCP,
        # startup, codec introspection) again.
        engine = make_engine(database_url, pool_size=30, max_overflow=0)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        # GETs read in autocommit: one round trip per query, no BEGIN/COMMIT
        app.state.read_sessionmaker = make_sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        app.state.keyring = load_keyring(settings)
        app.state.cursor_key = None
        try:
            app.state.cursor_key = await app_secrets.load_or_create(
                engine, app.state.keyring, "cursor_key"
            )
        except (OSError, SQLAlchemyError):  # database down: /readyz says so; loaded on first use
            log.warning("cursor_key_deferred")
        yield
        limiter = app.state.limiter
        if limiter is not None and hasattr(limiter, "close"):
            await limiter.close()
        await engine.dispose()

    app = FastAPI(
        title="Waycore API",
        version="1.0.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.key_cache = KeyCache()
    app.state.limiter = make_limiter(settings.rate_limit_multiplier, settings.redis_url)
    install_error_handlers(app)

    from waycore.api.routers import api_keys, docs, health

    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(api_keys.router)
    for router in _capability_routers():
        app.include_router(router)
    install_openapi(app, settings.public_url)

    @app.get(
        "/openapi.json",
        tags=["health"],
        operation_id="getOpenApiDocument",
        summary="This OpenAPI document",
        openapi_extra={"security": []},
    )
    async def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())

    app.add_middleware(RequestContextMiddleware, direct=DirectRoutes(app.routes))
    return app


def operation_id(route: APIRoute) -> str:
    """A route's default operationId: its function name in camelCase (``list_entities`` →
    ``listEntities``)."""
    head, *rest = route.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _capability_routers() -> list[APIRouter]:
    """Routers of the resources (entities, institutions, connections, ...)."""
    import importlib

    found: list[APIRouter] = []
    for name in (
        "entities",
        "institutions",
        "connections",
        "guides",
        "inbox",
        "accounts",
        "transactions",
    ):
        try:
            module = importlib.import_module(f"waycore.api.routers.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"waycore.api.routers.{name}":
                raise
            continue
        found.append(module.router)
    return found
