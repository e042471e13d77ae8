"""Bank users: delegated users, passwords and their rules, lockout, permissions, faults.

A login is ``verify_password`` (outcome ok | wrong | locked), then, as the user needs it,
``change_password`` (first login), contact details (demo ``+otp``), TOTP enrolment and a
one-time code (``service.codes``). Five wrong passwords lock a user; demo users never lock.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.sandbox_bank.errors import (
    DuplicateUsername,
    NotFound,
    PasswordRejected,
    ValidationFailed,
)
from waycore.sandbox_bank.models import Account, User
from waycore.sandbox_bank.service import outbox
from waycore.sandbox_bank.service._common import (
    EMAIL_RE,
    PHONE_RE,
    USERNAME_RE,
    check_password,
    hash_password,
    raise_if,
    temporary_password,
    text_field,
    tx,
)

MAX_FAILURES = 5
DEMO_PASSWORD = "demo-password"  # noqa: S105 - the documented demo password
SECOND_FACTORS = ("none", "email", "sms", "totp")
PERMISSION_FLAGS = (
    "viewBalances",
    "viewTransactions",
    "downloadStatements",
    "initiatePayments",
    "approvePayments",
)
DEFAULT_FAULTS: dict[str, Any] = {
    "wrongPassword": False,
    "locked": False,
    "otpNeverDelivered": False,
    "sessionExpiryAfterPages": None,
    "slowMs": 0,
    "errorRate": 0.0,
    "maintenance": False,
    "redesign": False,
    "holdConfirmationMs": 0,
    "confirmationLost": False,
    "paymentLimit": None,
}
_RULES_TEXT = (
    "10 to 128 characters, with an upper-case letter, a lower-case letter and a digit; "
    "not containing the username; different from the current password"
)
PASSWORD_RULES = _RULES_TEXT


class LoginOutcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass
class LoginResult:
    outcome: LoginOutcome
    user: User | None


@dataclass
class CreatedUser:
    user: User
    temporary_password: str
    totp_secret: str | None


def validate_permissions(value: object, customer_accounts: set[uuid.UUID]) -> dict[str, Any]:
    """The permissions object: the five flags (booleans) and accountIds (null or own ids)."""
    if not isinstance(value, dict):
        raise ValidationFailed.single("permissions", "must be an object")
    errors: list[dict[str, str]] = []
    unknown = sorted(set(value) - {*PERMISSION_FLAGS, "accountIds"})
    for key in unknown:
        errors.append({"field": f"permissions.{key}", "message": "unknown permission"})
    result: dict[str, Any] = {}
    for flag in PERMISSION_FLAGS:
        flag_value = value.get(flag, False)
        if not isinstance(flag_value, bool):
            errors.append({"field": f"permissions.{flag}", "message": "must be a boolean"})
        result[flag] = flag_value is True
    ids = value.get("accountIds")
    if ids is None:
        result["accountIds"] = None
    elif not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        errors.append({"field": "permissions.accountIds", "message": "must be null or a list"})
    else:
        wanted = sorted(set(ids))
        if any(_uuid_or_none(i) not in customer_accounts for i in wanted):
            errors.append(
                {
                    "field": "permissions.accountIds",
                    "message": "every id must be one of the customer's accounts",
                }
            )
        result["accountIds"] = wanted
    raise_if(errors)
    return result


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def can(user: User, permission: str) -> bool:
    """Whether the user holds one of the five permission flags."""
    return bool(user.permissions.get(permission))


def may_see_account(user: User, account: Account) -> bool:
    ids = user.permissions.get("accountIds")
    return account.customer_id == user.customer_id and (ids is None or str(account.id) in ids)


async def create_delegated_user(
    session: AsyncSession,
    customer_id: uuid.UUID,
    *,
    first_name: object,
    last_name: object,
    address: object,
    email: object,
    username: object,
    phone_number: object,
    second_factor: object,
    permissions: object,
) -> CreatedUser:
    """Create a delegated user and e-mail its temporary password (outbox, then SMTP).

    Raises ``ValidationFailed`` (field errors) or ``DuplicateUsername``. A TOTP user gets its
    secret now; the enrolment page at first login shows the same one.
    """
    errors: list[dict[str, str]] = []
    first = text_field(errors, "firstName", first_name, max_len=100)
    last = text_field(errors, "lastName", last_name, max_len=100)
    addr = text_field(errors, "address", address, max_len=300, multiline=True)
    mail = text_field(errors, "email", email, max_len=254)
    if mail and not EMAIL_RE.match(mail):
        errors.append({"field": "email", "message": "is not a valid e-mail address"})
    name = text_field(errors, "username", username, max_len=64)
    if name and not USERNAME_RE.match(name):
        errors.append(
            {
                "field": "username",
                "message": "3 to 64 letters, digits or . _ + @ -, starting with a letter or digit",
            }
        )
    elif name.lower().startswith("demo"):
        errors.append({"field": "username", "message": "names starting with demo are reserved"})
    phone = text_field(errors, "phoneNumber", phone_number, max_len=16)
    if phone and not PHONE_RE.match(phone):
        errors.append({"field": "phoneNumber", "message": "must be E.164, like +12015550123"})
    if second_factor not in SECOND_FACTORS:
        errors.append({"field": "secondFactor", "message": "must be none, email, sms or totp"})
    async with tx(session):
        account_ids = set(
            await session.scalars(select(Account.id).where(Account.customer_id == customer_id))
        )
        try:
            perms = validate_permissions(permissions, account_ids)
        except ValidationFailed as exc:
            errors.extend(exc.details["errors"])  # type: ignore[arg-type]
            perms = {}
        raise_if(errors)
        if await session.get(User, name) is not None:
            raise DuplicateUsername(username=name)
        password = temporary_password()
        secret = pyotp.random_base32() if second_factor == "totp" else None
        user = User(
            username=name,
            customer_id=customer_id,
            role="delegated",
            first_name=first,
            last_name=last,
            address=addr,
            email=mail,
            phone_number=phone,
            second_factor=str(second_factor),
            permissions=perms,
            password_hash=hash_password(password),
            must_change_password=True,
            totp_secret=secret,
            faults={},
        )
        session.add(user)
        await session.flush()
        await outbox.record_email(
            session,
            mail,
            "Your Sandbox Bank access",
            f"Hello {first},\n\nAn administrator created your Sandbox Bank login.\n\n"
            f"Username: {name}\nYour temporary password is: {password}\n\n"
            "You will be asked to choose a new password when you first sign in.\n",
        )
    return CreatedUser(user, password, secret)


async def get_user(session: AsyncSession, username: str) -> User | None:
    """The user, or None (demo users exist once ``ensure_demo_user`` created them)."""
    async with tx(session):
        return await session.get(User, username)


async def require_user(session: AsyncSession, username: str) -> User:
    user = await get_user(session, username)
    if user is None:
        raise NotFound("User not found.")
    return user


async def list_users(session: AsyncSession, customer_id: uuid.UUID) -> list[User]:
    async with tx(session):
        query = select(User).where(User.customer_id == customer_id).order_by(User.created_at)
        return list((await session.scalars(query)).all())


def faults_of(user: User) -> dict[str, Any]:
    return {**DEFAULT_FAULTS, **(user.faults or {})}


async def verify_password(session: AsyncSession, username: str, password: str) -> LoginResult:
    """Check a login. Demo users (created here on first use) accept ``demo-password`` and
    never lock; others lock after 5 wrong passwords. Fault switches apply."""
    if username.startswith("demo"):
        from waycore.sandbox_bank.service.demo import ensure_demo_user

        await ensure_demo_user(session, username)
    async with tx(session):
        user = (
            await session.scalars(select(User).where(User.username == username).with_for_update())
        ).one_or_none()
        if user is None:
            return LoginResult(LoginOutcome.WRONG, None)
        faults = faults_of(user)
        if user.status == "locked" or faults["locked"] or user.demo_behaviour == "locked":
            return LoginResult(LoginOutcome.LOCKED, user)
        if faults["wrongPassword"]:
            return LoginResult(LoginOutcome.WRONG, user)
        if user.is_demo:
            ok = password == DEMO_PASSWORD
            return LoginResult(LoginOutcome.OK if ok else LoginOutcome.WRONG, user)
        if check_password(password, user.password_hash):
            user.failed_passwords = 0
            return LoginResult(LoginOutcome.OK, user)
        user.failed_passwords += 1
        if user.failed_passwords >= MAX_FAILURES:
            user.status = "locked"
            return LoginResult(LoginOutcome.LOCKED, user)
        return LoginResult(LoginOutcome.WRONG, user)


def check_password_rules(username: str, new_password: str) -> None:
    problems = []
    if not 10 <= len(new_password) <= 128:
        problems.append("must be 10 to 128 characters")
    if not re.search(r"[A-Z]", new_password):
        problems.append("needs an upper-case letter")
    if not re.search(r"[a-z]", new_password):
        problems.append("needs a lower-case letter")
    if not re.search(r"[0-9]", new_password):
        problems.append("needs a digit")
    if username.lower() in new_password.lower():
        problems.append("must not contain the username")
    if problems:
        raise PasswordRejected(
            "The new password " + ", ".join(problems) + ".", rules=PASSWORD_RULES
        )


async def change_password(
    session: AsyncSession, username: str, new_password: str, current_password: str | None = None
) -> User:
    """Set a new password under the bank's rules (``PASSWORD_RULES``); raises
    ``PasswordRejected`` with a readable message. With ``current_password`` it is checked."""
    async with tx(session):
        user = await session.get(User, username, with_for_update=True)
        if user is None:
            raise NotFound("User not found.")
        if current_password is not None and not check_password(
            current_password, user.password_hash
        ):
            raise PasswordRejected("The current password is wrong.")
        check_password_rules(username, new_password)
        if check_password(new_password, user.password_hash):
            raise PasswordRejected("The new password must differ from the current one.")
        user.password_hash = hash_password(new_password)
        user.must_change_password = False
        user.password_changed_at = datetime.now(UTC)
        return user


def needs_password_change(user: User) -> bool:
    return user.must_change_password and not user.is_demo


async def get_faults(session: AsyncSession, username: str) -> dict[str, Any]:
    """Every fault switch of the user with its current value (defaults filled in)."""
    return faults_of(await require_user(session, username))


def _validate_faults(patch: object) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise ValidationFailed.single("body", "must be a JSON object")
    errors: list[dict[str, str]] = []
    for key, value in patch.items():
        ok = True
        if key not in DEFAULT_FAULTS:
            errors.append({"field": key, "message": "unknown fault"})
            continue
        if key in (
            "wrongPassword",
            "locked",
            "otpNeverDelivered",
            "maintenance",
            "redesign",
            "confirmationLost",
        ):
            ok = isinstance(value, bool)
        elif key == "sessionExpiryAfterPages":
            ok = value is None or (type(value) is int and value >= 1)
        elif key in ("slowMs", "holdConfirmationMs"):
            ok = type(value) is int and 0 <= value <= 120_000
        elif key == "errorRate":
            ok = type(value) in (int, float) and 0 <= value <= 1
        elif key == "paymentLimit":
            ok = value is None or (
                isinstance(value, str)
                and bool(re.fullmatch(r"(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?", value))
            )
        if not ok:
            errors.append({"field": key, "message": "has the wrong type or range"})
    raise_if(errors)
    return {k: (float(v) if k == "errorRate" else v) for k, v in patch.items()}


async def set_faults(session: AsyncSession, username: str, patch: object) -> dict[str, Any]:
    """Change the given switches (omitted keys unchanged); returns all of them."""
    if username.startswith("demo"):
        from waycore.sandbox_bank.service.demo import ensure_demo_user

        await ensure_demo_user(session, username)
    changes = _validate_faults(patch)
    async with tx(session):
        user = await session.get(User, username, with_for_update=True)
        if user is None:
            raise NotFound("User not found.")
        user.faults = {**(user.faults or {}), **changes}
        if changes.get("locked") is False and user.status == "locked" and not user.is_demo:
            user.status, user.failed_passwords, user.failed_codes = "active", 0, 0
        return faults_of(user)
