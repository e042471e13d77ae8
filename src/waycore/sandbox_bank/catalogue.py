"""What the generated history is made of: counterparties, account layouts, account numbers.

Pure data and small pure functions; ``generator.py`` draws from them with a seeded
``random.Random``, so the same seed always yields the same bank.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

# (merchant, city, low, high): card purchases, several with non-ASCII names.
MERCHANTS: list[tuple[str, str, int, int]] = [
    ("Starbucks #1123", "SEATTLE WA", 4, 25),
    ("Amazon Marketplace", "AMZN.COM/BILL WA", 15, 600),
    ("Café Zürich", "NEW YORK NY", 8, 60),
    ("Müller Bürobedarf GmbH", "MÜNCHEN DE", 40, 900),
    ("Señor Taco", "AUSTIN TX", 10, 80),
    ("Crème de la Crème Bakery", "PORTLAND OR", 12, 140),
    ("東京 Sushi Bar", "SAN FRANCISCO CA", 30, 300),
    ("Björk Design AB", "STOCKHOLM SE", 100, 2000),
    ("Ørsted Office Supply", "COPENHAGEN DK", 20, 400),
    ("São Paulo Coffee Co.", "MIAMI FL", 5, 40),
    ("Shell Oil 57442", "DENVER CO", 30, 120),
    ("Delta Air Lines", "ATLANTA GA", 180, 1400),
    ("Hilton Hotels", "CHICAGO IL", 150, 900),
    ("Uber Trip", "HELP.UBER.COM CA", 8, 70),
    ("Staples #0412", "BOSTON MA", 10, 350),
    ("Adobe Creative Cloud", "SAN JOSE CA", 55, 90),
    ("Zoom Video", "SAN JOSE CA", 15, 250),
    ("Łódź Print Studio", "CHICAGO IL", 60, 700),
    ("Home Depot #6612", "PHOENIX AZ", 20, 800),
    ("FedEx Office", "MEMPHIS TN", 10, 200),
]
NON_ASCII_MERCHANTS = [m for m in MERCHANTS if not m[0].isascii() or not m[1].isascii()]

VENDORS = [
    "ACME SUPPLY CO",
    "GLOBEX UTILITIES",
    "INITECH SOFTWARE",
    "PACIFIC GAS & ELECTRIC",
    "COMCAST BUSINESS",
    "UNITED HEALTHCARE",
    "HARTFORD INSURANCE",
    "IRS USATAXPYMT",
    "ADP PAYROLL FEES",
    "WEWORK",
]
PAYERS = [
    "NORTHWIND TRADERS",
    "CONTOSO LTD",
    "FABRIKAM INC",
    "WAYNE ENTERPRISES",
    "STARK INDUSTRIES",
    "UMBRELLA CORP",
    "TYRELL CORP",
    "BLUTH COMPANY",
    "Société Générale Équipement",
    "Nordström Handel AB",
]
NON_ASCII_PAYERS = [p for p in PAYERS if not p.isascii()]

# The rail label a statement line uses for bank-to-bank credits and debits, by currency.
CLEARING_LABEL = {"USD": "ACH", "GBP": "FASTER PAYMENT", "EUR": "SEPA"}

# BAI2 type codes by item kind.
BAI = {
    "ach_credit": "165",
    "ach_debit": "455",
    "wire_in": "195",
    "wire_out": "495",
    "check": "475",
    "deposit": "301",
    "fee": "698",
    "interest_credit": "354",
    "interest_debit": "699",
    "card": "699",
    "card_refund": "399",
    "transfer_in": "206",
    "transfer_out": "506",
    "payment_in": "399",
    "advance": "699",
}


@dataclass(frozen=True)
class AccountSpec:
    type: str
    currency: str
    country: str
    name: str
    official_name: str


_FIRST = [
    AccountSpec("checking", "USD", "US", "Operating Account", "Business Checking Plus"),
    AccountSpec("savings", "USD", "US", "Reserve Savings", "Business Savings"),
]
_ROTATION = [
    AccountSpec("creditCard", "USD", "US", "Corporate Card", "Business Platinum Card"),
    AccountSpec("checking", "GBP", "GB", "UK Operating", "Business Current Account"),
    AccountSpec("checking", "EUR", "DE", "Euro Operating", "Geschäftskonto Euro"),
    AccountSpec("moneyMarket", "USD", "US", "Treasury Money Market", "Business Money Market"),
    AccountSpec("loan", "USD", "US", "Equipment Loan", "Commercial Term Loan"),
]


def account_layout(seed: int, count: int) -> list[AccountSpec]:
    """Checking and savings first, then a seed-chosen rotation of the other kinds."""
    specs: list[AccountSpec] = []
    start = seed % len(_ROTATION)
    for position in range(count):
        if position < len(_FIRST):
            specs.append(_FIRST[position])
        else:
            index = (start + position - len(_FIRST)) % len(_ROTATION)
            base = _ROTATION[index]
            cycle = (position - len(_FIRST)) // len(_ROTATION)
            name = base.name if cycle == 0 else f"{base.name} {cycle + 1}"
            specs.append(
                AccountSpec(base.type, base.currency, base.country, name, base.official_name)
            )
    return specs


@dataclass(frozen=True)
class AccountNumbers:
    account_number: str
    masked_number: str
    routing_number: str | None
    sort_code: str | None
    iban: str | None
    swift_bic: str | None


def _aba_check_digit(first8: str) -> str:
    weights = [3, 7, 1, 3, 7, 1, 3, 7]
    total = sum(int(d) * w for d, w in zip(first8, weights, strict=True))
    return str((10 - total % 10) % 10)


def _iban(country: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(digits) % 97
    return f"{country}{check:02d}{bban}"


def account_numbers(rng: random.Random, spec: AccountSpec) -> AccountNumbers:
    """Numbers in the country's own shapes (ABA routing with its check digit, IBAN mod 97)."""
    if spec.country == "GB":
        number = f"{rng.randrange(10**7, 10**8)}"
        sort_code = f"{rng.randrange(20, 99):02d}{rng.randrange(100):02d}{rng.randrange(100):02d}"
        iban = _iban("GB", f"WAYB{sort_code}{number}")
        return AccountNumbers(number, f"••••{number[-4:]}", None, sort_code, iban, "WAYBGB2L")
    if spec.country == "DE":
        blz = f"{rng.randrange(10**7, 10**8)}"
        number = f"{rng.randrange(10**9, 10**10)}"
        iban = _iban("DE", f"{blz}{number}")
        return AccountNumbers(number, f"••••{number[-4:]}", None, None, iban, "WAYBDEFF")
    if spec.type == "creditCard":
        number = f"4{rng.randrange(10**14, 10**15)}"
        return AccountNumbers(number, f"••••{number[-4:]}", None, None, None, None)
    first8 = f"0{rng.randrange(1000000, 9999999)}"
    routing = first8 + _aba_check_digit(first8)
    number = f"{rng.randrange(10**11, 10**12)}"
    return AccountNumbers(number, f"••••{number[-4:]}", routing, None, None, None)


def money(rng: random.Random, low: float, high: float) -> Decimal:
    """A positive amount in cents between low and high."""
    return Decimal(rng.randint(int(low * 100), int(high * 100))) / 100
