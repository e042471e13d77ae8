"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from waycore.config import Settings
from waycore.db import make_engine, make_sessionmaker


def create_app(settings: Settings, database_url: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(database_url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.settings = settings
        yield
        await engine.dispose()

    app = FastAPI(title="Waycore API", version="1.0.0", lifespan=lifespan)

    from waycore.api.routers import health

    app.include_router(health.router)
    return app
