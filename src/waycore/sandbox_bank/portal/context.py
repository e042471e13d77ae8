"""Who is asking: the signed-in user, the fault switches that shape the answer, DB sessions."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from waycore.sandbox_bank.models import User
from waycore.sandbox_bank.portal.render import error_page, render, see_other
from waycore.sandbox_bank.portal.sessions import WebSession, web_session
from waycore.sandbox_bank.service import users

LOGIN_EXPIRED = "/login?expired=1"


def engine(request: Request) -> AsyncEngine:
    """The bank app's engine (the read fast path, ``service.fastpath``)."""
    return request.app.state.engine  # type: ignore[no-any-return]


def db(request: Request) -> AsyncSession:
    """A new database session from the bank app's sessionmaker (``async with``)."""
    return request.app.state.sessionmaker()  # type: ignore[no-any-return]


@dataclass
class Viewer:
    """The signed-in user as the templates see it (``user`` is read-only: usually the row
    fetched with the web session, not attached to any database session)."""

    user: User
    faults: dict[str, Any]

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def kind(self) -> str:
        return self.user.role

    @property
    def display_name(self) -> str:
        return self.user.full_name

    @property
    def layout(self) -> str:
        return "v2" if self.faults.get("redesign") else "classic"

    def can(self, permission: str) -> bool:
        return self.user.role == "admin" or users.can(self.user, permission)

    @property
    def can_view_balances(self) -> bool:
        return self.can("viewBalances")

    @property
    def can_view_transactions(self) -> bool:
        return self.can("viewTransactions")

    @property
    def can_download(self) -> bool:
        return self.can("downloadStatements")

    @property
    def can_initiate(self) -> bool:
        return self.can("initiatePayments")

    @property
    def can_approve(self) -> bool:
        return self.can("approvePayments")


def logged_out(request: Request, *, json: bool, expired: bool = True) -> Response:
    """The answer to a request without a (live) session."""
    url = LOGIN_EXPIRED if expired else "/login"
    if json:
        body = {
            "error": {"code": "session_expired", "message": "Your session has ended."},
            "login": url,
        }
        return JSONResponse(body, status_code=401, headers={"Cache-Control": "no-store"})
    return see_other(url)


async def apply_slow(faults: dict[str, Any]) -> None:
    ms = int(faults.get("slowMs") or 0)
    if ms > 0:
        await asyncio.sleep(ms / 1000)


def maintenance_page(request: Request) -> Response:
    return render(request, "maintenance.html", status=503, title="Maintenance")


def locked_page(request: Request) -> Response:
    return error_page(
        request,
        403,
        "Access locked",
        "Your access to online banking is locked. Please contact your company administrator.",
        code="account_locked",
        back_url="/login",
        back_label="Back to log-in",
    )


async def signed_in(
    request: Request, *, json: bool = False, admin: bool = False, counts_page: bool = True
) -> Viewer | Response:
    """The viewer, or the response that replaces the page (log-in, error, maintenance)."""
    ws = web_session(request)
    if not ws.logged_in or ws.username is None:
        return logged_out(request, json=json, expired=ws.expired or ws.id is not None)
    prefetched, user = ws.prefetched_user(ws.username)
    if not prefetched:
        async with db(request) as session:
            user = await users.get_user(session, ws.username)
    if user is None:
        ws.end()
        return logged_out(request, json=json)
    faults = users.faults_of(user)
    if (user.role == "admin") != admin:
        return see_other("/admin/users" if user.role == "admin" else "/accounts")
    if faults["maintenance"]:
        ws.end()
        return maintenance_page(request)
    if faults["locked"] or user.status == "locked":
        ws.end()
        return locked_page(request)
    await apply_slow(faults)
    if counts_page and _session_expires(ws, faults):
        ws.end()
        return logged_out(request, json=json)
    rate = float(faults.get("errorRate") or 0)
    if rate > 0 and random.random() < rate:
        if json:
            return JSONResponse(
                {"error": {"code": "internal_error", "message": "Temporary failure."}},
                status_code=500,
            )
        return error_page(
            request,
            500,
            "Something went wrong",
            "We could not complete your request. Please try again later.",
            code="internal_error",
        )
    return Viewer(user, faults)


def _session_expires(ws: WebSession, faults: dict[str, Any]) -> bool:
    limit = faults.get("sessionExpiryAfterPages")
    if not limit:
        return False
    pages = int(ws.data.get("pages", 0)) + 1
    ws.set("pages", pages)
    return pages > int(limit)


def page(request: Request, template: str, viewer: Viewer, **context: Any) -> Response:
    context.setdefault("layout", viewer.layout)
    return render(request, template, user=viewer, **context)
