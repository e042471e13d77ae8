"""Statements: monthly PDF (fpdf2) and CSV per account, date-range exports as CSV and BAI2.

A month's statement exists once the bank clock has passed its last day, for every month
from the account's first row. It lists the rows posted in the period (posting order) with
the opening and closing balance. Amounts in the PDF read like ``-1,234.56``; CSV and BAI2
use plain ``-1234.56`` / cents. Every call checks the user's ``downloadStatements``
permission and account access.

    list_statements(session, user, account_id) -> list[StatementPeriod]   (newest first)
    statement_pdf(session, user, account_id, year, month) -> bytes
    statement_csv(session, user, account_id, year, month) -> bytes
    export_csv(session, user, account_id, date_from, date_to) -> bytes
    export_bai2(session, user, account_id, date_from, date_to) -> bytes
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.sandbox_bank import clock
from waycore.sandbox_bank.errors import Forbidden, NotFound, ValidationFailed
from waycore.sandbox_bank.models import PENDING_BASE, Account, Customer, Transaction, User
from waycore.sandbox_bank.service._common import tx
from waycore.sandbox_bank.service.accounts import get_visible_account
from waycore.sandbox_bank.service.users import can

BANK_NAME = "Sandbox Bank"
BANK_ID = "SANDBOXBK"
MAX_EXPORT_DAYS = 3660
_FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu")]


@dataclass(frozen=True)
class StatementPeriod:
    account_id: str
    year: int
    month: int
    period_start: date
    period_end: date


@dataclass
class Period:
    account: Account
    start: date
    end: date
    opening: Decimal
    closing: Decimal
    rows: list[Transaction]


def _month_end(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


async def _account(session: AsyncSession, user: User, account_id: str) -> Account:
    if not can(user, "downloadStatements"):
        raise Forbidden("You do not have permission to download statements.")
    return await get_visible_account(session, user, account_id)


async def list_statements(
    session: AsyncSession, user: User, account_id: str
) -> list[StatementPeriod]:
    """Every closed month from the account's first row, newest first."""
    account = await _account(session, user, account_id)
    async with tx(session):
        today = await clock.today_in(session)
        first = await session.scalar(
            select(func.min(Transaction.posted_date)).where(Transaction.account_id == account.id)
        )
    start = min(first or account.opened_on, account.opened_on)
    periods = []
    year, month = start.year, start.month
    while _month_end(year, month) < today:
        periods.append(
            StatementPeriod(
                str(account.id), year, month, date(year, month, 1), _month_end(year, month)
            )
        )
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return periods[::-1]


async def _period(session: AsyncSession, account: Account, start: date, end: date) -> Period:
    async with tx(session):
        before = await session.scalar(
            select(Transaction.running_balance)
            .where(
                Transaction.account_id == account.id,
                Transaction.sort_key < PENDING_BASE,
                Transaction.posted_date < start,
            )
            .order_by(Transaction.sort_key.desc())
            .limit(1)
        )
        rows = list(
            (
                await session.scalars(
                    select(Transaction)
                    .where(
                        Transaction.account_id == account.id,
                        Transaction.status == "posted",
                        Transaction.posted_date >= start,
                        Transaction.posted_date <= end,
                    )
                    .order_by(Transaction.sort_key)
                    .execution_options(populate_existing=True)
                )
            ).all()
        )
    opening = before if before is not None else account.opening_balance
    closing = rows[-1].running_balance if rows and rows[-1].running_balance is not None else opening
    return Period(account, start, end, opening, closing, rows)


async def _month(
    session: AsyncSession, user: User, account_id: str, year: int, month: int
) -> Period:
    account = await _account(session, user, account_id)
    if not 1 <= month <= 12 or not 1900 <= year <= 9999:
        raise NotFound("Statement not found.")
    periods = await list_statements(session, user, account_id)
    if not any(p.year == year and p.month == month for p in periods):
        raise NotFound("Statement not found.")
    return await _period(session, account, date(year, month, 1), _month_end(year, month))


async def _range(
    session: AsyncSession, user: User, account_id: str, date_from: date, date_to: date
) -> Period:
    account = await _account(session, user, account_id)
    if date_from > date_to:
        raise ValidationFailed.single("dateFrom", "must not be after dateTo")
    if (date_to - date_from).days > MAX_EXPORT_DAYS:
        raise ValidationFailed.single("dateTo", "the range may span at most 10 years")
    return await _period(session, account, date_from, date_to)


def format_amount(value: Decimal) -> str:
    """``-1,234.56``: the PDF's figures."""
    return f"{value:,.2f}"


def _one_line(text: str) -> str:
    return " / ".join(part.strip() for part in text.splitlines() if part.strip())


async def statement_pdf(
    session: AsyncSession, user: User, account_id: str, year: int, month: int
) -> bytes:
    period = await _month(session, user, account_id, year, month)
    async with tx(session):
        customer = await session.get(Customer, period.account.customer_id)
    return render_pdf(period, customer.name if customer else "")


