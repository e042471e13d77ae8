"""The inbound SMTP server (aiosmtpd) for the inbox domain.

Only recipients ``<anything>@<WAYCORE_INBOX_DOMAIN>`` are accepted (others: 550 at RCPT);
each accepted message is decoded to plain text (quoted-printable, base64, any charset,
HTML-only bodies) and stored once per inbox recipient. A storage failure answers 451 so the
sender retries. The server runs on the caller's event loop (``start_server``), so it shares
the process's database engine; ``run`` is the ``waycore inbox`` process, which also deletes
expired messages every hour.

aiosmtpd logs message lines at DEBUG on ``mail.log``; that logger is held at WARNING here so
that codes and passwords never reach a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import html
import logging
import re
import signal
from dataclasses import dataclass
from email.message import EmailMessage, Message
from html.parser import HTMLParser
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from waycore.db import make_engine, make_sessionmaker
from waycore.inbox.store import InboxKey, delete_expired, load_inbox_key, store_message
from waycore.vault.keyring import Keyring

log = structlog.get_logger(__name__)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
CLEANUP_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class DecodedEmail:
    from_address: str
    subject: str
    body: str


def decode_email(raw: bytes) -> DecodedEmail:
    """Headers and a plain-text body: text/plain preferred, else HTML turned into text."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    subject = _header(message, "subject")
    sender = _header(message, "from")
    body = ""
    part: Message | None = None
    if isinstance(message, EmailMessage):
        with contextlib.suppress(Exception):
            part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        part = next(
            (p for p in message.walk() if p.get_content_maintype() == "text"),
            None,
        )
    if part is not None:
        body = _text_of(part)
    return DecodedEmail(from_address=sender, subject=subject, body=body)


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a malformed header must not lose the message
        return ""
    return re.sub(r"\s+", " ", str(value or "")).strip()


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        content = payload.decode(charset, errors="replace")
    except LookupError:  # unknown charset name
        content = payload.decode("utf-8", errors="replace")
    if part.get_content_subtype() == "html":
        return html_to_text(content)
    return content.replace("\r\n", "\n")


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset(
        {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "td"}
    )
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = html.unescape("".join(parser.parts)).replace("\xa0", " ")
    lines = (re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class InboxHandler:
    """aiosmtpd handler: inbox-domain recipients only; stores on DATA."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], key: InboxKey, domain: str
    ) -> None:
        self.sessionmaker = sessionmaker
        self.key = key
        self.domain = domain.strip().lower().lstrip("@")

    def accepts(self, address: str) -> bool:
        local, at, domain = address.strip().strip("<>").rpartition("@")
        return bool(at and local) and domain.lower() == self.domain

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self.accepts(address):
            return "550 5.7.1 Relaying denied: not an inbox address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if not raw and isinstance(envelope.content, bytes):
            raw = envelope.content
        decoded = decode_email(raw)
        sender = decoded.from_address or str(envelope.mail_from or "")
        try:
            for recipient in envelope.rcpt_tos:
                async with self.sessionmaker() as db:
                    await store_message(
                        db,
                        self.key,
                        channel="email",
                        to_address=recipient,
                        from_address=sender,
                        subject=decoded.subject,
                        body=decoded.body,
                    )
        except Exception as exc:
            log.error("inbox_store_failed", error_type=type(exc).__name__)
            return "451 4.3.0 Temporary failure storing the message; try again later"
        return "250 Message accepted for delivery"


async def start_server(handler: InboxHandler, host: str, port: int) -> asyncio.Server:
    """Listen on ``host:port`` in the running loop (port 0: a free port)."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            hostname=handler.domain,
            timeout=60,
            loop=loop,
        )

    return await loop.create_server(factory, host=host, port=port)


async def run(
    sessionmaker: async_sessionmaker[AsyncSession],
    key: InboxKey,
    *,
    domain: str,
    host: str,
    port: int,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set (or the task is cancelled); clean up expired messages."""
    server = await start_server(InboxHandler(sessionmaker, key, domain), host, port)
    bound: Any = server.sockets[0].getsockname() if server.sockets else (host, port)
    log.info("inbox_listening", host=bound[0], port=bound[1], domain=domain)
    stop = stop or asyncio.Event()
    try:
        while not stop.is_set():
            try:
                async with sessionmaker() as db:
                    await delete_expired(db)
            except Exception as exc:
                log.error("inbox_cleanup_failed", error_type=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CLEANUP_INTERVAL_S)
    finally:
        server.close()
        await server.wait_closed()


async def serve(database_url: str, keyring: Keyring, *, domain: str, host: str, port: int) -> None:
    """The ``waycore inbox`` process: serve until SIGINT or SIGTERM."""
    engine = make_engine(database_url, pool_size=5, max_overflow=5)
    try:
        key = await load_inbox_key(engine, keyring)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run(make_sessionmaker(engine), key, domain=domain, host=host, port=port, stop=stop)
    finally:
        await engine.dispose()
