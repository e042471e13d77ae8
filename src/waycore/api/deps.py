"""Request pipeline dependencies, in API.md's order of checks.

route (404/405) → authentication (401) → rate limit (429) → scope (403) → body size and
media type (413/415) → idempotency (409) → validation (422) → lookup (404) → state (409).

``require_scope`` runs authentication, rate limit and scope; a body route then declares
``json_body(Model)`` *after* the key parameter, which reads the raw body, checks size and media
type, claims the Idempotency-Key (POST) and validates. A route without a body declares
``no_body``. Unknown query parameters are collected by ``WaycoreRoute`` and reported with the
first validation step.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.api import idempotency
from waycore.api.errors import validation_items
from waycore.domain.api_keys import service as keys
from waycore.domain.api_keys.models import ApiKey
from waycore.domain.api_keys.scopes import effective
from waycore.domain.audit.service import Actor, current_actor
from waycore.domain.partition import Partition
from waycore.errors import (
    AuthenticationRequired,
    InsufficientScope,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UnsupportedMediaType,
    ValidationFailed,
    WaycoreError,
)

MAX_BODY_BYTES = 1_048_576
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
KEY_CACHE_TTL_S = 1.0  # API.md section 5: a revoked key is refused within a second
KEY_REFRESH_AFTER_S = 0.5

M = TypeVar("M", bound=BaseModel)


async def get_session(request: Request) -> Any:
    state = request.app.state
    factory = state.read_sessionmaker if request.method in ("GET", "HEAD") else state.sessionmaker
    async with factory() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(get_session)]
Verifier = Callable[[str], Awaitable[ApiKey]]


class KeyCache:
    """Verified keys, trusted for at most ``KEY_CACHE_TTL_S`` from the moment their
    verification started (so a key revoked through another process is refused within a
    second); revocation through this process evicts at once (``evict``).

    One verification per token at a time: requests that miss while one runs wait for it
    rather than each querying. A hit older than ``KEY_REFRESH_AFTER_S`` starts one
    re-verification in the background and is used meanwhile, so a busy key's entry is
    renewed before it expires instead of every request in flight re-verifying at expiry.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, ApiKey]] = {}
        self._pending: dict[str, asyncio.Task[ApiKey]] = {}
        self._generation = 0  # bumped by evict: verifications started before it are not kept

    def get(self, token: str) -> ApiKey | None:
        hit = self._entries.get(token)
        if hit is None or time.monotonic() - hit[0] > KEY_CACHE_TTL_S:
            return None
        return hit[1]

    def put(self, token: str, api_key: ApiKey, verified_at: float | None = None) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[token] = (time.monotonic() if verified_at is None else verified_at, api_key)

    def evict(self, key_id: str) -> None:
        self._generation += 1
        self._pending.clear()  # requests from now on start a verification of their own
        for token, (_, api_key) in list(self._entries.items()):
            if api_key.id == key_id:
                del self._entries[token]

    async def key_for(self, token: str, verify: Verifier) -> ApiKey:
        """The active key for ``token``: cached, else verified (``verify`` raises the 401)."""
        hit = self._entries.get(token)
        if hit is not None:
            age = time.monotonic() - hit[0]
            if age <= KEY_CACHE_TTL_S and keys.key_status(hit[1]) == "active":
                if age > KEY_REFRESH_AFTER_S and token not in self._pending:
                    self._verify(token, verify)
                return hit[1]
        task = self._pending.get(token) or self._verify(token, verify)
        # shielded: a request that goes away does not cancel the others' verification
        return await asyncio.shield(task)

    def _verify(
        self, token: str, verify: Callable[[str], Awaitable[ApiKey]]
    ) -> asyncio.Task[ApiKey]:
        generation = self._generation
        started = time.monotonic()

        async def run() -> ApiKey:
            try:
                api_key = await verify(token)
            except WaycoreError:  # revoked, expired: no longer trusted, even for a second
                if self._generation == generation:
                    self._entries.pop(token, None)
                raise
            finally:
                if self._pending.get(token) is task:
                    del self._pending[token]
            if self._generation == generation:
                self.put(token, api_key, started)
            return api_key

        task = asyncio.get_running_loop().create_task(run())
        task.add_done_callback(_consume_error)
        self._pending[token] = task
        return task


def _consume_error(task: asyncio.Task[ApiKey]) -> None:
    """A background re-verification's error has no waiter; the next request sees it."""
    if not task.cancelled():
        task.exception()


