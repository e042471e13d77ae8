"""Decimal amounts on the wire (API.md section 1, Money).

ISO 4217 currencies are written with exactly their minor-unit digits (``"12.30"`` USD,
``"1200"`` JPY); other codes (assets, private codes) keep the digits the bank gave, at most 18.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

_ZERO_DIGITS = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
)
_THREE_DIGITS = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
_FOUR_DIGITS = frozenset("CLF UYW".split())
_TWO_DIGITS = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR
    FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW
    KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN
    NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD
    SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU
    UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL
    """.split()
)
MAX_OTHER_DIGITS = 18


def minor_digits(currency: str) -> int | None:
    """The ISO 4217 minor-unit digits of ``currency``, or None for a non-ISO code."""
    if currency in _TWO_DIGITS:
        return 2
    if currency in _ZERO_DIGITS:
        return 0
    if currency in _THREE_DIGITS:
        return 3
    if currency in _FOUR_DIGITS:
        return 4
    return None


def format_amount(value: Decimal, currency: str) -> str:
    """``value`` as a signed decimal string in ``currency``'s digits (never ``-0``)."""
    digits = minor_digits(currency)
    if digits is None:
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > MAX_OTHER_DIGITS:
            value = value.quantize(Decimal(1).scaleb(-MAX_OTHER_DIGITS), ROUND_HALF_EVEN)
    else:
        value = value.quantize(Decimal(1).scaleb(-digits), ROUND_HALF_EVEN)
    if value.is_zero():
        value = abs(value)
    return f"{value:f}"


def format_optional(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else format_amount(value, currency)
