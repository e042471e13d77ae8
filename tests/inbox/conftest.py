"""Inbox fixtures: its own migrated database, the real app, and connection rows.

The inbox key is wrapped by the master key of the process that first creates it, so these
tests own a database (and its app secrets) instead of sharing the run's with other apps.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import create_database, drop_database
from waycore import migrate
from waycore.api.app import create_app
from waycore.config import Settings
from waycore.inbox.store import InboxKey, load_inbox_key
from waycore.vault.keyring import Keyring

INBOX_DOMAIN = "inbox.test"
SMS_SECRET = "sms-secret-for-inbox-tests"


@pytest.fixture(scope="session")
def inbox_database_url(pg_server: str) -> Iterator[str]:
    name = f"waycore_inbox_{os.getpid()}_{secrets.token_hex(3)}"
    url = create_database(pg_server, name)
    migrate.upgrade(url)
    yield url
    drop_database(pg_server, name)


@pytest.fixture(scope="session")
def inbox_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    state = Path(tmp_path_factory.mktemp("inbox-state"))
    return Settings(
        master_key_file=state / "master.key",
        state_dir=state,
        rate_limit="off",
        inbox_sms_secret=SMS_SECRET,  # type: ignore[arg-type]
        inbox_domain=INBOX_DOMAIN,
    )


@pytest.fixture(scope="session")
async def inbox_app(inbox_settings: Settings, inbox_database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(inbox_settings, inbox_database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def db(inbox_app: FastAPI) -> AsyncEngine:
    engine: AsyncEngine = inbox_app.state.engine
    return engine


@pytest.fixture
def keyring(inbox_app: FastAPI) -> Keyring:
    ring: Keyring = inbox_app.state.keyring
    return ring


@pytest.fixture
async def inbox_key(db: AsyncEngine, keyring: Keyring) -> InboxKey:
    return await load_inbox_key(db, keyring)


@pytest.fixture
async def client(inbox_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=inbox_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass(frozen=True)
class ConnectionRow:
    id: str
    email: str
    phone_number: str
    institution_id: str | None
    created_at: datetime


MakeConnection = Callable[..., Awaitable[ConnectionRow]]
_numbers = itertools.count(int.from_bytes(os.urandom(3), "big") % 1_000_000)


@pytest.fixture
def make_connection(db: AsyncEngine) -> MakeConnection:
    """A committed connection row (with its organization, entity and phone lease)."""

    async def factory(
        *, status: str = "pendingActivation", institution_id: str | None = "sandbox_bank"
    ) -> ConnectionRow:
        org_id, entity_id = uuid4(), uuid4()
        conn_id = f"conn_{secrets.token_hex(12)}"
        email = f"wc.{secrets.token_hex(5)}@{INBOX_DOMAIN}"
        phone = f"+1299{next(_numbers) % 10_000_000:07d}"
        async with db.begin() as conn:
            await conn.execute(
                text("insert into organizations (id, name) values (:id, :name)"),
                {"id": org_id, "name": f"org-{secrets.token_hex(6)}"},
            )
            await conn.execute(
                text(
                    "insert into entities (id, org_id, external_entity_id, is_default) "
                    "values (:id, :org, 'default', true)"
                ),
                {"id": entity_id, "org": org_id},
            )
            created_at = (
                await conn.execute(
                    text(
                        "insert into connections (id, org_id, environment, entity_id, "
                        "institution_id, portal_url, status, email, phone_number, "
                        "email_status, phone_status) values (:id, :org, 'test', :entity, "
                        ":inst, 'http://localhost:8100', :status, :email, :phone, "
                        "'provisioned', 'provisioned') returning created_at"
                    ),
                    {
                        "id": conn_id,
                        "org": org_id,
                        "entity": entity_id,
                        "inst": institution_id,
                        "status": status,
                        "email": email,
                        "phone": phone,
                    },
                )
            ).scalar_one()
            if status != "revoked":
                await conn.execute(
                    text("insert into phone_leases (number, connection_id) values (:n, :c)"),
                    {"n": phone, "c": conn_id},
                )
        return ConnectionRow(conn_id, email, phone, institution_id, created_at)

    return factory


async def messages_to(db: AsyncEngine, to_address: str) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            text("select * from inbox_messages where to_address = :to order by received_at, id"),
            {"to": to_address},
        )
        return [dict(row._mapping) for row in rows]
