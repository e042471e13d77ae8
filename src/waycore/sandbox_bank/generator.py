"""Deterministic transaction history: the same seed always gives the same bank.

``generate_history`` builds an account's past (``days`` up to ``end``) as rows in ascending
``sort_key`` order, with exact ``count`` rows when given (pending and voided included), and
per account: pending card items at the top, a few voided items, a same-day duplicate
(same amount and description), multi-line descriptions, non-ASCII names, and rows with and
without a bank reference. ``generate_day`` draws one new business day for the bank clock.

Nothing here touches the database; the service layer bulk-inserts what it returns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from waycore.sandbox_bank.catalogue import (
    BAI,
    CLEARING_LABEL,
    MERCHANTS,
    NON_ASCII_MERCHANTS,
    NON_ASCII_PAYERS,
    PAYERS,
    VENDORS,
    AccountSpec,
    money,
)
from waycore.sandbox_bank.models import PENDING_BASE

CENT = Decimal("0.01")

# Rows per calendar day when no exact count is asked for.
RATE = {"checking": 0.9, "savings": 0.12, "moneyMarket": 0.1, "creditCard": 0.6, "loan": 0.07}
KIND_WEIGHTS: dict[str, list[tuple[str, int]]] = {
    "checking": [
        ("card", 40),
        ("ach_debit", 15),
        ("ach_credit", 15),
        ("check", 8),
        ("wire_in", 3),
        ("wire_out", 5),
        ("deposit", 5),
        ("transfer_out", 5),
    ],
    "savings": [("transfer_in", 30), ("transfer_out", 40), ("ach_credit", 10), ("deposit", 10)],
    "moneyMarket": [
        ("transfer_in", 30),
        ("transfer_out", 30),
        ("wire_in", 10),
        ("wire_out", 10),
        ("ach_credit", 10),
    ],
    "creditCard": [("card", 80), ("card_refund", 10), ("payment_in", 10)],
    "loan": [("payment_in", 60), ("interest_debit", 30), ("fee", 10)],
}
MONTHLY = {
    "checking": ["fee"],
    "savings": ["interest_credit"],
    "moneyMarket": ["interest_credit"],
    "creditCard": ["payment_in", "interest_debit"],
    "loan": ["payment_in", "interest_debit"],
}
REFERENCE_ODDS = {"card": 0.8, "check": 0.0, "deposit": 0.2, "payment_in": 0.9, "ach_debit": 0.95}
REFERENCE_PREFIX = {
    "card": "CRD",
    "card_refund": "CRD",
    "ach_credit": "ACH",
    "ach_debit": "ACH",
    "wire_in": "FW",
    "wire_out": "FW",
    "fee": "FEE",
    "interest_credit": "INT",
    "interest_debit": "INT",
    "transfer_in": "TRF",
    "transfer_out": "TRF",
    "payment_in": "PMT",
    "deposit": "DEP",
    "advance": "ADV",
}
RAIL = {
    "card": "card",
    "card_refund": "card",
    "ach_credit": "ach",
    "ach_debit": "ach",
    "wire_in": "wire",
    "wire_out": "wire",
    "check": "check",
    "deposit": "other",
    "fee": "fee",
    "interest_credit": "interest",
    "interest_debit": "interest",
    "transfer_in": "internalTransfer",
    "transfer_out": "internalTransfer",
    "payment_in": "ach",
    "advance": "other",
}


@dataclass
class Row:
    """One generated transaction (``sort_key`` and ``running_balance`` set by the walk)."""

    status: str
    transaction_date: date
    posted_date: date | None
    description: str
    amount: Decimal
    rail: str
    bai_code: str
    bank_reference: str | None
    running_balance: Decimal | None = None
    sort_key: int = 0
    post_due: date | None = None
    post_outcome: str | None = None
    post_amount: Decimal | None = None
    post_description: str | None = None


@dataclass
class History:
    opening_balance: Decimal
    rows: list[Row]
    current_balance: Decimal


@dataclass
class _Item:
    kind: str
    description: str
    amount: Decimal
    pending_description: str | None = None


def is_business_day(day: date) -> bool:
    return day.weekday() < 5


def add_business_days(day: date, n: int) -> date:
    while n > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            n -= 1
    return day


def _reference(rng: random.Random, kind: str, day: date, force: bool | None = None) -> str | None:
    has = force if force is not None else rng.random() < REFERENCE_ODDS.get(kind, 1.0)
    if not has:
        return None
    return f"{REFERENCE_PREFIX.get(kind, 'REF')}{day:%y%m%d}{rng.randrange(10**6):06d}"


def _draw(
    rng: random.Random, spec: AccountSpec, kind: str, balance: Decimal, flag: str = ""
) -> _Item:
    """One item of ``kind``; a deposit account's debit never overdraws it."""
    item = _draw_raw(rng, spec, kind, balance, flag)
    if spec.type in ("checking", "savings", "moneyMarket") and item.amount < 0:
        if balance + item.amount < 1000:
            item.amount = -max(CENT, (max(balance, Decimal(0)) * Decimal("0.3")).quantize(CENT))
    return item


