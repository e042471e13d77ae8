"""Shapes the pages show: history rows as JSON, accounts with formatted balances."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import JSONResponse

from waycore.sandbox_bank.models import Account, Transaction
from waycore.sandbox_bank.portal.render import money
from waycore.sandbox_bank.service.accounts import TransactionPage
from waycore.sandbox_bank.service.fastpath import HistoryPage, HistoryRow

TYPE_LABELS = {
    "checking": "Checking",
    "savings": "Savings",
    "moneyMarket": "Money market",
    "creditCard": "Credit card",
    "loan": "Loan",
}


class JSON(JSONResponse):
    """A JSON response encoded by orjson (the same document as ``JSONResponse``'s)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def row_json(t: Transaction | HistoryRow) -> dict[str, Any]:
    """A history row as the page's table and the XHR endpoint both describe it."""
    amount: Decimal = t.amount
    posted = t.status == "posted"
    balance = t.running_balance if posted else None
    return {
        "id": str(t.id),
        "status": t.status,
        "transactionDate": t.transaction_date.isoformat(),
        "postedDate": t.posted_date.isoformat() if posted and t.posted_date else None,
        "description": t.description,
        "amount": f"{amount:.2f}",
        "amountText": money(amount),
        "runningBalance": f"{balance:.2f}" if balance is not None else None,
        "runningBalanceText": money(balance) if balance is not None else None,
        "bankReference": t.bank_reference,
    }


def page_json(page: TransactionPage | HistoryPage) -> dict[str, Any]:
    first = (page.page - 1) * page.limit + 1
    return {
        "rows": [row_json(r) for r in page.rows],
        "page": page.page,
        "first": first if page.rows else 0,
        "last": first + len(page.rows) - 1 if page.rows else 0,
        "hasNext": page.has_next,
        "hasPrev": page.has_previous,
    }


@dataclass
class AccountView:
    account: Account
    show_balances: bool

    def __getattr__(self, name: str) -> Any:
        return getattr(self.account, name)

    @property
    def type_label(self) -> str:
        return TYPE_LABELS.get(self.account.type, self.account.type)

    @property
    def current(self) -> str:
        return f"{self.account.current_balance:.2f}"

    @property
    def available(self) -> str:
        return f"{self.account.available_balance:.2f}"

    @property
    def current_text(self) -> str:
        return money(self.account.current_balance)

    @property
    def available_text(self) -> str:
        return money(self.account.available_balance)

    @property
    def current_negative(self) -> bool:
        return self.account.current_balance < 0

    @property
    def available_negative(self) -> bool:
        return self.account.available_balance < 0

    @property
    def identifiers(self) -> list[tuple[str, str]]:
        a = self.account
        found = [("Account number", a.account_number)]
        if a.routing_number:
            found.append(("Routing number", a.routing_number))
        if a.sort_code:
            found.append(("Sort code", a.sort_code))
        if a.iban:
            found.append(("IBAN", a.iban))
        if a.swift_bic:
            found.append(("SWIFT/BIC", a.swift_bic))
        return found
