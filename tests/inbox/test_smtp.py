"""The SMTP server over loopback: inbox-domain recipients only, MIME decoding, matching."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.inbox.conftest import INBOX_DOMAIN, MakeConnection, messages_to
from waycore.db import make_sessionmaker
from waycore.inbox.smtp import InboxHandler, decode_email, html_to_text, start_server
from waycore.inbox.store import InboxKey
from waycore.inbox.wait import latest_code, latest_temporary_password
from waycore.vault.keyring import Keyring

SENDER = "no-reply@bank.example"


@pytest.fixture
async def smtp_port(db: AsyncEngine, inbox_key: InboxKey) -> AsyncIterator[int]:
    handler = InboxHandler(make_sessionmaker(db), inbox_key, INBOX_DOMAIN)
    server = await start_server(handler, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def _send(port: int, message: bytes | str, to: list[str]) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.sendmail(SENDER, to, message)


async def send(port: int, message: bytes | str, *to: str) -> dict[str, tuple[int, bytes]]:
    return await asyncio.wait_for(asyncio.to_thread(_send, port, message, list(to)), 15)


def _plain(to: str, subject: str, body: str) -> str:
    msg = EmailMessage()
    msg["From"] = f"Example Bank <{SENDER}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg.as_string()


async def test_mail_is_stored_matched_and_its_code_extracted(
    smtp_port: int, make_connection: MakeConnection, db: AsyncEngine, keyring: Keyring
) -> None:
    conn = await make_connection()
    body = "Your Sandbox Bank verification code is 482913. It expires in 5 minutes.\n"
    refused = await send(smtp_port, _plain(conn.email, "Your verification code", body), conn.email)
    assert refused == {}
    [row] = await messages_to(db, conn.email)
    assert row["channel"] == "email"
    assert row["connection_id"] == conn.id
    assert row["from_address"] == f"Example Bank <{SENDER}>"
    assert row["code_sealed"] is not None and b"482913" not in row["code_sealed"]
    assert b"482913" not in row["body_sealed"]
    assert await latest_code(db, conn.id, since=conn.created_at, keyring=keyring) == "482913"


async def test_temporary_password_mail(
    smtp_port: int, make_connection: MakeConnection, db: AsyncEngine, keyring: Keyring
) -> None:
    conn = await make_connection()
    body = (
        "Hello Waycore,\n\nAn administrator created your Sandbox Bank login.\n\n"
        "Username: waycoreabc\nYour temporary password is: Kp7mW2xQa9Rt\n\n"
    )
    await send(smtp_port, _plain(conn.email, "Your Sandbox Bank access", body), conn.email)
    found = await latest_temporary_password(db, conn.id, since=conn.created_at, keyring=keyring)
    assert found == "Kp7mW2xQa9Rt"
    assert await latest_code(db, conn.id, since=conn.created_at, keyring=keyring) is None


async def test_recipient_outside_the_inbox_domain_is_refused(
    smtp_port: int, db: AsyncEngine
) -> None:
    outsider = "someone@elsewhere.example"
    lookalike = f"someone@evil{INBOX_DOMAIN}"
    sub = f"someone@sub.{INBOX_DOMAIN}"
    for address in (outsider, lookalike, sub):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            await send(smtp_port, _plain(address, "Hi", "code 123456"), address)
        assert info.value.recipients[address][0] == 550
        assert await messages_to(db, address) == []


async def test_mixed_recipients_only_inbox_ones_are_accepted(
    smtp_port: int, make_connection: MakeConnection, db: AsyncEngine
) -> None:
    conn = await make_connection()
    outsider = "x@elsewhere.example"
    refused = await send(smtp_port, _plain(conn.email, "Hi", "hello"), conn.email, outsider)
    assert set(refused) == {outsider}
    assert refused[outsider][0] == 550
    assert len(await messages_to(db, conn.email)) == 1


async def test_address_case_does_not_matter_and_unknown_addresses_stay_unmatched(
    smtp_port: int, make_connection: MakeConnection, db: AsyncEngine
) -> None:
    conn = await make_connection()
    shouted = conn.email.upper()
    await send(smtp_port, _plain(shouted, "Hi", "Your code is 111222"), shouted)
    [row] = await messages_to(db, conn.email)
    assert row["connection_id"] == conn.id

    unknown = f"nobody.{conn.id}@{INBOX_DOMAIN}"
    await send(smtp_port, _plain(unknown, "Hi", "Your code is 111222"), unknown)
    [row] = await messages_to(db, unknown)
    assert row["connection_id"] is None


async def test_revoked_connection_is_not_matched(
    smtp_port: int, make_connection: MakeConnection, db: AsyncEngine
) -> None:
    conn = await make_connection(status="revoked")
    await send(smtp_port, _plain(conn.email, "Hi", "Your code is 333444"), conn.email)
    [row] = await messages_to(db, conn.email)
    assert row["connection_id"] is None


def _mime_variants(to: str) -> dict[str, bytes]:
    qp = MIMEText(
        "Your verification code is 135792.\nCaf\u00e9 \u2014 " + "x" * 90, "plain", "utf-8"
    )
    qp.replace_header("Content-Transfer-Encoding", "quoted-printable")
    qp.set_payload(
        "Your verification code is 135792.=0ACaf=C3=A9 =E2=80=94 " + "x" * 60 + "=\n" + "x" * 30
    )
    b64 = MIMEText("Votre code de v\u00e9rification : 246801", "plain", "utf-8")  # base64
    latin = MIMEText("Ihr Best\u00e4tigungscode (code): 975310", "plain", "iso-8859-1")
    html_only = MIMEText(
        "<html><head><style>p{color:red}</style><title>Bank</title></head><body>"
        "<p>Your&nbsp;one-time passcode:</p><p><b>864200</b></p>"
        "<script>var code = 999999;</script></body></html>",
        "html",
        "utf-8",
    )
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText("Plain: your code is 112233", "plain", "utf-8"))
    alternative.attach(MIMEText("<p>HTML: your code is 445566</p>", "html", "utf-8"))
    mixed = MIMEMultipart("mixed")
    inner = MIMEMultipart("alternative")
    inner.attach(MIMEText("<p>Your OTP is <b>778899</b></p>", "html", "utf-8"))
    mixed.attach(inner)
    attachment = MIMEText("not a code 121212", "plain", "utf-8")
    attachment.add_header("Content-Disposition", "attachment", filename="note.txt")
    mixed.attach(attachment)
    variants = {
        "quoted-printable": qp,
        "base64": b64,
        "latin-1": latin,
        "html-only": html_only,
        "alternative": alternative,
        "mixed-html": mixed,
    }
    out: dict[str, bytes] = {}
    for name, message in variants.items():
        message["From"] = SENDER
        message["To"] = to
        message["Subject"] = "=?utf-8?b?VsOpcmlmaWNhdGlvbg==?="  # "Vérification"
        out[name] = message.as_bytes()
    return out


EXPECTED_CODES = {
    "quoted-printable": "135792",
    "base64": "246801",
    "latin-1": "975310",
    "html-only": "864200",
    "alternative": "112233",
    "mixed-html": "778899",
}


def test_mime_variants_decode_to_plain_text() -> None:
    variants = _mime_variants("x@inbox.test")
    assert b"Content-Transfer-Encoding: base64" in variants["base64"]
    decoded = {name: decode_email(raw) for name, raw in variants.items()}
    assert all(d.subject == "V\u00e9rification" for d in decoded.values())
    assert "Caf\u00e9 \u2014 " + "x" * 90 in decoded["quoted-printable"].body
    assert "v\u00e9rification : 246801" in decoded["base64"].body
    assert "Best\u00e4tigungscode" in decoded["latin-1"].body
    html_body = decoded["html-only"].body
    assert html_body == "Your one-time passcode:\n\n864200"
    assert "999999" not in html_body and "color" not in html_body
    assert decoded["alternative"].body.startswith("Plain:")
    assert "121212" not in decoded["mixed-html"].body


def test_html_to_text_entities_and_blocks() -> None:
    assert html_to_text("<div>A&amp;B</div><div>C&#8212;D<br>E</div>") == "A&B\n\nC\u2014D\nE"


def test_malformed_message_does_not_raise() -> None:
    decoded = decode_email(
        b"Subject: =?bogus?q?x?=\r\nContent-Type: text/plain; charset=nope\r\n\r\ncode 123456\r\n"
    )
    assert "123456" in decoded.body


async def test_mime_variants_over_smtp(
    smtp_port: int, make_connection: MakeConnection, db: AsyncEngine, keyring: Keyring
) -> None:
    for name, raw in _mime_variants("placeholder").items():
        conn = await make_connection()
        raw = raw.replace(b"placeholder", conn.email.encode())
        await send(smtp_port, raw, conn.email)
        code = await latest_code(db, conn.id, since=conn.created_at, keyring=keyring)
        assert code == EXPECTED_CODES[name], name
