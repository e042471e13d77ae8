"""Codes, temporary passwords and the SMS token never reach a log line."""

from __future__ import annotations

import logging

import httpx
import pytest
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.inbox.conftest import INBOX_DOMAIN, SMS_SECRET, MakeConnection
from tests.inbox.test_smtp import _plain, send
from waycore.db import make_sessionmaker
from waycore.inbox.smtp import InboxHandler, start_server
from waycore.inbox.store import InboxKey
from waycore.inbox.wait import latest_temporary_password, wait_for_code
from waycore.vault.keyring import Keyring

CODE_MAIL = "864213"
CODE_SMS = "731952"
PASSWORD = "Tq7Vn3Kx9Wz2"


async def test_secrets_never_logged(
    db: AsyncEngine,
    inbox_key: InboxKey,
    keyring: Keyring,
    client: httpx.AsyncClient,
    make_connection: MakeConnection,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    conn = await make_connection()
    with structlog.testing.capture_logs() as events:
        server = await start_server(
            InboxHandler(make_sessionmaker(db), inbox_key, INBOX_DOMAIN), "127.0.0.1", 0
        )
        try:
            port = server.sockets[0].getsockname()[1]
            body = f"Your temporary password is: {PASSWORD}\nYour verification code is {CODE_MAIL}."
            await send(port, _plain(conn.email, f"Code {CODE_MAIL}", body), conn.email)
        finally:
            server.close()
            await server.wait_closed()
        since = conn.created_at
        assert await wait_for_code(db, conn.id, since=since, timeout_s=2, keyring=keyring) == (
            CODE_MAIL
        )
        response = await client.post(
            f"/inbox/sms?token={SMS_SECRET}",
            data={"To": conn.phone_number, "From": "+15005550006", "Body": f"code {CODE_SMS}"},
        )
        assert response.status_code == 204
        await client.post(
            "/inbox/sms?token=wrong-" + SMS_SECRET,
            data={"To": conn.phone_number, "From": "+1", "Body": f"code {CODE_SMS}"},
        )
        assert await wait_for_code(db, conn.id, since=since, timeout_s=2, keyring=keyring) == (
            CODE_SMS
        )
        found = await latest_temporary_password(db, conn.id, since=since, keyring=keyring)
        assert found == PASSWORD
    captured = capsys.readouterr()
    assert any(e["event"] == "inbox_message_stored" for e in events)  # logging did happen
    # The test's own HTTP client logs the URL it calls; the server side is what is checked.
    server_records = [
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    ]
    logged = "\n".join([repr(events), *server_records, captured.out, captured.err])
    for secret in (CODE_MAIL, CODE_SMS, PASSWORD, SMS_SECRET):
        assert secret not in logged
