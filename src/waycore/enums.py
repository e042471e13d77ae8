"""Value sets shared by the connector contract and the wire shapes (API.md sections 9 and 10).

A foundation module: connectors and the domain both import it, so each set is spelled once.
"""

from __future__ import annotations

from typing import Literal

AccountType = Literal[
    "checking",
    "savings",
    "moneyMarket",
    "creditCard",
    "loan",
    "investment",
    "wallet",
    "other",
    "unknown",
]
AccountStatus = Literal["open", "closed", "unknown"]
TransactionStatus = Literal["pending", "posted", "reversed", "cancelled", "unknown"]
Rail = Literal[
    "internalTransfer",
    "card",
    "ach",
    "sepaCredit",
    "sepaDebit",
    "wire",
    "swift",
    "fasterPayments",
    "check",
    "fee",
    "interest",
    "other",
    "unknown",
]