def _draw_raw(
    rng: random.Random, spec: AccountSpec, kind: str, balance: Decimal, flag: str
) -> _Item:
    """One item of ``kind``; ``flag`` forces ``nonascii`` or ``multiline`` text."""
    label = CLEARING_LABEL.get(spec.currency, "ACH")
    if kind == "card":
        pool = NON_ASCII_MERCHANTS if flag == "nonascii" else MERCHANTS
        merchant, city, low, high = rng.choice(pool)
        text = f"POS PURCHASE {merchant} {city}"
        if flag == "multiline":
            text = f"POS PURCHASE {merchant}\n{city}\nCARD ENDING {rng.randrange(1000, 9999)}"
        return _Item(kind, text, -money(rng, low, high), f"CARD AUTHORIZATION {merchant}")
    if kind == "card_refund":
        merchant, city, low, high = rng.choice(NON_ASCII_MERCHANTS if flag else MERCHANTS)
        return _Item(kind, f"REFUND {merchant} {city}", money(rng, low, high))
    if kind == "ach_credit":
        payer = rng.choice(NON_ASCII_PAYERS if flag == "nonascii" else PAYERS)
        return _Item(
            kind, f"{label} CREDIT {payer} INV{rng.randrange(1000, 99999)}", money(rng, 500, 25000)
        )
    if kind == "ach_debit":
        vendor = rng.choice(VENDORS)
        if flag == "multiline" or rng.random() < 0.25:
            text = (
                f"{label} DEBIT {vendor}\nENTRY DESCR: BILLPAY  "
                f"IND ID: {rng.randrange(10**9, 10**10)}"
            )
        else:
            text = f"{label} DEBIT {vendor} PPD ID {rng.randrange(10**9, 10**10)}"
        return _Item(kind, text, -money(rng, 120, 9000))
    if kind == "wire_in":
        payer = rng.choice(NON_ASCII_PAYERS if flag == "nonascii" else PAYERS)
        text = f"INCOMING WIRE TRANSFER\nORG: {payer}\nREF: INV-{rng.randrange(10000, 99999)}"
        return _Item(kind, text, money(rng, 5000, 80000))
    if kind == "wire_out":
        vendor = rng.choice(VENDORS)
        text = f"OUTGOING WIRE TRANSFER\nBNF: {vendor}\nOBI: PO {rng.randrange(1000, 9999)}"
        return _Item(kind, text, -money(rng, 2000, 50000))
    if kind == "check":
        return _Item(kind, f"CHECK #{rng.randrange(1001, 9999)}", -money(rng, 50, 5000))
    if kind == "deposit":
        where = rng.choice(["BRANCH DEPOSIT 042", "MOBILE DEPOSIT", "ATM DEPOSIT 1187"])
        return _Item(kind, where, money(rng, 200, 8000))
    if kind == "fee":
        text = rng.choice(["MONTHLY SERVICE FEE", "WIRE TRANSFER FEE", "ACCOUNT ANALYSIS FEE"])
        return _Item(kind, text, -money(rng, 15, 45))
    if kind == "interest_credit":
        interest = max(CENT, (abs(balance) * Decimal("0.0025")).quantize(CENT))
        return _Item(kind, "INTEREST PAYMENT", interest)
    if kind == "interest_debit":
        interest = max(CENT, (abs(balance) * Decimal("0.015")).quantize(CENT))
        return _Item(kind, "INTEREST CHARGE", -interest)
    if kind == "transfer_in":
        return _Item(
            kind,
            f"ONLINE TRANSFER FROM CHK ••••{rng.randrange(1000, 9999)}",
            money(rng, 500, 20000),
        )
    if kind == "transfer_out":
        return _Item(
            kind, f"ONLINE TRANSFER TO SAV ••••{rng.randrange(1000, 9999)}", -money(rng, 500, 12000)
        )
    if kind == "payment_in":
        owed = max(Decimal(100), -balance)
        amount = (owed * Decimal(rng.randint(30, 100)) / 100).quantize(CENT)
        if spec.type == "loan":
            amount = min(owed, money(rng, 1500, 4000))
        text = "PAYMENT - THANK YOU"
        if flag == "nonascii":
            text = f"PAYMENT FROM {rng.choice(NON_ASCII_PAYERS)} - THANK YOU"
        elif flag == "multiline":
            text = "PAYMENT - THANK YOU\nONLINE BANKING TRANSFER"
        return _Item(kind, text, max(CENT, amount))
    if kind == "advance":
        return _Item(kind, "LOAN ADVANCE DRAWDOWN", -money(rng, 20000, 100000))
    raise ValueError(kind)


