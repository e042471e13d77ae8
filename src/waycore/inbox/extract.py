"""One-time codes and temporary passwords read from a message's text.

An institution may register its own patterns (``INSTITUTION_PATTERNS``); they are tried
first, then the defaults:

* a code is a standalone 6-digit number within a few words of ``code``, ``passcode``,
  ``OTP``, ``one-time``, ``verification``/``verify`` or ``PIN`` (before or after it). A number
  glued to other digits or to ``$ . , : / -`` (amounts, dates, phone numbers, references) is
  never a code;
* a temporary password is the word after ``temporary password`` (or ``passcode``) followed
  by ``is`` and/or ``:``; it must be at least 6 characters and look like a password (a digit,
  a symbol or an inner capital), so "Your temporary password is valid for 24 hours" yields
  nothing. Surrounding quotes and a sentence's final ``.``/``,``/``;`` are not part of it.

Extracted values are secrets: nothing here logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEYWORD = re.compile(
    r"\b(?:codes?|pass\s?codes?|otp|one[-\s]time|verification|verify|security\s+code|pin)\b",
    re.IGNORECASE,
)
_SIX_DIGITS = re.compile(r"(?<![\d$€£.,:/+\-])(\d{6})(?!\d|[.,:/\-]\d)")
_KEYWORD_WINDOW = 40
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_TEMPORARY = re.compile(
    r"\btemporary\s+(?:password|passcode)\s*(?:is\s*:?|:|=)\s*(\S+)",
    re.IGNORECASE,
)
_QUOTES = "\"'“”‘’«»`"


@dataclass(frozen=True)
class Patterns:
    """Regexes whose first group is the value; tried in order."""

    codes: tuple[re.Pattern[str], ...] = ()
    temporary_passwords: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class Extracted:
    code: str | None = None
    temporary_password: str | None = None

    def __repr__(self) -> str:  # never print the secrets themselves
        return (
            f"Extracted(code={'<set>' if self.code else None}, "
            f"temporary_password={'<set>' if self.temporary_password else None})"
        )


INSTITUTION_PATTERNS: dict[str, Patterns] = {
    "sandbox_bank": Patterns(
        codes=(re.compile(r"verification code is (\d{6})\b", re.IGNORECASE),),
        temporary_passwords=(re.compile(r"temporary password is: (\S+)", re.IGNORECASE),),
    ),
}


def extract(text: str, institution_id: str | None = None) -> Extracted:
    """The code and temporary password in ``text`` (subject and body), either may be None."""
    return Extracted(
        code=extract_code(text, institution_id),
        temporary_password=extract_temporary_password(text, institution_id),
    )


def extract_code(text: str, institution_id: str | None = None) -> str | None:
    specific = INSTITUTION_PATTERNS.get(institution_id or "")
    if specific:
        for pattern in specific.codes:
            if m := pattern.search(text):
                return m.group(1)
    return _default_code(text)


def extract_temporary_password(text: str, institution_id: str | None = None) -> str | None:
    specific = INSTITUTION_PATTERNS.get(institution_id or "")
    if specific:
        for pattern in specific.temporary_passwords:
            if (m := pattern.search(text)) and (value := _clean_password(m.group(1))):
                return value
    for m in _TEMPORARY.finditer(text):
        if value := _clean_password(m.group(1)):
            return value
    return None


def _default_code(text: str) -> str | None:
    for m in _SIX_DIGITS.finditer(text):
        before = text[max(0, m.start() - _KEYWORD_WINDOW) : m.start()]
        after = text[m.end() : m.end() + _KEYWORD_WINDOW]
        # Stay within the sentence the number is in (a line break does not end it).
        before = _SENTENCE_END.split(before)[-1]
        after = _SENTENCE_END.split(after)[0]
        if _KEYWORD.search(before) or _KEYWORD.search(after):
            return m.group(1)
    return None


def _clean_password(raw: str) -> str | None:
    value = raw.strip(_QUOTES)
    value = re.sub(r"[.,;]+$", "", value).strip(_QUOTES)
    if len(value) < 6:
        return None
    looks_generated = (
        any(c.isdigit() for c in value)
        or any(not c.isalnum() for c in value)
        or any(c.isupper() for c in value[1:])
    )
    return value if looks_generated else None
