"""``/healthz`` and ``/readyz`` (API.md section 16): no key, no rate limit."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.api.conftest import test_settings
from tests.api.procs import free_port
from waycore.api.app import create_app


async def test_healthz(client) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "probe-1"})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"] == "probe-1"
    assert response.headers["content-type"] == "application/json"
    generated = await client.get("/healthz")
    assert re.match(r"^req_[a-z2-7]{24}$", generated.headers["x-request-id"])


async def test_readyz(client) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}
    assert re.match(r"^req_[a-z2-7]{24}$", response.headers["x-request-id"])


async def test_readyz_is_503_when_the_database_is_down(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/waycore"
    application = create_app(test_settings(tmp_path_factory, rate_limit=None), closed)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get("/readyz", headers={"X-Request-Id": "down-1"})
            assert response.status_code == 503
            assert response.json() == {"status": "unavailable", "checks": {"database": "error"}}
            assert int(response.headers["retry-after"]) >= 1
            assert response.headers["x-request-id"] == "down-1"
            health = await client.get("/healthz")
            assert health.status_code == 200 and health.json() == {"status": "ok"}
            assert "ratelimit-limit" not in health.headers
