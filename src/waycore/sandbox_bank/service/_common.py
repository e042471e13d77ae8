"""Helpers shared by the service modules: transactions, ids, passwords, validation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import string
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from waycore.sandbox_bank.errors import BankError, ValidationFailed

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
PHONE_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]{2,63}$")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@asynccontextmanager
async def tx(session: AsyncSession) -> AsyncIterator[None]:
    """The public call's transaction: a new one, or a savepoint inside the caller's.

    A ``BankError`` (refusal, validation) rolls back only a savepoint and ends the outer
    transaction cleanly, so ORM objects the caller already holds stay loaded (a full
    rollback would expire them); outbox messages queued inside are dropped. Any other
    exception rolls the whole transaction back.
    """
    queued: list[object] = session.info.setdefault("sandbox_outbox_pending", [])
    mark = len(queued)
    if session.in_transaction():
        try:
            async with session.begin_nested():
                yield
        except BankError:
            del queued[mark:]
            raise
        return
    refused: BankError | None = None
    async with session.begin():
        try:
            async with session.begin_nested():
                yield
        except BankError as exc:
            del queued[mark:]
            refused = exc
    if refused is not None:
        raise refused


def parse_id(value: object) -> uuid.UUID | None:
    """A canonical UUID string, or None (the caller answers 404)."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    return parsed if str(parsed) == value.lower() else None


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**12, r=8, p=1)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        _, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    salt = base64.b64decode(salt_b64)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**12, r=8, p=1)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def temporary_password() -> str:
    """12 characters with upper, lower and digits (no look-alikes)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(12))
        if (
            any(c.isupper() for c in value)
            and any(c.islower() for c in value)
            and any(c.isdigit() for c in value)
        ):
            return value


def six_digits() -> str:
    return "".join(secrets.choice(string.digits) for _ in range(6))


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def text_field(
    errors: list[dict[str, str]],
    field: str,
    value: object,
    *,
    max_len: int,
    required: bool = True,
    multiline: bool = False,
) -> str:
    """Validate a caller's string: type, presence, length, no control characters."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        errors.append({"field": field, "message": "must be a string"})
        return ""
    stripped = value.strip()
    if required and not stripped:
        errors.append({"field": field, "message": "is required"})
    elif len(stripped) > max_len:
        errors.append({"field": field, "message": f"must be at most {max_len} characters"})
    else:
        checked = value.replace("\r\n", "\n") if multiline else value
        if CONTROL_RE.search(checked) or (not multiline and ("\n" in value or "\t" in value)):
            errors.append({"field": field, "message": "must not contain control characters"})
    return stripped


def raise_if(errors: list[dict[str, str]]) -> None:
    if errors:
        raise ValidationFailed(sorted(errors, key=lambda e: e["field"]))
