"""Pure ASGI middleware of the portal: error pages and a request size limit.

Only portal paths are touched; the control API under ``/_sandbox/`` keeps its JSON errors.
"""

from __future__ import annotations

import secrets

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waycore.sandbox_bank.portal.forms import FormRefused
from waycore.sandbox_bank.portal.render import error_page

log = structlog.get_logger(__name__)

MAX_BODY = 64 * 1024


def _is_portal(scope: Scope) -> bool:
    return scope["type"] == "http" and not scope.get("path", "").startswith("/_sandbox")


class PortalErrorMiddleware:
    """Turns exceptions and Starlette's plain-text 404/405 into the bank's error page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_portal(scope):
            await self.app(scope, receive, send)
            return
        started = False
        replaced: int | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal started, replaced
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                plain = headers.get(b"content-type", b"").startswith(b"text/plain")
                if status in (404, 405) and plain:
                    replaced = status
                    return
                started = True
            elif replaced is not None:
                if not message.get("more_body", False):
                    await _send_page(send, replaced)
                return
            await send(message)

        try:
            await self.app(scope, _limited(receive, scope), send_wrapper)
        except (_TooLarge, FormRefused):
            if not started:
                await _send_page(send, 413)
        except Exception:
            reference = secrets.token_hex(4).upper()
            log.exception("portal_error", path=scope.get("path"), reference=reference)
            if not started:
                await _send_page(send, 500, reference)


class _TooLarge(Exception):
    pass


def _limited(receive: Receive, scope: Scope) -> Receive:
    for key, value in scope.get("headers", []):
        if key == b"content-length" and value.isdigit() and int(value) > MAX_BODY:

            async def refuse() -> Message:
                raise _TooLarge

            return refuse
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise _TooLarge
        return message

    return counted


_PAGES = {
    404: ("Page not found", "The page you asked for does not exist.", "not_found"),
    405: ("Not allowed", "This page cannot be used that way.", "method_not_allowed"),
    413: ("Request too large", "The form you sent is larger than the bank accepts.", "too_large"),
    500: (
        "Something went wrong",
        "We could not complete your request. Please try again later.",
        "internal_error",
    ),
}


async def _send_page(send: Send, status: int, reference: str | None = None) -> None:
    heading, message, code = _PAGES[status]
    response = error_page(None, status, heading, message, code=code, reference=reference)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})
