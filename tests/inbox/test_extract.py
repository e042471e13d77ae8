"""Code and temporary-password extraction: institution patterns, defaults, no false positives."""

from __future__ import annotations

import pytest

from waycore.inbox.extract import extract, extract_code, extract_temporary_password


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Your Sandbox Bank verification code is 482913. It expires in 5 minutes.", "482913"),
        ("Sandbox Bank: your verification code is 004711. It expires in 5 minutes.", "004711"),
        ("Your one-time passcode: 123456", "123456"),
        ("OTP 654321 - do not share it with anyone", "654321"),
        ("654321 is your Example Bank security code.", "654321"),
        ("Use code 777001 to sign in", "777001"),
        ("Your verification code\n\n  902118\n\nValid for 10 minutes", "902118"),
        ("Enter PIN 135790 on the sign-in page", "135790"),
        (
            "A payment of $250,000.00 was requested on 2026-03-04. "
            "To approve it, enter verification code 314159.",
            "314159",
        ),
    ],
)
def test_default_codes(text: str, code: str) -> None:
    assert extract_code(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "Your payment of $123,456.00 to ACME was sent on 2026-03-04.",
        "Amount: 123456.78 USD. Reference 20260304.",
        "Call us at +12015550123 or 201-555-0123 about account 123456.",
        "Statement for 03/04/2026 is ready: balance 250000,00 EUR",
        "Your code expired at 12:34:56 on 20260304",
        "Verification amount: $123456",
        "Transfer 123456 was completed.",
        "Your security code is 12345678",  # eight digits: not a six-digit code
        "Zip code 62701, account 00123456789",
    ],
)
def test_no_false_positive_codes(text: str) -> None:
    assert extract_code(text) is None


def test_institution_pattern_first_then_default() -> None:
    text = "Code 111111 is old. Your Sandbox Bank verification code is 222222."
    assert extract_code(text, "sandbox_bank") == "222222"
    assert extract_code(text) == "111111"
    assert extract_code("Your OTP is 333333", "sandbox_bank") == "333333"
    assert extract_code("Your OTP is 333333", "unknown_bank") == "333333"


@pytest.mark.parametrize(
    ("text", "password"),
    [
        (
            "Username: waycorek3m9\nYour temporary password is: Kp7mW2xQa9Rt\n\nYou will be asked",
            "Kp7mW2xQa9Rt",
        ),
        ("Temporary password: x9#Lm2!qP", "x9#Lm2!qP"),
        ("Your temporary password is Abc12345.", "Abc12345"),
        ('Your temporary passcode is "hT5-pQ8-zz".', "hT5-pQ8-zz"),
        ("TEMPORARY PASSWORD:\n  q8ZZk2LmPP", "q8ZZk2LmPP"),
    ],
)
def test_temporary_passwords(text: str, password: str) -> None:
    assert extract_temporary_password(text) == password
    assert extract_temporary_password(text, "sandbox_bank") == password


@pytest.mark.parametrize(
    "text",
    [
        "Your temporary password has expired; ask your administrator for a new one.",
        "Your temporary password is valid for 24 hours.",
        "Your temporary password will expire soon.",
        "Temporary password: abc",
        "Choose a new password at first login.",
    ],
)
def test_no_false_positive_passwords(text: str) -> None:
    assert extract_temporary_password(text) is None


def test_extract_both_and_repr_hides_them() -> None:
    found = extract("Your temporary password is: Zz9yXw8vUt7s\nYour code is 246810.")
    assert found.code == "246810"
    assert found.temporary_password == "Zz9yXw8vUt7s"
    assert "246810" not in repr(found) and "Zz9yXw8vUt7s" not in repr(found)
