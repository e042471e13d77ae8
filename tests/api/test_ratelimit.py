"""Per-key token buckets (API.md section 4.3), in-process and shared through Redis."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.api.conftest import MakeKey, assert_error, test_settings
from waycore.api.app import create_app

REDIS_URL = os.environ.get("WAYCORE_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def limited_client(tmp_path_factory: pytest.TempPathFactory, database_url: str, settings) -> Client:  # type: ignore[no-untyped-def]
    """An app of its own with the given rate-limit settings, and a client for it."""

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        values = {"master_key_file": settings.master_key_file, **overrides}
        application = create_app(test_settings(tmp_path_factory, **values), database_url)
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield c

    return factory


async def _until_limited(
    client: httpx.AsyncClient, headers: dict[str, str], cap: int
) -> list[httpx.Response]:
    responses = []
    for _ in range(cap):
        response = await client.get("/v1/apiKeys", headers=headers)
        responses.append(response)
        if response.status_code == 429:
            break
    return responses


async def test_test_key_defaults(limited_client: Client, make_key: MakeKey) -> None:
    key = await make_key("test")
    async with limited_client(rate_limit=None) as client:
        first = await client.get("/v1/apiKeys", headers=key.headers)
        assert first.status_code == 200
        assert first.headers["ratelimit-limit"] == "50"
        assert first.headers["ratelimit-remaining"] == "49"
        assert first.headers["ratelimit-reset"] == "1"
        responses = await _until_limited(client, key.headers, 200)
        limited = responses[-1]
        body = assert_error(limited, 429, "rate_limited")
        assert body["error"]["details"] == {}
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["ratelimit-remaining"] == "0"
        assert limited.headers["ratelimit-limit"] == "50"
        assert 49 <= len(responses) - 1 < 120
        # health checks carry no key and are never limited
        health = await client.get("/healthz")
        assert health.status_code == 200 and "ratelimit-limit" not in health.headers


async def test_live_key_defaults_and_failed_auth_is_not_counted(
    limited_client: Client, make_key: MakeKey
) -> None:
    key = await make_key("live")
    async with limited_client(rate_limit=None) as client:
        response = await client.get("/v1/apiKeys", headers=key.headers)
        assert response.headers["ratelimit-limit"] == "200"
        assert response.headers["ratelimit-remaining"] == "199"
        unauthenticated = await client.get("/v1/apiKeys")
        assert unauthenticated.status_code == 401
        assert "ratelimit-limit" not in unauthenticated.headers


async def test_multiplier(limited_client: Client, make_key: MakeKey) -> None:
    test_key = await make_key("test")
    live_key = await make_key("live")
    async with limited_client(rate_limit="10") as client:
        response = await client.get("/v1/apiKeys", headers=test_key.headers)
        assert response.headers["ratelimit-limit"] == "500"
        assert response.headers["ratelimit-remaining"] == "499"
        response = await client.get("/v1/apiKeys", headers=live_key.headers)
        assert response.headers["ratelimit-limit"] == "2000"


async def test_denied_requests_consume_no_token(limited_client: Client, make_key: MakeKey) -> None:
    key = await make_key("test")
    # multiplier 0.04: a bucket of 2 tokens refilled at one token a second
    async with limited_client(rate_limit="0.04") as client:
        for _ in range(2):
            assert (await client.get("/v1/apiKeys", headers=key.headers)).status_code == 200
        denied = [await client.get("/v1/apiKeys", headers=key.headers) for _ in range(5)]
        for response in denied:
            assert_error(response, 429, "rate_limited")
            assert response.headers["retry-after"] == "1"
        # five denials later the next token still arrives on time
        await asyncio.sleep(1.05)
        assert (await client.get("/v1/apiKeys", headers=key.headers)).status_code == 200


async def test_off_disables_limiting_and_headers(limited_client: Client, make_key: MakeKey) -> None:
    key = await make_key("test")
    async with limited_client(rate_limit="off") as client:
        for _ in range(80):
            response = await client.get("/v1/apiKeys", headers=key.headers)
            assert response.status_code == 200
            assert not any(h in response.headers for h in RATE_HEADERS)


async def test_redis_bucket_is_shared_between_processes(
    limited_client: Client, make_key: MakeKey
) -> None:
    """Two app instances (as two API processes would) draw from one bucket in Redis."""
    key = await make_key("test")
    # multiplier 0.1: burst 5, 2.5 tokens a second
    async with (
        limited_client(rate_limit="0.1", redis_url=REDIS_URL) as first,
        limited_client(rate_limit="0.1", redis_url=REDIS_URL) as second,
    ):
        remaining = []
        for client in (first, second, first, second):
            response = await client.get("/v1/apiKeys", headers=key.headers)
            assert response.status_code == 200
            assert response.headers["ratelimit-limit"] == "5"
            remaining.append(int(response.headers["ratelimit-remaining"]))
        assert remaining[0] == 4
        assert remaining == sorted(remaining, reverse=True) and remaining[-1] <= 2
        statuses = []
        for client in (second, first, second, first):
            statuses.append((await client.get("/v1/apiKeys", headers=key.headers)).status_code)
        assert 429 in statuses
        limited = next(
            r
            for r in [await first.get("/v1/apiKeys", headers=key.headers) for _ in range(3)]
            if r.status_code == 429
        )
        assert int(limited.headers["retry-after"]) >= 1
