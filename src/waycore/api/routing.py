"""``WaycoreRoute``: unknown query parameters, idempotency storage and error bodies per route."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

import structlog
from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute

from waycore.api import idempotency
from waycore.api.errors import error_response, validation_from_pydantic
from waycore.errors import WaycoreError

log = structlog.get_logger(__name__)

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def walk_routes(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, including those of included routers (which FastAPI keeps nested)."""
    for route in routes:
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from walk_routes(nested.routes)
        else:
            yield route


def allowed_methods(routes: Sequence[BaseRoute], path: str) -> list[str]:
    """The methods of every route whose path matches ``path`` (for ``Allow``)."""
    methods: set[str] = set()
    for route in walk_routes(routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _walk(dependant: Dependant) -> list[Dependant]:
    found = [dependant]
    for sub in dependant.dependencies:
        found.extend(_walk(sub))
    return found


class WaycoreRoute(APIRoute):
    allowed_query: frozenset[str] = frozenset()
    body_model: type[BaseModel] | None = None
    reads_body = False

    def _inspect(self) -> None:
        every = _walk(self.dependant)
        self.allowed_query = frozenset(p.alias or p.name for d in every for p in d.query_params)
        models = [getattr(d.call, "body_model", None) for d in every]
        self.body_model = next((m for m in models if m is not None), None)
        self.reads_body = any(getattr(d.call, "reads_body", False) for d in every)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        self._inspect()
        original = super().get_route_handler()
        allowed = self.allowed_query

        async def handler(request: Request) -> Response:
            scope = request.scope
            scope["route"] = self
            if scope["query_string"]:
                scope["state"]["unknown_query"] = sorted(
                    {k for k in request.query_params if k not in allowed}
                )
                scope["state"]["control_query"] = sorted(
                    {
                        k
                        for k, v in request.query_params.multi_items()
                        if k in allowed and CONTROL.search(v)
                    }
                )
            return await run_guarded(request, original)

        return handler


async def run_guarded(
    request: Request, call: Callable[[Request], Coroutine[Any, Any, Response]]
) -> Response:
    """Run a route's handler: errors as API.md's bodies, the idempotency record finished."""
    try:
        response = await call(request)
    except idempotency.Replay as replay:
        return Response(
            replay.body,
            status_code=replay.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    except WaycoreError as exc:
        response = error_response(exc)
    except RequestValidationError as exc:
        response = error_response(validation_from_pydantic(list(exc.errors())))
    except Exception as exc:
        log.error("unhandled_error", error_type=type(exc).__name__, exc_info=True)
        response = error_response(WaycoreError("Internal error; the request may be retried."))
    except BaseException:
        # Cancelled (client gone, shutdown): release the key so that a retry can run.
        reservation = getattr(request.state, "idempotency", None)
        if reservation is not None:
            await asyncio.shield(
                idempotency.finish(request.app.state.engine, reservation, 499, b"")
            )
        raise
    reservation = getattr(request.state, "idempotency", None)
    if reservation is not None:
        await idempotency.finish(
            request.app.state.engine, reservation, response.status_code, bytes(response.body)
        )
    return response
