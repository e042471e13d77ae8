"""Storing inbound messages: match to a connection, extract, seal, notify; and retention.

A message is matched to the non-revoked connection whose provisioned e-mail address is its
recipient, or whose leased phone number received the SMS. Subject, body, code and temporary
password are sealed under the inbox key (module docstring of migration 0005); nothing here
logs them. Every stored message of a connection sends ``NOTIFY waycore_inbox, '<id>'`` at
commit, which wakes ``wait.wait_for_code``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from waycore.ids import prefixed
from waycore.inbox.extract import extract
from waycore.vault import app_secrets
from waycore.vault.envelope import open_sealed, seal
from waycore.vault.keyring import Keyring

log = structlog.get_logger(__name__)

Channel = Literal["email", "sms"]
NOTIFY_CHANNEL = "waycore_inbox"
RETENTION = timedelta(days=7)
MAX_BODY_CHARS = 65_536
_KEY_ID = "inbox"


@dataclass(frozen=True)
class InboxKey:
    """The deployment's inbox data key (``app_secrets`` row ``inbox_key``)."""

    key: bytes

    def __repr__(self) -> str:
        return "InboxKey(<secret>)"

    def seal(self, message_id: str, column: str, value: str) -> bytes:
        return seal(_KEY_ID, self.key, value.encode(), aad=f"{message_id}:{column}".encode())

    def open(self, message_id: str, column: str, blob: bytes) -> str:
        aad = f"{message_id}:{column}".encode()
        return open_sealed({_KEY_ID: self.key}, bytes(blob), aad=aad).decode()


async def load_inbox_key(engine: AsyncEngine, keyring: Keyring) -> InboxKey:
    """The inbox key, created on first use and wrapped by the current master key."""
    return InboxKey(await app_secrets.load_or_create(engine, keyring, "inbox_key"))


@dataclass(frozen=True)
class StoredMessage:
    """What was stored; never the secrets."""

    id: str
    channel: Channel
    to_address: str
    connection_id: str | None
    received_at: datetime
    has_code: bool
    has_temporary_password: bool


def normalize_email(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


def normalize_phone(number: str) -> str:
    """E.164 from the usual spellings (``+1 (201) 555-0123``, ``0012015550123``)."""
    raw = number.strip()
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        return f"+{digits}"
    if digits.startswith("00"):
        return f"+{digits[2:]}"
    if len(digits) == 10:  # a North American number without its country code
        return f"+1{digits}"
    return f"+{digits}"


async def store_message(
    session: AsyncSession,
    key: InboxKey,
    *,
    channel: Channel,
    to_address: str,
    from_address: str,
    subject: str | None,
    body: str,
) -> StoredMessage | None:
    """Store one message; an SMS to a number no connection holds is dropped (``None``).

    An e-mail to an unknown address of the inbox domain is kept unmatched until retention.
    """
    to = normalize_email(to_address) if channel == "email" else normalize_phone(to_address)
    body = body[:MAX_BODY_CHARS]
    async with session.begin():
        match = await _match(session, channel, to)
        if match is None and channel == "sms":
            log.info("inbox_sms_dropped", reason="unknown_number")
            return None
        connection_id, institution_id = match or (None, None)
        found = extract(f"{subject or ''}\n{body}", institution_id)
        message_id = prefixed("msg")
        row = (
            await session.execute(
                text(
                    """
                    insert into inbox_messages (id, channel, to_address, from_address,
                        connection_id, subject_sealed, body_sealed, code_sealed,
                        temporary_password_sealed)
                    values (:id, :channel, :to, :from_, :cid, :subject, :body, :code, :tmp)
                    returning received_at
                    """
                ),
                {
                    "id": message_id,
                    "channel": channel,
                    "to": to,
                    "from_": from_address.strip()[:320],
                    "cid": connection_id,
                    "subject": key.seal(message_id, "subject", subject) if subject else None,
                    "body": key.seal(message_id, "body", body),
                    "code": key.seal(message_id, "code", found.code) if found.code else None,
                    "tmp": (
                        key.seal(message_id, "temporary_password", found.temporary_password)
                        if found.temporary_password
                        else None
                    ),
                },
            )
        ).one()
        if connection_id is not None:
            await session.execute(
                text("select pg_notify(:channel, :cid)"),
                {"channel": NOTIFY_CHANNEL, "cid": connection_id},
            )
    stored = StoredMessage(
        id=message_id,
        channel=channel,
        to_address=to,
        connection_id=connection_id,
        received_at=row.received_at,
        has_code=found.code is not None,
        has_temporary_password=found.temporary_password is not None,
    )
    log.info(
        "inbox_message_stored",
        message_id=stored.id,
        channel=channel,
        connection_id=connection_id,
        has_code=stored.has_code,
        has_temporary_password=stored.has_temporary_password,
    )
    return stored


async def _match(session: AsyncSession, channel: Channel, to: str) -> tuple[str, str | None] | None:
    if channel == "email":
        query = text(
            "select id, institution_id from connections "
            "where lower(email) = :to and status <> 'revoked' order by created_at desc limit 1"
        )
    else:
        query = text(
            "select c.id, c.institution_id from phone_leases l "
            "join connections c on c.id = l.connection_id "
            "where l.number = :to and c.status <> 'revoked'"
        )
    row = (await session.execute(query, {"to": to})).first()
    return (row.id, row.institution_id) if row else None


async def delete_expired(session: AsyncSession, *, older_than: timedelta = RETENTION) -> int:
    """Delete messages received more than ``older_than`` ago (default 7 days)."""
    async with session.begin():
        result = await session.execute(
            text("delete from inbox_messages where received_at < now() - cast(:age as interval)"),
            {"age": older_than},
        )
    deleted = int(result.rowcount)  # type: ignore[attr-defined]
    if deleted:
        log.info("inbox_messages_expired", deleted=deleted)
    return deleted
