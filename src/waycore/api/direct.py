"""The direct path: the busiest GET routes served without FastAPI's per-request machinery.

A route opts in with :func:`direct` on its endpoint. Its requests still pass through the
outer middleware (request id, access log, rate-limit headers, last-resort 500), which hands
them here instead of to the layers below it: Starlette's exception middleware, the router's
matching through every included router, FastAPI's request handler and dependency solving.
On the 2-core benchmark machine those cost more CPU than the route's own work.

What those layers would do for such a request is done here, in the same order, with the
same code:

* **Route.** The route's own path regex, GET only, and no route registered before it that
  could match the same path (the router takes the first match). A request with a query
  string, under a root path, while dependency overrides are set, or whose path parameters
  fail their declared validation goes down the normal path, which answers it (the 422
  included) exactly as before: nothing has run at that point.
* **Dependencies.** Each must be a coroutine function taking only the request (here:
  ``require_scope``: authentication, rate limit, scope, control characters, query
  errors); they run in declaration order, then the endpoint gets the request, their
  results and the validated path parameters.
* **Errors.** Through :func:`waycore.api.routing.run_guarded`, as on the normal path.

Endpoints must return a ``Response`` (``schemas.model_response``), so that there is no
response model to validate; :class:`DirectRoutes` refuses at startup a marked route it
could not serve exactly (other parameter kinds, a sub-dependency with parameters of its
own, another return type).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.dependencies.utils import request_params_to_args
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from waycore.api.routing import WaycoreRoute, run_guarded, walk_routes

F = TypeVar("F", bound=Callable[..., Any])


def direct(endpoint: F) -> F:
    """Serve this GET endpoint on the direct path (see the module's documentation)."""
    endpoint.waycore_direct = True  # type: ignore[attr-defined]
    return endpoint


def _segments(path_format: str) -> list[str | None]:
    """A path's segments, None for one holding a parameter (matches any one segment)."""
    return [None if "{" in part else part for part in path_format.split("/")]


def _may_overlap(earlier: BaseRoute, path_format: str) -> bool:
    """Whether ``earlier`` could match a path that ``path_format`` matches (conservative)."""
    if not isinstance(earlier, Route):
        return True  # a mount, something unknown: checked at runtime (or no direct path)
    if earlier.methods is not None and "GET" not in earlier.methods:
        return False
    if ":path}" in earlier.path:
        return True  # a parameter spanning segments: checked at runtime
    other = earlier.path_format
    mine, theirs = _segments(path_format), _segments(other)
    if len(mine) != len(theirs):
        return False
    return all(a is None or b is None or a == b for a, b in zip(mine, theirs, strict=True))


class _DirectRoute:
    def __init__(self, route: WaycoreRoute, earlier: Sequence[BaseRoute]) -> None:
        dependant = route.dependant
        call = dependant.call
        name = f"{route.path} ({getattr(call, '__name__', call)})"
        problems: list[str] = []
        if route.methods != {"GET"}:
            problems.append("not a GET-only route")
        if (
            dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or dependant.response_param_name
            or dependant.background_tasks_param_name
            or dependant.security_scopes_param_name
            or dependant.http_connection_param_name
            or dependant.websocket_param_name
        ):
            problems.append("parameters other than the request, path and dependencies")
        calls: list[tuple[str, Callable[[Request], Any]]] = []
        for sub in dependant.dependencies:
            params = list(inspect.signature(sub.call).parameters) if sub.call else []
            simple = (
                sub.call is not None
                and sub.name is not None
                and inspect.iscoroutinefunction(sub.call)
                and params == [sub.request_param_name]
                and not sub.dependencies
            )
            if not simple or sub.call in [c for _, c in calls]:
                problems.append(f"dependency {sub.name!r} is not a coroutine of the request alone")
                continue
            assert sub.name is not None and sub.call is not None
            calls.append((sub.name, sub.call))
        hints = typing.get_type_hints(call) if call else {}
        returns = hints.get("return")
        if not (inspect.isclass(returns) and issubclass(returns, Response)):
            problems.append("the endpoint does not return a Response")
        if not inspect.iscoroutinefunction(call):
            problems.append("the endpoint is not a coroutine function")
        if problems:
            raise RuntimeError(f"route {name} cannot be served directly: {'; '.join(problems)}")
        self.route = route
        self.regex = route.path_regex
        self.convertors = route.param_convertors
        self.path_fields = dependant.path_params
        self.request_name = dependant.request_param_name
        self.calls = calls
        self.endpoint: Callable[..., Any] = call  # type: ignore[assignment]
        self.shadows = [
            r.path_regex  # type: ignore[attr-defined]
            for r in earlier
            if _may_overlap(r, route.path_format) and getattr(r, "path_regex", None) is not None
        ]
        self.unknown_shadow = any(
            _may_overlap(r, route.path_format) and getattr(r, "path_regex", None) is None
            for r in earlier
        )

    async def handle(self, request: Request, values: dict[str, Any]) -> Response:
        for key, call in self.calls:
            values[key] = await call(request)
        if self.request_name:
            values[self.request_name] = request
        response: Response = await self.endpoint(**values)
        return response


class DirectRoutes:
    """The app's :func:`direct` routes, matched ahead of the router."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        every = list(walk_routes(routes))
        self.routes = [
            _DirectRoute(route, every[:i])
            for i, route in enumerate(every)
            if isinstance(route, WaycoreRoute) and getattr(route.endpoint, "waycore_direct", False)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Serve the request if it is a direct route's; False (nothing done) otherwise."""
        if scope["method"] != "GET" or scope["query_string"] or scope.get("root_path"):
            return False
        path: str = scope["path"]
        for candidate in self.routes:
            match = candidate.regex.match(path)
            if match is not None:
                break
        else:
            return False
        if candidate.unknown_shadow or any(s.match(path) for s in candidate.shadows):
            return False
        app = scope.get("app")
        if app is None or getattr(app, "dependency_overrides", None):
            return False
        params = {k: candidate.convertors[k].convert(v) for k, v in match.groupdict().items()}
        values, errors = request_params_to_args(candidate.path_fields, params)
        if errors:
            return False
        scope["path_params"] = params
        scope["endpoint"] = candidate.endpoint
        scope["route"] = candidate.route
        request = Request(scope, receive, send)
        response = await run_guarded(request, lambda r: candidate.handle(r, values))
        await response(scope, receive, send)
        return True
