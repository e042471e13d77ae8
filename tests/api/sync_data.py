"""Seed accounts and transactions for API tests through the real sync engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from fastapi import FastAPI

from tests.api.conftest import TestKey
from tests.sync.conftest import ConnectionRow, insert_connection
from waycore.connectors.base import BankAccount, BankBalance, BankTransaction
from waycore.sync.engine import SyncResult, apply_snapshot


async def seed(
    app: FastAPI,
    key: TestKey,
    accounts: Sequence[BankAccount],
    transactions: Mapping[str, Sequence[BankTransaction]] | None = None,
    balances: Sequence[BankBalance] = (),
    *,
    connection: ConnectionRow | None = None,
    window: date | None = None,
) -> tuple[ConnectionRow, SyncResult]:
    async with app.state.sessionmaker() as session:
        if connection is None:
            connection = await insert_connection(session, key.org, key.environment)
        result = await apply_snapshot(
            session, connection.id, accounts, transactions or {}, balances, window=window
        )
    return connection, result


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["data"]]
