"""Statements ride on every sync: the first stores every month the bank offers (PDF and CSV,
with sha256), the next one adds none and emits none."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import secrets
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from tests.activation.system import System, is_active_and_synced
from waycore.db import make_engine, make_sessionmaker
from waycore.sandbox_bank import statements as bank_statements
from waycore.sandbox_bank.service.accounts import visible_accounts
from waycore.sandbox_bank.service.users import get_user

pytestmark = [pytest.mark.browser, pytest.mark.integration]

Key = tuple[str, date, date, str]


async def _bank_statements(database_url: str, username: str) -> dict[Key, bytes | None]:
    """What the bank offers the user: every (account, period, format); CSV bytes included
    (the bank renders them deterministically)."""
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session:
            user = await get_user(session, username)
            assert user is not None
            accounts = await visible_accounts(session, user)
            offered: dict[Key, bytes | None] = {}
            for account in accounts:
                account_id = str(account.id)
                periods = await bank_statements.list_statements(session, user, account_id)
                for p in periods:
                    offered[(account_id, p.period_start, p.period_end, "pdf")] = None
                    offered[
                        (account_id, p.period_start, p.period_end, "csv")
                    ] = await bank_statements.statement_csv(
                        session, user, account_id, p.year, p.month
                    )
            return offered
    finally:
        await engine.dispose()


def _stored(system: System, cid: str) -> dict[Key, dict[str, Any]]:
    rows = system.sql(
        "select a.bank_id, s.period_start, s.period_end, s.format, s.id::text, s.sha256, "
        "s.size_bytes, s.content_type, s.content, s.org_id, s.environment "
        "from statements s join accounts a on a.id = s.account_id where s.connection_id = %s",
        cid,
    )
    return {
        (r[0], r[1], r[2], r[3]): {
            "id": r[4],
            "sha256": r[5],
            "size": r[6],
            "type": r[7],
            "content": bytes(r[8]),
            "environment": r[10],
        }
        for r in rows
    }


def _available(system: System, cid: str) -> list[dict[str, Any]]:
    rows = system.sql(
        "select data from events where type = 'statement.available' and data->>'connectionId' = %s",
        cid,
    )
    return [r[0] for r in rows]


def _sync_events(system: System, cid: str) -> int:
    return int(
        system.sql(
            "select count(*) from events where type = 'transactions.sync_available' "
            "and data->>'connectionId' = %s",
            cid,
        )[0][0]
    )


def _closing_balance(csv_bytes: bytes) -> Decimal | None:
    rows = list(csv.reader(io.StringIO(csv_bytes.decode())))
    assert rows[0] == bank_statements.CSV_HEADER
    return Decimal(rows[-1][4]) if len(rows) > 1 else None


def test_first_sync_stores_every_statement_and_the_next_adds_none(system: System) -> None:
    api = system.client()
    username = f"demo-{secrets.token_hex(3)}"
    with system.worker(WAYCORE_STATEMENT_PERIODS="0"):
        cid = api.demo_connection(username)
        api.wait_for(cid, is_active_and_synced, timeout_s=240)
        stored = _stored(system, cid)
        offered = asyncio.run(_bank_statements(system.database_url, username))

        assert set(stored) == set(offered)
        assert len({k[0] for k in stored}) == 3 and len(stored) >= 3 * 2 * 30
        for key, row in stored.items():
            assert row["sha256"] == hashlib.sha256(row["content"]).hexdigest()
            assert row["size"] == len(row["content"])
            assert row["environment"] == "test"
            if key[3] == "pdf":
                assert row["type"] == "application/pdf"
                assert row["content"].startswith(b"%PDF")
            else:
                assert row["type"] == "text/csv; charset=utf-8"
                assert row["content"] == offered[key]  # byte for byte what the bank serves
        events = _available(system, cid)
        assert sorted(e["statementId"] for e in events) == sorted(r["id"] for r in stored.values())

        # a PDF says what its period closed at (the CSV of the same month is the bank's ledger)
        checked = 0
        for (account, start, end, fmt), row in sorted(stored.items(), reverse=True):
            closing = _closing_balance(stored[(account, start, end, "csv")]["content"])
            if fmt != "pdf" or closing is None:
                continue
            reader = PdfReader(io.BytesIO(row["content"]))
            text = "\n".join(page.extract_text() for page in reader.pages)
            assert f"Closing balance: {bank_statements.format_amount(closing)}" in text
            assert end.isoformat() in text
            checked += 1
            if checked == 3:
                break
        assert checked == 3

        response = api.call("PUT", f"/v1/connections/{cid}/sync")
        assert response.status_code == 202, response.text
        api.wait_for(cid, lambda c: is_active_and_synced(c) and _sync_events(system, cid) == 2)
    assert _stored(system, cid).keys() == stored.keys()
    assert len(_available(system, cid)) == len(events)
