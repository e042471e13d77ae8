"""Page parsing on saved HTML strings: no browser, no bank."""

from __future__ import annotations

from decimal import Decimal

import pytest

from waycore.connectors.addresses import check_portal_host, is_public
from waycore.connectors.base import InstitutionUnavailable
from waycore.connectors.html import parse
from waycore.connectors.pages import AmountCell, Attr, Cell, Page, PageParseError, Table
from waycore.connectors.pages import parse_amount as amount
from waycore.connectors.registry import connector_for
from waycore.connectors.sandbox_bank import SandboxBankConnector
from waycore.connectors.sandbox_bank.pages import (
    AccountPage,
    AccountsPage,
    CodePage,
    ErrorPage,
    HardwareTokenPage,
    LoginPage,
    StatementsPage,
    TotpEnrolPage,
    history_rows,
)
from waycore.connectors.snapshots import redact

ACCOUNTS = """<html><body><nav id="main-nav"><a href="/accounts">Accounts</a>
<a href="/statements">Statements</a></nav>
<main id="accounts"><table class="accounts" id="accounts-table">
<thead><tr><th>Status</th><th>Account name</th><th>Type</th><th>Number</th><th>Currency</th>
<th class="num">Current balance</th><th class="num">Available balance</th></tr></thead>
<tbody>
<tr data-account-id="a1" data-account-type="checking"><td class="status">open</td>
<td class="account-name">
<a class="account-link" href="/accounts/a1">Operating &amp; Payroll</a></td>
<td>Checking</td><td>••••4321</td><td>USD</td>
<td class="balance current-balance negative" data-value="-1234.56">-1,234.56</td>
<td data-value="100.00">100.00</td></tr>
<tr data-account-id="a2" data-account-type="creditCard">
<td>closed</td><td>Card</td><td>Credit card</td>
<td>••••9999</td><td>EUR</td><td data-value="0.00">0.00</td><td data-value="5.00">5.00</td></tr>
</tbody></table></main></body></html>"""


def test_accounts_columns_are_found_by_header_text_not_position() -> None:
    page = AccountsPage(ACCOUNTS)
    assert AccountsPage.recognise(page.doc)
    first, second = page.accounts
    assert first == {
        "bank_id": "a1",
        "name": "Operating & Payroll",
        "masked_number": "••••4321",
        "currency": "USD",
        "current_balance": Decimal("-1234.56"),
        "available_balance": Decimal("100.00"),
        "status": "open",
        "type": "checking",
    }
    assert second["type"] == "creditCard" and second["status"] == "closed"
    assert page.nav == {"accounts", "statements"}


def test_balance_columns_are_optional_but_other_columns_are_not() -> None:
    no_balances = ACCOUNTS.replace("Current balance", "x1").replace("Available balance", "x2")
    assert AccountsPage(no_balances).accounts[0]["current_balance"] is None
    broken = AccountsPage(ACCOUNTS.replace("Account name", "Nickname"))
    with pytest.raises(PageParseError, match="Account name"):
        broken.validate()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,234.56", "1234.56"),
        ("-1,234.56", "-1234.56"),
        ("(1,234.56)", "-1234.56"),
        ("£1,234.56", "1234.56"),
        ("-€12.00", "-12.00"),
        ("€ -12.00", "-12.00"),
        ("(£ 7.10)", "-7.10"),
        ("\u221212.00", "-12.00"),
        ("+5", "5"),
        ("1 234.56", "1234.56"),
        ("12.00 DR", "-12.00"),
        ("12.00 CR", "12.00"),
        ("12.00-", "-12.00"),
        ("USD 3.00", "3.00"),
    ],
)
def test_amounts(text: str, value: str) -> None:
    assert amount(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "abc", "1,23,4.5", "--1", "1.2.3"])
def test_bad_amounts_refuse_to_guess(text: str) -> None:
    with pytest.raises(PageParseError):
        amount(text)


def test_generic_table_with_pattern_and_dataclass_items() -> None:
    from dataclasses import dataclass

    @dataclass
    class Row:
        ref: str
        last4: str | None
        amount: Decimal | None

    class Demo(Page):
        is_here = "main#demo"
        rows = Table(
            "table",
            item=Row,
            fields={
                "ref": Attr("data-ref"),
                "last4": Cell("Number", pattern=r"(\d{4})$"),
                "amount": AmountCell("Amount"),
            },
        )

    html = (
        "<main id=demo><table><tr><th>Amount</th><th>Number</th></tr>"
        "<tbody><tr data-ref=r1><td>(1,000.00)</td><td>GB12 3456</td></tr>"
        "<tr class=empty><td colspan=2>none</td></tr></tbody></table></main>"
    )
    assert Demo(html).rows == [Row("r1", "3456", Decimal("-1000.00"))]


def test_log_in_pages() -> None:
    login = LoginPage(
        '<main id="login"><p id="login-error" data-reason="invalid_credentials">No</p>'
        '<form id="login-form"></form></main>'
    )
    assert login.error_reason == "invalid_credentials"
    assert LoginPage.recognise(login.doc)
    assert not LoginPage.recognise(parse('<main id="signon"><form id="signon-form"></form></main>'))
    enrol = TotpEnrolPage(
        '<main id="totp-enrol"><code id="totp-secret" data-secret="JBSWY3DPEHPK3PXP">'
        'JBSW Y3DP EHPK 3PXP</code><form id="totp-form"></form></main>'
    )
    assert enrol.secret == "JBSWY3DPEHPK3PXP"
    code = CodePage(
        '<main id="verify-code" data-channel="sms"><form id="code-form">'
        '<input name="remember_device" type="checkbox"></form>'
        '<form id="resend-form"></form></main>'
    )
    assert (code.channel, code.remember_offered, code.can_resend) == ("sms", True, True)
    token = (
        '<main id="hardware-token" data-channel="hardwareToken"><form id="code-form"></form></main>'
    )
    assert HardwareTokenPage.recognise(parse(token)) and not CodePage.recognise(parse(token))
    error = ErrorPage('<main id="error" data-error-code="account_locked" data-status="403"></main>')
    assert (error.code, error.status) == ("account_locked", 403)


