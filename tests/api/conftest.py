"""API fixtures: the real app on the shared test database, driven through httpx.

Every test makes its own organization (random name), so tests never see each other's rows.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from waycore.api.app import create_app
from waycore.config import Settings
from waycore.domain.api_keys import service as keys
from waycore.domain.api_keys.scopes import ALL_SCOPES


def test_settings(tmp_path_factory: pytest.TempPathFactory, **overrides: object) -> Settings:
    state = Path(tmp_path_factory.mktemp("state"))
    values: dict[str, object] = {
        # one master key for every app of the run: they share the database's wrapped secrets
        "master_key_file": tmp_path_factory.getbasetemp() / "master.key",
        "state_dir": state,
        "rate_limit": "off",
        "inbox_sms_secret": "sms-secret-for-tests",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return test_settings(tmp_path_factory)


@pytest.fixture(scope="session")
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass(frozen=True)
class TestKey:
    __test__ = False  # not a test class

    key: str
    key_id: str
    org: str
    org_id: UUID
    environment: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


MakeKey = Callable[..., Awaitable[TestKey]]


@pytest.fixture
def make_key(app: FastAPI) -> MakeKey:
    """Mint a key: ``await make_key(environment="test", org=None, scopes=None)``."""

    async def factory(
        environment: str = "test", org: str | None = None, scopes: list[str] | None = None
    ) -> TestKey:
        org_name = org or f"org-{secrets.token_hex(6)}"
        async with app.state.sessionmaker() as session:
            minted = await keys.create_key_for_org(
                session,
                org=org_name,
                environment=environment,
                name="test",
                scopes=scopes or list(ALL_SCOPES),
                expires_in_days=30,
            )
        return TestKey(
            key=minted.key,
            key_id=minted.api_key.id,
            org=org_name,
            org_id=minted.api_key.org_id,
            environment=environment,
        )

    return factory


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    """The documented error body with this status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "meta"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert body["meta"]["requestId"] == response.headers["x-request-id"]
    return body


@pytest.fixture
async def clone_database(app: FastAPI, engine: object, make_database: Callable[[], str]) -> object:
    """``make_database`` for the API tests: cloning ends every connection to the template, so
    the in-process app's pool is emptied afterwards (its next request opens a fresh one)."""

    async def factory() -> str:
        url = make_database()
        await app.state.engine.dispose()
        await engine.dispose()  # type: ignore[attr-defined]
        return url

    return factory
