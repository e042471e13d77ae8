"""Templates, money formatting, redirects and the error page."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from waycore.sandbox_bank.portal.sessions import web_session

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"

env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    auto_reload=False,
    enable_async=False,
)

NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}


def money(value: Decimal | None) -> str:
    """``-1234.5`` → ``-1,234.50`` (the sign as API.md section 1 gives it)."""
    if value is None:
        return ""
    return f"{value:,.2f}"


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    ws = web_session(request)
    context.setdefault("csrf", ws.csrf_token)
    context.setdefault("user", None)
    context.setdefault("layout", "classic")
    context.setdefault("title", "Online Banking")
    body = env.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers=NO_STORE)


def see_other(url: str) -> RedirectResponse:
    """Post/redirect/get: every successful form POST answers 303."""
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


def error_page(
    request: Request | None,
    status: int,
    heading: str,
    message: str,
    *,
    code: str = "error",
    back_url: str | None = None,
    back_label: str | None = None,
    user: Any = None,
    reference: str | None = None,
) -> HTMLResponse:
    context = {
        "title": heading,
        "heading": heading,
        "message": message,
        "code": code,
        "status": status,
        "back_url": back_url,
        "back_label": back_label,
        "user": user,
        "reference": reference,
        "layout": "classic",
        "csrf": web_session(request).csrf_token if request is not None else "",
    }
    body = env.get_template("error.html").render(**context)
    return HTMLResponse(body, status_code=status, headers=NO_STORE)