def _choose_kind(rng: random.Random, spec: AccountSpec, balance: Decimal, limit: Decimal) -> str:
    """A kind by weight, steered so balances stay plausible."""
    if spec.type in ("checking", "savings", "moneyMarket"):
        if balance < 5000:
            return rng.choice(
                ["ach_credit", "wire_in"] if spec.type != "savings" else ["transfer_in", "deposit"]
            )
        if balance > 400000:
            return "wire_out" if spec.type != "savings" else "transfer_out"
    elif spec.type == "creditCard":
        if balance < -limit * Decimal("0.8"):
            return "payment_in"
        if balance > -50:
            return "card"
    elif spec.type == "loan" and balance > -5000:
        return "advance"
    kinds, weights = zip(*KIND_WEIGHTS[spec.type], strict=True)
    return rng.choices(kinds, weights)[0]


def _force_flag_kind(spec: AccountSpec, flag: str) -> str:
    if spec.type in ("creditCard",):
        return "card" if flag == "nonascii" else "payment_in"
    if spec.type == "loan":
        return "payment_in"
    if spec.type == "checking":
        return "card" if flag == "nonascii" else "wire_in"
    return "ach_credit" if flag == "nonascii" else "wire_in"


def opening_balance(rng: random.Random, spec: AccountSpec) -> Decimal:
    if spec.type == "creditCard":
        return -money(rng, 200, 3000)
    if spec.type == "loan":
        return -money(rng, 150000, 400000)
    return money(rng, 20000, 150000)


def credit_limit(spec: AccountSpec) -> Decimal | None:
    return Decimal(25000) if spec.type == "creditCard" else None


def _item_row(rng: random.Random, item: _Item, posted: date, ref: bool | None = None) -> Row:
    lag = rng.choice([0, 1, 1, 2]) if item.kind == "card" else 0
    tdate = posted
    for _ in range(lag):
        tdate -= timedelta(days=1)
        while not is_business_day(tdate):
            tdate -= timedelta(days=1)
    return Row(
        status="posted",
        transaction_date=tdate,
        posted_date=posted,
        description=item.description,
        amount=item.amount,
        rail=RAIL[item.kind],
        bai_code=BAI[item.kind],
        bank_reference=_reference(rng, item.kind, posted, ref),
    )


def pending_row(rng: random.Random, item: _Item, day: date, earliest_post: date) -> Row:
    """A pending item: no reference yet, posts 1–2 business days later (sometimes changed)."""
    due = max(add_business_days(day, rng.choice([1, 2])), earliest_post)
    roll = rng.random()
    return Row(
        status="pending",
        transaction_date=day,
        posted_date=None,
        description=item.pending_description or item.description,
        amount=item.amount,
        rail=RAIL[item.kind],
        bai_code=BAI[item.kind],
        bank_reference=None,
        post_due=due,
        post_outcome="void" if roll < 0.08 else "post",
        post_amount=(item.amount * Decimal("1.18")).quantize(CENT) if 0.08 <= roll < 0.3 else None,
        post_description=item.description if item.pending_description else None,
    )


def _business_days(start: date, end: date) -> list[date]:
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return [d for d in days if is_business_day(d)] or days


def _month_ends(start: date, end: date) -> list[date]:
    result = []
    day = date(start.year, start.month, 1)
    while day <= end:
        nxt = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        last = nxt - timedelta(days=1)
        while not is_business_day(last):
            last -= timedelta(days=1)
        if start <= last <= end:
            result.append(last)
        day = nxt
    return result


