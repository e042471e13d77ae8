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
import re
from collections import Counter
from collections.abc import Collection, Sequence
from typing import Literal

from waycore.connectors.base import BankTransaction

IdentityKind = Literal["row_id", "bank_reference", "fingerprint"]
Identity = tuple[IdentityKind, str]

_SPACES = re.compile(r"\s+")


def collapse(description: str) -> str:
    """``description`` on the wire: the portal text with whitespace collapsed."""
    return _SPACES.sub(" ", description).strip()


def _normalized(description: str) -> str:
    return collapse(description).casefold()


def fingerprint(account_key: str, txn: BankTransaction, occurrence: int) -> str:
    day = txn.transaction_date or txn.posted_date
    parts = [
        account_key,
        day.isoformat() if day else "",
        format(txn.amount.normalize(), "f"),
        _normalized(txn.description),
        "" if txn.running_balance is None else format(txn.running_balance.normalize(), "f"),
        str(occurrence),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def assign_identities(
    account_key: str,
    transactions: Sequence[BankTransaction],
    references_outside_read: Collection[str] = (),
) -> list[Identity]:
    """One identity per item, unique within the read (same order as ``transactions``)."""
    row_ids = Counter(t.portal_row_id for t in transactions if t.portal_row_id)
    references = Counter(t.bank_reference for t in transactions if t.bank_reference)
    occurrences: Counter[tuple[object, ...]] = Counter()
    identities: list[Identity] = []
    for txn in transactions:
        if txn.portal_row_id and row_ids[txn.portal_row_id] == 1:
            identities.append(("row_id", txn.portal_row_id))
            continue
        reference = txn.bank_reference
        if reference and references[reference] == 1 and reference not in references_outside_read:
            identities.append(("bank_reference", reference))
            continue
        key = (
            txn.transaction_date or txn.posted_date,
            txn.amount.normalize(),
            _normalized(txn.description),
            None if txn.running_balance is None else txn.running_balance.normalize(),
        )
        index = occurrences[key]
        occurrences[key] += 1
        identities.append(("fingerprint", fingerprint(account_key, txn, index)))
    return identities
