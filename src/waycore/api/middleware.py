"""Outermost ASGI middleware: request id, access log line, rate-limit headers, last-resort 500;
the direct routes (``waycore.api.direct``) are served from here."""

from __future__ import annotations

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waycore.api.context import choose_request_id, request_id_var
from waycore.api.direct import DirectRoutes
from waycore.api.errors import error_response
from waycore.errors import WaycoreError

log = structlog.get_logger("waycore.access")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, direct: DirectRoutes | None = None) -> None:
        self.app = app
        self.direct = direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                presented = value.decode("latin-1")
                break
        request_id = choose_request_id(presented)
        token = request_id_var.set(request_id)
        state = scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                for name, value in state.get("rate_limit_headers", ()):
                    headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        try:
            direct = self.direct
            if direct is None or not await direct(scope, receive, send_wrapper):
                await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            log.error("unhandled_error", error_type=type(exc).__name__, exc_info=True)
            if response_started:
                raise
            response = error_response(WaycoreError("Internal error; the request may be retried."))
            await response(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            log.info(
                "request",
                request_id=request_id,
                key_id=state.get("key_id"),
                method=scope["method"],
                route=getattr(route, "path", None),
                status=status,
                latency_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            request_id_var.reset(token)