def _font(pdf: FPDF) -> tuple[str, bool]:
    for folder in _FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            return "DejaVu", True
    return "Helvetica", False


def render_pdf(period: Period, customer_name: str) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    family, unicode_ok = _font(pdf)

    def safe(text: str) -> str:
        return text if unicode_ok else text.encode("latin-1", "replace").decode("latin-1")

    account = period.account
    pdf.set_font(family, "B", 16)
    pdf.cell(0, 9, BANK_NAME, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 10)
    lines = [
        f"Account statement: {account.name} ({account.official_name})",
        f"Customer: {customer_name}",
        f"Account number: {account.masked_number}   Currency: {account.currency}",
        f"Period: {period.start.isoformat()} to {period.end.isoformat()}",
        f"Opening balance: {format_amount(period.opening)}",
        f"Closing balance: {format_amount(period.closing)}",
    ]
    for line in lines:
        pdf.cell(0, 6, safe(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (22, 22, 86, 30, 30)
    pdf.set_font(family, "B", 8)
    for width, title in zip(
        widths, ("Date", "Posted", "Description", "Amount", "Balance"), strict=True
    ):
        pdf.cell(width, 6, title, border="B", align="R" if title in ("Amount", "Balance") else "L")
    pdf.ln()
    pdf.set_font(family, "", 8)
    for row in period.rows:
        values = (
            row.transaction_date.isoformat(),
            row.posted_date.isoformat() if row.posted_date else "",
            safe(_one_line(row.description))[:60],
            format_amount(row.amount),
            format_amount(row.running_balance) if row.running_balance is not None else "",
        )
        for width, value, align in zip(widths, values, "LLLRR", strict=True):
            pdf.cell(width, 5, value, align=align)
        pdf.ln()
    if not period.rows:
        pdf.cell(0, 6, "No transactions in this period.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(family, "B", 10)
    pdf.cell(0, 6, f"Closing balance: {format_amount(period.closing)}")
    return bytes(pdf.output())


CSV_HEADER = [
    "Transaction Date",
    "Posted Date",
    "Description",
    "Amount",
    "Running Balance",
    "Bank Reference",
    "Transaction Id",
]


def render_csv(period: Period) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in period.rows:
        writer.writerow(
            [
                row.transaction_date.isoformat(),
                row.posted_date.isoformat() if row.posted_date else "",
                row.description,
                f"{row.amount:.2f}",
                f"{row.running_balance:.2f}" if row.running_balance is not None else "",
                row.bank_reference or "",
                str(row.id),
            ]
        )
    return out.getvalue().encode("utf-8")


async def statement_csv(
    session: AsyncSession, user: User, account_id: str, year: int, month: int
) -> bytes:
    return render_csv(await _month(session, user, account_id, year, month))


async def export_csv(
    session: AsyncSession, user: User, account_id: str, date_from: date, date_to: date
) -> bytes:
    """Posted rows with a posted date in ``[date_from, date_to]``."""
    return render_csv(await _range(session, user, account_id, date_from, date_to))


async def export_bai2(
    session: AsyncSession, user: User, account_id: str, date_from: date, date_to: date
) -> bytes:
    """A BAI2 file: one group, one account (010 opening / 015 closing ledger), a 16 record
    per posted row (type code, amount in cents, bank and customer reference, text)."""
    period = await _range(session, user, account_id, date_from, date_to)
    return render_bai2(period, datetime.now(UTC))


def _cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


def render_bai2(period: Period, created: datetime) -> bytes:
    account = period.account
    receiver = f"CUST{account.customer_id.hex[:8].upper()}"
    stamp_date, stamp_time = created.strftime("%y%m%d"), created.strftime("%H%M")
    as_of = period.end.strftime("%y%m%d")
    details = []
    control = _cents(period.opening) + _cents(period.closing)
    for row in period.rows:
        cents = abs(_cents(row.amount))
        control += cents
        text = _one_line(row.description).replace(",", " ")
        details.append(
            f"16,{row.bai_code},{cents},Z,{row.bank_reference or ''},"
            f"{row.customer_reference or ''},{text}"
        )
    account_records = [
        f"03,{account.account_number},{account.currency},010,{_cents(period.opening)},,,"
        f"015,{_cents(period.closing)},,/",
        *details,
    ]
    account_records.append(f"49,{control},{len(account_records) + 1}/")
    group = [f"02,{receiver},{BANK_ID},1,{as_of},2400,{account.currency},2/", *account_records]
    group.append(f"98,{control},1,{len(group) + 1}/")
    records = [f"01,{BANK_ID},{receiver},{stamp_date},{stamp_time},1,,,2/", *group]
    records.append(f"99,{control},1,{len(records) + 1}/")
    return ("\n".join(records) + "\n").encode("utf-8")
