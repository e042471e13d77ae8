"""The outbox: every e-mail and SMS the bank sends, recorded, then delivered after commit.

``record_email`` / ``record_sms`` insert the message and queue it on the session. When the
session's outermost transaction commits, an ``after_commit`` hook hands the queued messages
to background delivery, but only when the session carries a ``Delivery`` in
``session.info["sandbox_delivery"]`` (the bank app's sessionmaker sets it from
``WAYCORE_SANDBOX_SMTP_URL`` / ``WAYCORE_SANDBOX_SMS_WEBHOOK_URL``). E-mail goes by SMTP,
SMS as a form POST (To, From, Body) to the webhook URL as given, query included. Delivery
never blocks the request and never raises: failures are logged.
"""

from __future__ import annotations

import asyncio
import smtplib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from waycore.sandbox_bank.models import OutboxMessage
from waycore.sandbox_bank.service._common import tx

log = structlog.get_logger(__name__)

EMAIL_FROM = "no-reply@sandbox-bank.test"
SMS_FROM = "+15555550100"
_PENDING_KEY = "sandbox_outbox_pending"
_DELIVERY_KEY = "sandbox_delivery"
_tasks: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class Delivery:
    smtp_url: str | None
    sms_webhook_url: str | None


@dataclass(frozen=True)
class _Queued:
    channel: str
    recipient: str
    sender: str
    subject: str | None
    body: str


async def record_email(session: AsyncSession, to: str, subject: str, body: str) -> OutboxMessage:
    """Record an e-mail (inside the caller's transaction) and queue it for delivery."""
    return await _record(session, _Queued("email", to, EMAIL_FROM, subject, body))


async def record_sms(session: AsyncSession, to: str, body: str) -> OutboxMessage:
    return await _record(session, _Queued("sms", to, SMS_FROM, None, body))


async def _record(session: AsyncSession, queued: _Queued) -> OutboxMessage:
    message = OutboxMessage(
        id=uuid.uuid4(),
        channel=queued.channel,
        recipient=queued.recipient,
        sender=queued.sender,
        subject=queued.subject,
        body=queued.body,
    )
    session.add(message)
    await session.flush()
    session.info.setdefault(_PENDING_KEY, []).append(queued)
    return message


async def list_outbox(session: AsyncSession, to: str | None = None) -> list[OutboxMessage]:
    """Messages newest first, optionally only those to one address or number."""
    query = select(OutboxMessage).order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
    if to is not None:
        query = query.where(OutboxMessage.recipient == to)
    async with tx(session):
        return list((await session.scalars(query.limit(1000))).all())


@event.listens_for(Session, "after_commit")
def _after_commit(sync_session: Session) -> None:
    queued: list[_Queued] = sync_session.info.pop(_PENDING_KEY, [])
    delivery: Delivery | None = sync_session.info.get(_DELIVERY_KEY)
    if not queued or delivery is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    for message in queued:
        task = loop.create_task(_deliver(delivery, message))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)


@event.listens_for(Session, "after_rollback")
def _after_rollback(sync_session: Session) -> None:
    if not sync_session.in_transaction():
        sync_session.info.pop(_PENDING_KEY, None)


async def wait_for_deliveries(timeout_s: float = 10.0) -> None:
    """Wait until the deliveries started so far have finished (tests, shutdown)."""
    if _tasks:
        await asyncio.wait(set(_tasks), timeout=timeout_s)


async def _deliver(delivery: Delivery, message: _Queued) -> None:
    try:
        if message.channel == "email" and delivery.smtp_url:
            await asyncio.to_thread(_send_smtp, delivery.smtp_url, message)
        elif message.channel == "sms" and delivery.sms_webhook_url:
            async with httpx.AsyncClient(timeout=10.0) as client:
                response = await client.post(
                    delivery.sms_webhook_url,
                    data={"To": message.recipient, "From": message.sender, "Body": message.body},
                )
                response.raise_for_status()
        else:
            return
        log.info("sandbox_message_delivered", channel=message.channel)
    except Exception as exc:  # delivery failures are logged, never raised
        log.warning(
            "sandbox_message_delivery_failed", channel=message.channel, error=type(exc).__name__
        )


def _send_smtp(url: str, message: _Queued) -> None:
    parts = urlsplit(url)
    email = EmailMessage()
    email["From"] = message.sender
    email["To"] = message.recipient
    email["Subject"] = message.subject or ""
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain="sandbox-bank.test")
    email.set_content(message.body)
    host, port = parts.hostname or "127.0.0.1", parts.port or 25
    smtp_cls: Any = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    with smtp_cls(host, port, timeout=10) as client:
        if parts.username:
            client.login(parts.username, parts.password or "")
        client.send_message(email)
