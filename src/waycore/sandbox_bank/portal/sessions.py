"""Server-side web sessions: a random cookie names a row of ``sandbox_bank.web_sessions``.

The row holds the session's JSON data (login stage, user, pending one-time code, one-time form
tokens, page counter), its CSRF token and ``last_seen_at``. A session idle for more than
``IDLE_TIMEOUT`` is gone: the next request sees an anonymous visitor with ``expired`` set.
Sessions are loaded by :class:`SessionMiddleware` before the handler runs and written back
(only when changed, or to refresh ``last_seen_at``) before the response starts.

Round trips: the load is one statement that also fetches the session's user (whose row holds
the fault switches), outside any transaction; :func:`signed_in` uses that user instead of
asking again. A request that changes nothing writes nothing, except that ``last_seen_at`` is
refreshed once it is more than ``TOUCH_EVERY`` old, so the idle timeout holds to within
``TOUCH_EVERY`` (a session may end up to that much before 15 minutes after its last request).
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waycore.sandbox_bank.models import User
from waycore.sandbox_bank.service import fastpath

SESSION_COOKIE = "sb_session"
IDLE_TIMEOUT = timedelta(minutes=15)
TOUCH_EVERY = timedelta(seconds=20)
SCOPE_KEY = "sandbox_bank.web_session"

_INSERT = text(
    "insert into sandbox_bank.web_sessions (id, data, csrf_token, username, created_at, "
    "last_seen_at) values (:id, cast(:data as jsonb), :csrf, :username, :now, :now)"
)
_UPDATE = text(
    "update sandbox_bank.web_sessions set data = cast(:data as jsonb), username = :username, "
    "last_seen_at = :now where id = :id"
)
_TOUCH = text("update sandbox_bank.web_sessions set last_seen_at = :now where id = :id")
_DELETE = text("delete from sandbox_bank.web_sessions where id = :id")
_DELETE_IDLE = text("delete from sandbox_bank.web_sessions where last_seen_at < :cutoff")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class WebSession:
    """One browser's session. ``id`` is None until something needs storing."""

    id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    csrf_token: str = ""
    username: str | None = None
    last_seen_at: datetime | None = None
    expired: bool = False
    dirty: bool = False
    discarded: list[str] = field(default_factory=list)
    # The user row fetched with the session (``loaded_user_for`` names whose it is).
    loaded_user: User | None = None
    loaded_user_for: str | None = None

    def prefetched_user(self, username: str) -> tuple[bool, User | None]:
        """``(True, user or None)`` when the load fetched ``username``'s row, else
        ``(False, None)`` (the session changed hands since: ask the database)."""
        if self.loaded_user_for is not None and self.loaded_user_for == username:
            return True, self.loaded_user
        return False, None

    @property
    def stage(self) -> str | None:
        """``None`` (anonymous), ``change_password``, ``contact``, ``totp_enrol``, ``code``,
        ``hardware`` or ``in`` (fully logged in)."""
        value = self.data.get("stage")
        return str(value) if value is not None else None

    @property
    def logged_in(self) -> bool:
        return self.stage == "in" and self.username is not None

    def ensure(self) -> None:
        """Give the session an id and CSRF token (stored at the end of the request)."""
        if self.id is None:
            self.id = secrets.token_urlsafe(32)
            self.csrf_token = secrets.token_urlsafe(32)
            self.dirty = True

    def set(self, key: str, value: Any) -> None:
        self.ensure()
        self.data[key] = value
        self.dirty = True

    def pop(self, key: str, default: Any = None) -> Any:
        if key in self.data:
            self.dirty = True
            return self.data.pop(key)
        return default

    def renew(self, username: str | None, data: dict[str, Any]) -> None:
        """A new id and CSRF token (login, logout): the old row is deleted."""
        if self.id is not None:
            self.discarded.append(self.id)
        self.id = None
        self.ensure()
        self.username = username
        self.data = data

    def end(self) -> None:
        """Log out: forget everything; the row is deleted."""
        if self.id is not None:
            self.discarded.append(self.id)
        self.id = None
        self.data = {}
        self.username = None
        self.csrf_token = ""
        self.dirty = False

    def csrf_ok(self, submitted: object) -> bool:
        if self.id is None or not self.csrf_token or not isinstance(submitted, str):
            return False
        return hmac.compare_digest(self.csrf_token.encode(), submitted.encode())

    def issue_form_token(self) -> str:
        """A one-time token for a form that must not be acted on twice (payments)."""
        token = secrets.token_urlsafe(18)
        tokens = list(self.data.get("form_tokens", []))[-19:]
        tokens.append(token)
        self.set("form_tokens", tokens)
        return token

    def spend_form_token(self, token: object) -> bool:
        tokens = list(self.data.get("form_tokens", []))
        if not isinstance(token, str) or token not in tokens:
            return False
        tokens.remove(token)
        self.set("form_tokens", tokens)
        return True


