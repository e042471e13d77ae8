"""Second factors: one-time codes by e-mail or SMS, TOTP (pyotp), the demo hardware token.

Codes are 6 digits, expire after 5 minutes and are single use (a TOTP step is accepted
once). Five wrong codes lock the user (demo users never lock). ``otpNeverDelivered``
issues the code but sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.sandbox_bank.errors import InvalidState, NotFound
from waycore.sandbox_bank.models import OneTimeCode, User
from waycore.sandbox_bank.service import outbox
from waycore.sandbox_bank.service._common import (
    EMAIL_RE,
    PHONE_RE,
    raise_if,
    sha256,
    six_digits,
    text_field,
    tx,
)
from waycore.sandbox_bank.service.users import MAX_FAILURES, faults_of

CODE_TTL = timedelta(minutes=5)
HARDWARE_TOKEN_CODE = "123456"  # noqa: S105 - the documented demo token code
TOTP_ISSUER = "Sandbox Bank"


class CodeOutcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    LOCKED = "locked"


@dataclass
class IssuedCode:
    channel: str  # none | email | sms | totp | hardwareToken
    destination: str | None  # masked address or number, None for totp / hardware token
    sent: bool


def second_factor_channel(user: User) -> str:
    """Which code this user is asked for: none | email | sms | totp | hardwareToken."""
    if user.is_demo:
        if user.role == "approver":
            return "none"
        return {"otp": "email", "hardware": "hardwareToken"}.get(user.demo_behaviour or "", "none")
    return user.second_factor


def may_remember_device(user: User) -> bool:
    return second_factor_channel(user) != "hardwareToken"


def needs_contact_details(user: User) -> bool:
    """A demo ``+otp`` user confirms its contact e-mail and phone at first login."""
    return user.demo_behaviour == "otp" and not user.contact_confirmed


def needs_totp_enrolment(user: User) -> bool:
    return second_factor_channel(user) == "totp" and not user.totp_enrolled


def _mask(value: str) -> str:
    if "@" in value:
        local, domain = value.split("@", 1)
        return f"{local[:2]}•••@{domain}"
    return f"•••{value[-4:]}"


async def _locked_user(session: AsyncSession, username: str) -> User:
    user = await session.get(User, username, with_for_update=True)
    if user is None:
        raise NotFound("User not found.")
    return user


async def issue_one_time_code(session: AsyncSession, username: str) -> IssuedCode:
    """Send a new code by the user's channel (e-mail or SMS); TOTP and the hardware token
    need nothing sent. Earlier unused codes stay valid until they expire."""
    async with tx(session):
        user = await _locked_user(session, username)
        channel = second_factor_channel(user)
        if channel not in ("email", "sms"):
            return IssuedCode(channel, None, False)
        destination = user.email if channel == "email" else user.phone_number
        if not destination:
            raise InvalidState("No contact details to send a code to.")
        code = six_digits()
        session.add(
            OneTimeCode(
                username=username,
                channel=channel,
                code_hash=sha256(f"{username}:{code}"),
                expires_at=datetime.now(UTC) + CODE_TTL,
            )
        )
        await session.flush()
        if faults_of(user)["otpNeverDelivered"]:
            return IssuedCode(channel, _mask(destination), False)
        if channel == "email":
            await outbox.record_email(
                session,
                destination,
                "Your Sandbox Bank verification code",
                f"Your Sandbox Bank verification code is {code}. It expires in 5 minutes.\n"
                "If you did not try to sign in, call us.\n",
            )
        else:
            await outbox.record_sms(
                session,
                destination,
                f"Sandbox Bank: your verification code is {code}. It expires in 5 minutes.",
            )
        return IssuedCode(channel, _mask(destination), True)


async def verify_one_time_code(session: AsyncSession, username: str, code: str) -> CodeOutcome:
    """Check a code for the user's channel; a used or expired code never passes again."""
    code = (code or "").strip()
    async with tx(session):
        user = await _locked_user(session, username)
        if user.status == "locked" or faults_of(user)["locked"]:
            return CodeOutcome.LOCKED
        channel = second_factor_channel(user)
        outcome = CodeOutcome.WRONG
        now = datetime.now(UTC)
        if channel == "hardwareToken":
            outcome = CodeOutcome.OK if code == HARDWARE_TOKEN_CODE else CodeOutcome.WRONG
        elif channel == "totp" and user.totp_secret:
            outcome = _check_totp(user, code, now)
        elif channel in ("email", "sms"):
            row = (
                await session.scalars(
                    select(OneTimeCode)
                    .where(
                        OneTimeCode.username == username,
                        OneTimeCode.code_hash == sha256(f"{username}:{code}"),
                    )
                    .order_by(OneTimeCode.created_at.desc())
                    .limit(1)
                )
            ).one_or_none()
            if row is not None and row.used_at is None:
                if row.expires_at <= now:
                    outcome = CodeOutcome.EXPIRED
                else:
                    row.used_at = now
                    outcome = CodeOutcome.OK
        elif channel == "none":
            outcome = CodeOutcome.OK
        if outcome == CodeOutcome.OK:
            user.failed_codes = 0
            return outcome
        if not user.is_demo:
            user.failed_codes += 1
            if user.failed_codes >= MAX_FAILURES:
                user.status = "locked"
                return CodeOutcome.LOCKED
        return outcome


