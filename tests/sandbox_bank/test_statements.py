"""Monthly statements (PDF, CSV) and range exports (CSV, BAI2) from real generated data."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from waycore.sandbox_bank import service, statements
from waycore.sandbox_bank.errors import Forbidden, NotFound

PERMS = {
    "viewBalances": True,
    "viewTransactions": True,
    "downloadStatements": True,
    "initiatePayments": False,
    "approvePayments": False,
    "accountIds": None,
}


async def _user(session, customer, username, **perms):
    created = await service.create_delegated_user(
        session,
        customer.customer.id,
        first_name="Stan",
        last_name="Ment",
        address="1 St",
        email=f"{username}@inbox.localhost",
        username=username,
        phone_number="+12015550111",
        second_factor="none",
        permissions={**PERMS, **perms},
    )
    return created.user


async def test_monthly_pdf_and_csv_carry_the_period_and_its_balances(bank_session, make_customer):
    customer = await make_customer(seed=314, accounts=2, history_days=400)
    user = await _user(bank_session, customer, "statement-reader")
    account_id = str(customer.accounts[0].id)
    periods = await statements.list_statements(bank_session, user, account_id)
    assert len(periods) >= 12
    assert periods == sorted(periods, key=lambda p: p.period_start, reverse=True)
    today = await service.today(bank_session)
    assert all(p.period_end < today for p in periods)

    latest, previous = periods[0], periods[1]
    csv_now = list(
        csv.reader(
            io.StringIO(
                (
                    await statements.statement_csv(
                        bank_session, user, account_id, latest.year, latest.month
                    )
                ).decode()
            )
        )
    )
    csv_before = list(
        csv.reader(
            io.StringIO(
                (
                    await statements.statement_csv(
                        bank_session, user, account_id, previous.year, previous.month
                    )
                ).decode()
            )
        )
    )
    assert csv_now[0] == statements.CSV_HEADER
    rows = csv_now[1:]
    assert rows, "an operating account has rows every month"
    assert all(
        latest.period_start.isoformat() <= r[1] <= latest.period_end.isoformat() for r in rows
    )
    opening = Decimal(csv_before[-1][4])
    closing = Decimal(rows[-1][4])
    assert opening + sum(Decimal(r[3]) for r in rows) == closing

    pdf = await statements.statement_pdf(bank_session, user, account_id, latest.year, latest.month)
    assert pdf.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert f"Closing balance: {statements.format_amount(closing)}" in text
    assert f"Opening balance: {statements.format_amount(opening)}" in text
    assert latest.period_end.isoformat() in text


async def test_range_exports_csv_and_bai2(bank_session, make_customer):
    customer = await make_customer(seed=2718, accounts=1, history_days=200)
    user = await _user(bank_session, customer, "export-reader")
    account = customer.accounts[0]
    today = await service.today(bank_session)
    start, end = date(today.year, today.month, 1).replace(day=1), today
    start = date(start.year - (1 if start.month <= 2 else 0), (start.month - 3) % 12 + 1, 1)
    exported = await statements.export_csv(bank_session, user, str(account.id), start, end)
    rows = list(csv.reader(io.StringIO(exported.decode())))[1:]
    assert rows and all(start.isoformat() <= r[1] <= end.isoformat() for r in rows)

    bai = await statements.export_bai2(bank_session, user, str(account.id), start, end)
    records = bai.decode().splitlines()
    assert records[0].startswith("01,") and records[-1].startswith("99,")
    assert records[1].startswith("02,") and records[-2].startswith("98,")
    header = records[2].split(",")
    assert header[0] == "03" and header[1] == account.account_number and header[2] == "USD"
    assert header[3] == "010" and header[7] == "015"
    details = [r for r in records if r.startswith("16,")]
    assert len(details) == len(rows)
    for record, row in zip(details, rows, strict=True):
        fields = record.split(",", 6)
        assert int(fields[2]) == abs(int(Decimal(row[3]) * 100))
        assert fields[4] == row[5]
    opening_cents, closing_cents = int(header[4]), int(header[8].rstrip("/"))
    assert closing_cents == int(Decimal(rows[-1][4]) * 100)
    moved = sum(int(Decimal(r[3]) * 100) for r in rows)
    assert opening_cents + moved == closing_cents
    trailer = records[-3].rstrip("/").split(",")
    assert trailer[0] == "49"
    assert int(trailer[1]) == opening_cents + closing_cents + sum(
        abs(int(Decimal(r[3]) * 100)) for r in rows
    )
    assert int(trailer[2]) == len(details) + 2
    assert int(records[-1].rstrip("/").split(",")[3]) == len(records)


async def test_statements_need_the_permission_and_a_closed_month(bank_session, make_customer):
    customer = await make_customer(seed=5, accounts=1, history_days=90)
    reader = await _user(bank_session, customer, "no-statements", downloadStatements=False)
    with pytest.raises(Forbidden):
        await statements.list_statements(bank_session, reader, str(customer.accounts[0].id))
    allowed = await _user(bank_session, customer, "with-statements")
    today = await service.today(bank_session)
    with pytest.raises(NotFound):
        await statements.statement_pdf(
            bank_session, allowed, str(customer.accounts[0].id), today.year, today.month
        )
    with pytest.raises(NotFound):
        await statements.statement_csv(bank_session, allowed, "not-an-id", 2025, 1)
