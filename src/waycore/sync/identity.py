"""Stable transaction identity (DESIGN.md section 4), decided per account and per read.

In order: the portal's own row id (kept from pending to posted) where unique in the read;
else the bank's reference, only where unique within the account: once in this read and not
carried by a stored row outside the read window (references repeat, or appear only once an
item posts); else a fingerprint of (account, date, amount, normalized description, running
balance, occurrence index), the index counting identical items in the order the portal lists
them, so two identical payments on one day stay two transactions on every re-read.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Literal

from waycore.connectors.base import BankTransaction

IdentityKind = Literal["row_id", "bank_reference", "fingerprint"]
Identity = tuple[IdentityKind, str]


def collapse(description: str) -> str:
    """``description`` on the wire: the portal text with whitespace collapsed."""
    return " ".join(description.split())


def _number(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _key(txn: BankTransaction) -> str:
    """What identical items share: date, amount, normalized description, running balance."""
    day = txn.transaction_date or txn.posted_date
    return "\x1f".join(
        (
            day.isoformat() if day else "",
            _number(txn.amount),
            collapse(txn.description).casefold(),
            _number(txn.running_balance),
        )
    )


def fingerprint(account_key: str, txn: BankTransaction, occurrence: int) -> str:
    return _fingerprint(account_key, _key(txn), occurrence)


def _fingerprint(account_key: str, key: str, occurrence: int) -> str:
    raw = f"{account_key}\x1f{key}\x1f{occurrence}"
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def assign_identities(
    account_key: str,
    transactions: Sequence[BankTransaction],
    references_outside_read: Collection[str] = (),
) -> list[Identity]:
    """One identity per item, unique within the read (same order as ``transactions``)."""
    row_ids = Counter(t.portal_row_id for t in transactions if t.portal_row_id)
    references = Counter(t.bank_reference for t in transactions if t.bank_reference)
    occurrences: Counter[str] = Counter()
    identities: list[Identity] = []
    for txn in transactions:
        if txn.portal_row_id and row_ids[txn.portal_row_id] == 1:
            identities.append(("row_id", txn.portal_row_id))
            continue
        reference = txn.bank_reference
        if reference and references[reference] == 1 and reference not in references_outside_read:
            identities.append(("bank_reference", reference))
            continue
        key = _key(txn)
        index = occurrences[key]
        occurrences[key] += 1
        identities.append(("fingerprint", _fingerprint(account_key, key, index)))
    return identities
