"""Login primitives the portal builds on: passwords, lockout, one-time codes, TOTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import update

from waycore.sandbox_bank import service
from waycore.sandbox_bank.errors import PasswordRejected
from waycore.sandbox_bank.models import OneTimeCode

PERMS = {
    "viewBalances": True,
    "viewTransactions": True,
    "downloadStatements": False,
    "initiatePayments": False,
    "approvePayments": False,
    "accountIds": None,
}


@pytest.fixture
async def make_user(bank_session, make_customer):
    customer = await make_customer(accounts=1, history_days=30)

    async def factory(username: str, second_factor: str = "email"):
        return await service.create_delegated_user(
            bank_session,
            customer.customer.id,
            first_name="Li",
            last_name="Wei",
            address="2 Road",
            email=f"{username}@inbox.localhost",
            username=username,
            phone_number="+12015550160",
            second_factor=second_factor,
            permissions=PERMS,
        )

    return factory


async def _last_code(session, to: str) -> str:
    message = (await service.list_outbox(session, to))[0]
    return re.search(r"\b(\d{6})\b", message.body).group(1)


async def test_five_wrong_passwords_lock_and_first_login_forces_a_change(bank_session, make_user):
    created = await make_user("lock-me")
    first = await service.verify_password(bank_session, "lock-me", created.temporary_password)
    assert first.outcome == "ok" and service.needs_password_change(first.user)
    for rule_breaker in ("short1A", "alllowercase123", "NoDigitsHereAtAll", "lock-me-Pass123"):
        with pytest.raises(PasswordRejected):
            await service.change_password(bank_session, "lock-me", rule_breaker)
    user = await service.change_password(bank_session, "lock-me", "Correct-Horse-42")
    assert not service.needs_password_change(user)
    outcomes = [
        (await service.verify_password(bank_session, "lock-me", "wrong")).outcome for _ in range(5)
    ]
    assert outcomes == ["wrong"] * 4 + ["locked"]
    after = await service.verify_password(bank_session, "lock-me", "Correct-Horse-42")
    assert after.outcome == "locked"


async def test_email_codes_are_single_use_and_expire(bank_session, make_user):
    await make_user("code-user")
    issued = await service.issue_one_time_code(bank_session, "code-user")
    assert issued.channel == "email" and issued.sent
    code = await _last_code(bank_session, "code-user@inbox.localhost")
    assert await service.verify_one_time_code(bank_session, "code-user", code) == "ok"
    assert await service.verify_one_time_code(bank_session, "code-user", code) == "wrong"
    await service.issue_one_time_code(bank_session, "code-user")
    stale = await _last_code(bank_session, "code-user@inbox.localhost")
    async with bank_session.begin():
        await bank_session.execute(
            update(OneTimeCode)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            .where(OneTimeCode.username == "code-user")
        )
    assert await service.verify_one_time_code(bank_session, "code-user", stale) == "expired"


async def test_five_wrong_codes_lock(bank_session, make_user):
    await make_user("sms-user", "sms")
    await service.issue_one_time_code(bank_session, "sms-user")
    outcomes = [
        await service.verify_one_time_code(bank_session, "sms-user", "000000") for _ in range(5)
    ]
    assert outcomes[-1] == "locked"
    result = await service.verify_password(bank_session, "sms-user", "anything")
    assert result.outcome == "locked"


async def test_otp_never_delivered_sends_nothing(bank_session, make_user):
    await make_user("quiet-user")
    await service.set_faults(bank_session, "quiet-user", {"otpNeverDelivered": True})
    issued = await service.issue_one_time_code(bank_session, "quiet-user")
    assert not issued.sent
    messages = await service.list_outbox(bank_session, "quiet-user@inbox.localhost")
    assert all("verification code" not in m.body for m in messages)


async def test_totp_enrolment_and_replay(bank_session, make_user):
    created = await make_user("totp-user", "totp")
    user = created.user
    assert service.needs_totp_enrolment(user)
    assert created.totp_secret in service.totp_provisioning_uri(user)
    assert "<svg" in service.totp_qr_svg(user)
    totp = pyotp.TOTP(created.totp_secret)
    assert not await service.confirm_totp_enrolment(bank_session, "totp-user", "000000")
    assert await service.confirm_totp_enrolment(bank_session, "totp-user", totp.now())
    user = await service.require_user(bank_session, "totp-user")
    assert not service.needs_totp_enrolment(user)
    assert await service.verify_one_time_code(bank_session, "totp-user", totp.now()) == "wrong"
    later = totp.at(datetime.now(UTC) + timedelta(seconds=30))
    assert await service.verify_one_time_code(bank_session, "totp-user", later) == "ok"


async def test_demo_behaviours(bank_session):
    otp = await service.ensure_demo_user(bank_session, "demo-login+otp")
    assert service.needs_contact_details(otp)
    await service.confirm_contact_details(
        bank_session, "demo-login+otp", "conn@inbox.localhost", "+12015550199"
    )
    user = await service.require_user(bank_session, "demo-login+otp")
    assert not service.needs_contact_details(user)
    issued = await service.issue_one_time_code(bank_session, "demo-login+otp")
    assert issued.channel == "email" and issued.sent
    code = await _last_code(bank_session, "conn@inbox.localhost")
    assert await service.verify_one_time_code(bank_session, "demo-login+otp", code) == "ok"

    hardware = await service.ensure_demo_user(bank_session, "demo-login+hardware")
    assert service.second_factor_channel(hardware) == "hardwareToken"
    assert not service.may_remember_device(hardware)
    for _ in range(6):
        assert await service.verify_one_time_code(bank_session, hardware.username, "654321") == (
            "wrong"
        )
    assert await service.verify_one_time_code(bank_session, hardware.username, "123456") == "ok"
    slow = await service.ensure_demo_user(bank_session, "demo-login+slow")
    assert (await service.get_faults(bank_session, slow.username))["slowMs"] > 0