def test_account_page_identifiers_and_history_endpoint() -> None:
    page = AccountPage(
        '<main id="account" data-account-id="a1"><dl id="account-summary">'
        "<dt>Account number</dt><dd>000123454321</dd><dt>IBAN</dt><dd>GB00X</dd></dl>"
        '<section id="history" data-history-url="/accounts/a1/history">'
        '<table id="transactions"></table></section></main>'
    )
    page.validate()
    assert page.identifiers == {"account number": "000123454321", "iban": "GB00X"}
    assert page.history_url == "/accounts/a1/history" and page.may_view_transactions
    refused = AccountPage('<main id="account" data-account-id="a1"><p id="no-history"></p></main>')
    refused.validate()
    assert refused.history_url is None
    with pytest.raises(PageParseError):
        AccountPage('<main id="account" data-account-id="a1"></main>').validate()


def test_statements_page() -> None:
    page = StatementsPage(
        '<main id="statements"><table id="statements-list"><thead><tr><th>Period</th>'
        "<th>From</th><th>To</th><th>Download</th></tr></thead><tbody>"
        '<tr data-account-id="a1" data-month="2026-01"><td>January 2026</td><td>2026-01-01</td>'
        '<td>2026-01-31</td><td><a class="statement-pdf" href="/statements/a1/2026-01.pdf">PDF</a>'
        '<a class="statement-csv" href="/statements/a1/2026-01.csv">CSV</a></td></tr>'
        "</tbody></table></main>"
    )
    assert page.statements == [
        {
            "account_bank_id": "a1",
            "month": "2026-01",
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
        }
    ]
    assert page.links[("2026-01", "csv")] == "/statements/a1/2026-01.csv"


def test_history_json_rows() -> None:
    data = {
        "rows": [
            {
                "id": "t1",
                "status": "pending",
                "transactionDate": "2026-03-01",
                "postedDate": None,
                "description": "Card  ACME\nLondon",
                "amount": "-12.30",
                "runningBalance": None,
                "bankReference": None,
            },
            {
                "id": "t2",
                "status": "posted",
                "transactionDate": "2026-02-27",
                "postedDate": "2026-02-28",
                "description": "Salary",
                "amount": "1000.00",
                "runningBalance": "1500.25",
                "bankReference": "REF1",
            },
        ],
        "hasNext": True,
    }
    rows, more = history_rows(data, "a1")
    assert more
    assert [(r.portal_row_id, r.status, r.amount, r.running_balance) for r in rows] == [
        ("t1", "pending", Decimal("-12.30"), None),
        ("t2", "posted", Decimal("1000.00"), Decimal("1500.25")),
    ]
    assert rows[1].bank_reference == "REF1" and rows[0].posted_date is None
    with pytest.raises(PageParseError):
        history_rows({"rows": [{"id": "x"}], "hasNext": False}, "a1")
    with pytest.raises(PageParseError):
        history_rows({"items": []}, "a1")


def test_selectors() -> None:
    doc = parse(
        '<div id=a class="x y"><p><span data-k="v w">1</span></p><span>2</span></div>'
        '<span data-k="z">3</span>'
    )
    assert [n.text() for n in doc.css("div#a span")] == ["1", "2"]
    assert [n.text() for n in doc.css("div > span")] == ["2"]
    assert [n.text() for n in doc.css("[data-k~=w], span[data-k^=z]")] == ["1", "3"]
    assert [n.text() for n in doc.css(".x.y p > span[data-k*='v ']")] == ["1"]
    with pytest.raises(ValueError):
        doc.css("span:first-child")


def test_redaction() -> None:
    html = (
        "<html><head><script>var token='abc';</script></head><body>"
        '<input name="username" value="svc-user"><input type="password" value="S3cret!pw">'
        '<textarea>notes 12345678</textarea><p onclick="steal()">Account 1234 5678 9012 3456'
        " balance 12,345.67 on 2026-03-04 for svc-user, code 482913, ref 12</p>"
        '<a href="/accounts/98765432">x</a></body></html>'
    )
    out = redact(html, secrets=["svc-user", "S3cret!pw"])
    for gone in ("<script", "token", "svc-user", "S3cret!pw", "12345678", "onclick", "482913"):
        assert gone not in out
    assert "1234 5678" not in out and "12,345.67" not in out and "98765432" not in out
    assert "2026-03-04" in out and "ref 12" in out


async def test_address_check() -> None:
    assert not is_public("127.0.0.1") and not is_public("10.1.2.3")
    assert not is_public("169.254.169.254") and not is_public("::ffff:192.168.0.1")
    assert is_public("93.184.215.14")
    for url in ("http://127.0.0.1:8100", "https://localhost/", "http://[::1]/", "https://10.0.0.1"):
        with pytest.raises(InstitutionUnavailable):
            await check_portal_host(url)
        assert await check_portal_host(url, environment="test") == []
    assert await check_portal_host("https://93.184.215.14/") == ["93.184.215.14"]


def test_registry() -> None:
    assert isinstance(connector_for("sandbox_bank"), SandboxBankConnector)
    assert connector_for("some_bank_without_connector") is None
    assert connector_for(None) is None