def generate_history(
    seed: int | str,
    position: int,
    spec: AccountSpec,
    end: date,
    days: int,
    count: int | None = None,
) -> History:
    """``days`` of history ending at ``end`` (the bank's today), ascending ``sort_key``."""
    rng = random.Random(f"history:{seed}:{position}")
    start = end - timedelta(days=max(1, days) - 1)
    if count is None:
        count = max(12, round(days * RATE[spec.type] * rng.uniform(0.85, 1.15)))
    n_pending = min(count, 1 + (rng.randrange(3) if spec.type in ("checking", "creditCard") else 0))
    n_void = max(1, count // 150) if count >= 10 else 0
    n_posted = count - n_pending - n_void
    posted_end = end - timedelta(days=1) if days > 1 else end
    business = _business_days(start, posted_end)

    # Slots: (posting date, tiebreak, kind or None for "choose while walking", flag).
    monthly = [(d, k) for d in _month_ends(start, posted_end) for k in MONTHLY[spec.type]]
    if len(monthly) > n_posted // 2:
        monthly = sorted(rng.sample(monthly, n_posted // 2))
    n_random = n_posted - len(monthly)
    slots: list[tuple[date, float, str | None, str]] = [
        (d, rng.random(), k, "") for d, k in monthly
    ]
    flags = ["nonascii", "multiline"]
    dup = n_random >= 6
    for i in range(n_random - (2 if dup else 0)):
        flag = flags[i] if i < len(flags) else ""
        slots.append((rng.choice(business), rng.random(), None, flag))
    if dup:
        day, tie = rng.choice(business), rng.random()
        slots += [(day, tie, "card", "dup1"), (day, tie + 1e-9, "card", "dup2")]
    slots.sort(key=lambda s: (s[0], s[1]))

    balance = opening = opening_balance(rng, spec)
    limit = credit_limit(spec) or Decimal(0)
    rows: list[Row] = []
    previous: Row | None = None
    for day, _, kind, flag in slots:
        if flag == "dup2" and previous is not None:
            row = replace(previous, bank_reference=_reference(rng, "card", day, True))
        else:
            if flag in ("nonascii", "multiline"):
                kind = _force_flag_kind(spec, flag)
            chosen = kind or _choose_kind(rng, spec, balance, limit)
            row = _item_row(
                rng, _draw(rng, spec, chosen, balance, flag), day, True if flag == "dup1" else None
            )
        balance += row.amount
        row.running_balance = balance
        row.sort_key = len(rows) + 1
        rows.append(row)
        previous = row
    if rows and all(r.bank_reference for r in rows):
        rows[len(rows) // 2].bank_reference = None
    if rows and not any(r.bank_reference for r in rows):
        rows[-1].bank_reference = _reference(rng, "fee", rows[-1].posted_date or end, True)

    extra: list[Row] = []
    for _ in range(n_void):
        item = _draw(rng, spec, _force_flag_kind(spec, "nonascii"), balance)
        row = pending_row(rng, item, rng.choice(business), end)
        row.status, row.post_due, row.post_outcome = "voided", None, None
        row.post_amount = row.post_description = None
        extra.append(row)
    recent = _business_days(start, end)[-2:]
    for i in range(n_pending):
        kind = (
            "card"
            if spec.type in ("checking", "creditCard")
            else ("payment_in" if spec.type == "loan" else "transfer_in")
        )
        item = _draw(rng, spec, kind, balance, "nonascii" if i == 0 else "")
        row = pending_row(rng, item, rng.choice(recent), add_business_days(end, 1))
        if i == 0:
            row.post_outcome = "post"
        extra.append(row)
    extra.sort(key=lambda r: (r.status != "voided", r.transaction_date))
    for i, row in enumerate(extra, start=1):
        row.sort_key = PENDING_BASE + i
    return History(opening, rows + extra, balance)


def generate_day(
    seed: int | str,
    position: int,
    spec: AccountSpec,
    day: date,
    balance: Decimal,
    month_end: bool,
) -> list[Row]:
    """New items of one bank day: card items arrive pending, the rest post that day.

    Posted rows come back without ``sort_key`` and ``running_balance``; the clock assigns
    them in order after the day's postings of earlier pending items.
    """
    if not is_business_day(day):
        return []
    rng = random.Random(f"day:{seed}:{position}:{day.isoformat()}")
    limit = credit_limit(spec) or Decimal(0)
    expected = RATE[spec.type] * 7 / 5
    n = sum(1 for _ in range(4) if rng.random() < expected / 4)
    if expected > 1:
        n += int(expected) - 1 + (1 if rng.random() < expected % 1 else 0)
    rows: list[Row] = []
    for _ in range(n):
        kind = _choose_kind(rng, spec, balance, limit)
        item = _draw(rng, spec, kind, balance)
        if kind == "card":
            rows.append(pending_row(rng, item, day, add_business_days(day, 1)))
            continue
        row = _item_row(rng, item, day)
        row.transaction_date = day
        balance += row.amount
        rows.append(row)
    if month_end:
        for kind in MONTHLY[spec.type]:
            row = _item_row(rng, _draw(rng, spec, kind, balance), day, True)
            balance += row.amount
            rows.append(row)
    return rows