async def authenticate(request: Request) -> ApiKey:
    header = request.headers.get("authorization")
    if not header:
        raise AuthenticationRequired()
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationRequired()
    token = token.strip()
    state = request.app.state

    async def verify(presented: str) -> ApiKey:
        async with state.read_sessionmaker() as session:
            api_key = await keys.verify(session, presented)
            await keys.touch_last_used(session, api_key)
        return api_key

    api_key = await state.key_cache.key_for(token, verify)
    request.state.key_id = api_key.id
    request.scope["state"]["key_id"] = api_key.id
    current_actor.set(
        Actor(
            name=f"key:{api_key.id}",
            request_id=request.headers.get("x-request-id"),
            remote_addr=request.client.host if request.client else None,
        )
    )
    limiter = state.limiter
    if limiter is not None:
        decision = await limiter.take(api_key.id, api_key.environment)
        request.scope["state"]["rate_limit_headers"] = decision.headers()
        if not decision.allowed:
            exc = RateLimited()
            exc.headers = {"Retry-After": str(decision.retry_after_s)}
            raise exc
    return api_key


def require_scope(*scopes: str) -> Callable[..., Awaitable[ApiKey]]:
    required = frozenset(scopes)

    # One dependency (authentication called, not declared): FastAPI solves one level, not two.
    async def dependency(request: Request) -> ApiKey:
        api_key = await authenticate(request)
        missing = sorted(required - effective(api_key.scopes))
        if missing:
            raise InsufficientScope(missing_scopes=missing)
        request.state.api_key_checked = api_key
        if any(CONTROL.search(str(v)) for v in request.path_params.values()):
            raise NotFound()  # no id holds a control character (nor can PostgreSQL store one)
        if not getattr(request.scope.get("route"), "reads_body", False):
            errors = _query_errors(request)
            if errors:
                raise ValidationFailed(errors)
        return api_key

    return dependency


def partition_of(api_key: ApiKey) -> Partition:
    return keys.partition_of(api_key)


async def _read_body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise PayloadTooLarge(max_bytes=MAX_BODY_BYTES)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(max_bytes=MAX_BODY_BYTES)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if raw.strip():
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise UnsupportedMediaType()
    return raw


async def _claim_idempotency(request: Request, api_key: ApiKey, raw: bytes) -> None:
    if request.method != "POST":
        return
    header = request.headers.get("idempotency-key")
    if header is None:
        return
    key = idempotency.check_header(header)
    print_ = idempotency.fingerprint(request.method, request.url.path, raw)
    reservation = await idempotency.reserve(
        request.app.state.engine, keys.partition_of(api_key), key, print_
    )
    request.state.idempotency = reservation


def _parse_json(raw: bytes) -> tuple[Any, list[dict[str, str]]]:
    if not raw.strip():
        return {}, []
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, [{"field": "", "message": "malformed JSON"}]
    if not isinstance(value, dict):
        return None, [{"field": "", "message": "the body must be a JSON object"}]
    return value, []


def _query_errors(request: Request) -> list[dict[str, str]]:
    if not request.scope["query_string"]:
        return []
    state = request.scope["state"]
    unknown = state.get("unknown_query") or []
    control = state.get("control_query") or []
    return [{"field": f"query.{n}", "message": "unknown query parameter"} for n in unknown] + [
        {"field": f"query.{n}", "message": "must not contain control characters"} for n in control
    ]


def json_body(model: type[M]) -> Callable[..., Awaitable[M]]:
    """Parse the body into ``model`` after authentication, scope, size, type and idempotency."""

    async def dependency(request: Request) -> M:
        api_key: ApiKey | None = getattr(request.state, "api_key_checked", None)
        raw = await _read_body(request)
        if api_key is not None:
            await _claim_idempotency(request, api_key, raw)
        value, errors = _parse_json(raw)
        errors = _query_errors(request) + errors
        if value is not None:
            try:
                parsed = model.model_validate(value)
            except ValidationError as exc:
                errors += validation_items(list(exc.errors()))
            else:
                if not errors:
                    return parsed
        raise ValidationFailed(errors)

    dependency.body_model = model  # type: ignore[attr-defined]
    dependency.reads_body = True  # type: ignore[attr-defined]
    return dependency


async def no_body(request: Request) -> None:
    """Endpoints without a body accept an empty body or ``{}`` (a POST still claims its
    Idempotency-Key)."""
    api_key: ApiKey | None = getattr(request.state, "api_key_checked", None)
    raw = await _read_body(request)
    if api_key is not None:
        await _claim_idempotency(request, api_key, raw)
    value, errors = _parse_json(raw)
    if not errors and value:
        errors = [{"field": name, "message": "unknown field"} for name in value]
    errors = _query_errors(request) + errors
    if errors:
        raise ValidationFailed(errors)


no_body.reads_body = True  # type: ignore[attr-defined]


class PageParams:
    """``limit`` (1-500, default 100) and ``cursor`` of every list."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=500, description="Items per page, 1-500.")] = 100,
        cursor: Annotated[
            str | None, Query(max_length=2048, description="A previous pagination.nextCursor.")
        ] = None,
    ) -> None:
        self.limit = limit
        self.cursor = cursor