def _check_totp(user: User, code: str, now: datetime) -> CodeOutcome:
    assert user.totp_secret is not None
    totp = pyotp.TOTP(user.totp_secret)
    for offset in (0, -1, 1):
        at = now + timedelta(seconds=offset * totp.interval)
        counter = totp.timecode(at)
        if code == totp.at(at) and (user.totp_last_counter or -1) < counter:
            user.totp_last_counter = counter
            return CodeOutcome.OK
    return CodeOutcome.WRONG


def totp_provisioning_uri(user: User) -> str:
    """The otpauth:// URI the enrolment page shows (text and QR)."""
    if not user.totp_secret:
        raise InvalidState("This user does not use TOTP.")
    return pyotp.TOTP(user.totp_secret).provisioning_uri(
        name=user.username, issuer_name=TOTP_ISSUER
    )


def totp_qr_svg(user: User) -> str:
    import segno

    return str(segno.make(totp_provisioning_uri(user)).svg_inline(scale=4))


async def confirm_totp_enrolment(session: AsyncSession, username: str, code: str) -> bool:
    """Confirm the secret with a current code; True when enrolled."""
    async with tx(session):
        user = await _locked_user(session, username)
        if not user.totp_secret:
            raise InvalidState("This user does not use TOTP.")
        if _check_totp(user, (code or "").strip(), datetime.now(UTC)) == CodeOutcome.OK:
            user.totp_enrolled = True
            return True
        if not user.is_demo:
            user.failed_codes += 1
            if user.failed_codes >= MAX_FAILURES:
                user.status = "locked"
        return False


async def confirm_contact_details(
    session: AsyncSession, username: str, email: object, phone_number: object
) -> User:
    """Store the contact e-mail and phone a demo ``+otp`` user confirms at first login."""
    errors: list[dict[str, str]] = []
    mail = text_field(errors, "email", email, max_len=254)
    if mail and not EMAIL_RE.match(mail):
        errors.append({"field": "email", "message": "is not a valid e-mail address"})
    phone = text_field(errors, "phoneNumber", phone_number, max_len=16)
    if phone and not PHONE_RE.match(phone):
        errors.append({"field": "phoneNumber", "message": "must be E.164, like +12015550123"})
    raise_if(errors)
    async with tx(session):
        user = await _locked_user(session, username)
        user.email, user.phone_number, user.contact_confirmed = mail, phone, True
        return user