def web_session(request: Request) -> WebSession:
    ws = request.scope.get(SCOPE_KEY)
    if ws is None:
        ws = WebSession()
        request.scope[SCOPE_KEY] = ws
    return ws  # type: ignore[no-any-return]


async def load(engine: AsyncEngine, session_id: str | None) -> WebSession:
    """The session named by the cookie, with its user, in one statement."""
    if not session_id or len(session_id) > 100:
        return WebSession()
    found = await fastpath.session_with_user(engine, session_id)
    if found is None:
        return WebSession(expired=True)
    now = utcnow()
    if now - found.last_seen_at > IDLE_TIMEOUT:
        await fastpath.delete_session(engine, session_id)
        return WebSession(expired=True)
    return WebSession(
        id=session_id,
        data=found.data,
        csrf_token=found.csrf_token,
        username=found.username,
        last_seen_at=found.last_seen_at,
        loaded_user=found.user,
        loaded_user_for=found.username,
    )


async def save(engine: AsyncEngine, ws: WebSession, *, existed: bool) -> None:
    """Write what changed: nothing, a ``last_seen_at`` refresh (one statement), or the
    discarded rows and the new or updated row (one transaction)."""
    now = utcnow()
    stale = ws.last_seen_at is None or now - ws.last_seen_at > TOUCH_EVERY
    if not ws.discarded:
        if ws.id is None:
            return
        if not ws.dirty:
            if stale:
                await fastpath.touch_session(engine, ws.id, now)
                ws.last_seen_at = now
            return
    async with engine.begin() as conn:
        for old in ws.discarded:
            await conn.execute(_DELETE, {"id": old})
        if ws.id is None:
            return
        payload = json.dumps(ws.data, separators=(",", ":"))
        if ws.dirty and not existed:
            await conn.execute(
                _INSERT,
                {
                    "id": ws.id,
                    "data": payload,
                    "csrf": ws.csrf_token,
                    "username": ws.username,
                    "now": now,
                },
            )
        elif ws.dirty:
            await conn.execute(
                _UPDATE, {"id": ws.id, "data": payload, "username": ws.username, "now": now}
            )
        elif stale:
            await conn.execute(_TOUCH, {"id": ws.id, "now": now})


async def delete_idle(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(_DELETE_IDLE, {"cutoff": utcnow() - IDLE_TIMEOUT})


def _cookie_value(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v
    return None


class SessionMiddleware:
    """Loads the web session for portal paths and stores it before the response starts."""

    def __init__(self, app: ASGIApp, engine_of: Any) -> None:
        self.app = app
        self.engine_of = engine_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(("/_sandbox", "/static/")):
            await self.app(scope, receive, send)
            return
        engine: AsyncEngine = self.engine_of(scope)
        original_id = _cookie_value(scope, SESSION_COOKIE)
        ws = await load(engine, original_id)
        scope[SCOPE_KEY] = ws
        existed = ws.id is not None

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                await save(engine, ws, existed=existed and ws.id == original_id)
                headers = list(message.get("headers", []))
                if ws.id is not None and ws.id != original_id:
                    headers.append((b"set-cookie", _set_cookie(ws.id)))
                elif ws.id is None and original_id:
                    headers.append((b"set-cookie", _clear_cookie()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _set_cookie(value: str) -> bytes:
    return f"{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax".encode("latin-1")


def _clear_cookie() -> bytes:
    return f"{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0".encode("latin-1")
