"""POST /inbox/sms: token in constant time, form body, 204, nothing stored when refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import assert_error
from tests.inbox.conftest import SMS_SECRET, MakeConnection, messages_to
from waycore.api.app import create_app
from waycore.config import Settings
from waycore.inbox.wait import latest_code
from waycore.vault.keyring import Keyring

BANK = "+15005550006"


def sms(
    to: str, body: str = "Sandbox Bank: your verification code is 902341. It expires in 5 minutes."
) -> dict[str, str]:
    return {"To": to, "From": BANK, "Body": body}


async def test_sms_is_stored_and_matched(
    client: httpx.AsyncClient, make_connection: MakeConnection, db: AsyncEngine, keyring: Keyring
) -> None:
    conn = await make_connection()
    response = await client.post(f"/inbox/sms?token={SMS_SECRET}", data=sms(conn.phone_number))
    assert response.status_code == 204, response.text
    assert response.content == b""
    [row] = await messages_to(db, conn.phone_number)
    assert (row["channel"], row["connection_id"], row["from_address"]) == ("sms", conn.id, BANK)
    assert row["subject_sealed"] is None
    assert await latest_code(db, conn.id, since=conn.created_at, keyring=keyring) == "902341"


async def test_formatted_number_is_normalized(
    client: httpx.AsyncClient, make_connection: MakeConnection, db: AsyncEngine
) -> None:
    conn = await make_connection()
    n = conn.phone_number  # +1AAAXXXXXXX
    spaced = f"+1 ({n[2:5]}) {n[5:8]}-{n[8:]}"
    response = await client.post(f"/inbox/sms?token={SMS_SECRET}", data=sms(spaced))
    assert response.status_code == 204
    [row] = await messages_to(db, conn.phone_number)
    assert row["connection_id"] == conn.id


@pytest.mark.parametrize(
    "query", ["", "?token=", "?token=wrong", f"?token={SMS_SECRET}x", f"?Token={SMS_SECRET}"]
)
async def test_missing_or_wrong_token_is_401_and_nothing_is_stored(
    client: httpx.AsyncClient, make_connection: MakeConnection, db: AsyncEngine, query: str
) -> None:
    conn = await make_connection()
    response = await client.post(f"/inbox/sms{query}", data=sms(conn.phone_number))
    assert_error(response, 401, "authentication_required")
    assert SMS_SECRET not in response.text
    assert await messages_to(db, conn.phone_number) == []


async def test_token_is_checked_before_the_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/inbox/sms?token=wrong", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 401, "authentication_required")


@pytest.fixture
async def app_without_secret(
    inbox_settings: Settings, inbox_database_url: str
) -> AsyncIterator[FastAPI]:
    settings = inbox_settings.model_copy(update={"inbox_sms_secret": None})
    application = create_app(settings, inbox_database_url)
    async with application.router.lifespan_context(application):
        yield application


async def test_unset_secret_refuses_every_call(
    app_without_secret: FastAPI, make_connection: MakeConnection, db: AsyncEngine
) -> None:
    conn = await make_connection()
    transport = httpx.ASGITransport(app=app_without_secret)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        for query in ("", "?token=", "?token=anything"):
            response = await c.post(f"/inbox/sms{query}", data=sms(conn.phone_number))
            assert_error(response, 401, "authentication_required")
    assert await messages_to(db, conn.phone_number) == []


async def test_unknown_number_is_dropped_with_204(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    response = await client.post(f"/inbox/sms?token={SMS_SECRET}", data=sms("+12995550999"))
    assert response.status_code == 204
    assert await messages_to(db, "+12995550999") == []


async def test_revoked_connection_number_is_dropped(
    client: httpx.AsyncClient, make_connection: MakeConnection, db: AsyncEngine
) -> None:
    conn = await make_connection(status="revoked")
    response = await client.post(f"/inbox/sms?token={SMS_SECRET}", data=sms(conn.phone_number))
    assert response.status_code == 204
    assert await messages_to(db, conn.phone_number) == []


async def test_missing_fields_and_wrong_media_type(client: httpx.AsyncClient) -> None:
    response = await client.post(f"/inbox/sms?token={SMS_SECRET}", data={"Body": "x"})
    body = assert_error(response, 422, "validation_error")
    fields = [e["field"] for e in body["error"]["details"]["errors"]]  # type: ignore[index]
    assert fields == ["To", "From"]
    response = await client.post(
        f"/inbox/sms?token={SMS_SECRET}", json={"To": "+12015550100", "From": BANK, "Body": "x"}
    )
    assert_error(response, 415, "unsupported_media_type")


async def test_not_in_openapi_and_no_api_key_needed(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert not any(path.startswith("/inbox") for path in spec["paths"])
    response = await client.get(f"/inbox/sms?token={SMS_SECRET}")
    assert_error(response, 405, "method_not_allowed")
