"""The portal as a treasury clerk uses it: onboarding, codes, history, statements."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import pyotp
import pytest
from playwright.async_api import Page
from pypdf import PdfReader

from tests.sandbox_bank.browser.conftest import (
    Bank,
    change_password,
    code_in,
    first_login,
    log_in,
)

pytestmark = pytest.mark.browser
NEW_PASSWORD = "Treasury2026rocks"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


async def collect_history(page: Page) -> list[dict[str, str]]:
    """Every row of the account page's history, clicking Next until it is disabled."""
    rows: list[dict[str, str]] = []
    for _ in range(500):
        await page.wait_for_selector("section#history[data-loading=false]")
        rows.extend(
            await page.eval_on_selector_all(
                "table#transactions tbody tr[data-txn-id]",
                """els => els.map(tr => ({
                    id: tr.dataset.txnId, status: tr.dataset.status,
                    amount: tr.querySelector('td.amount').textContent,
                    balance: tr.querySelector('td.running-balance').textContent,
                    posted: tr.querySelector('td.posted-date').textContent}))""",
            )
        )
        if await page.is_disabled("#next-page"):
            return rows
        before = await page.get_attribute("section#history", "data-page")
        await page.click("#next-page")
        await page.wait_for_function(
            "p => document.querySelector('section#history').dataset.page !== p", arg=before
        )
    raise AssertionError("history did not end")


def amount(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


async def test_admin_creates_user_who_logs_in_with_email_code_and_walks_history(
    page: Page, bank: Bank
) -> None:
    customer = await bank.customer(9101, accounts=2, transactionsPerAccount=120)
    # The administrator creates the delegated user in the portal.
    await log_in(page, customer["adminUsername"], customer["adminPassword"])
    assert await page.locator("main#admin-users").count() == 1
    await page.click("#new-user")
    await page.fill("#first_name", "Dana")
    await page.fill("#last_name", "Clerk")
    await page.fill("#address", "1 Example Street\nSpringfield, IL 62701")
    await page.fill("#email", "dana.9101@inbox.localhost")
    await page.fill("#phone_number", "+12015550142")
    await page.fill("#username", "dana9101")
    await page.select_option("#second_factor", "email")
    for perm in ("viewBalances", "viewTransactions", "downloadStatements", "initiatePayments"):
        await page.check(f"#perm-{perm}")
    sent_before = bank.mailbox.count("emails")
    await page.click("#create-user")
    await page.wait_for_selector("main#admin-user-created")
    shown = (await page.inner_text("#temporary-password")).strip()
    # The temporary password arrives by real SMTP, the same as shown.
    mail = await bank.mailbox.email_to(
        "dana.9101@inbox.localhost", "temporary password", after=sent_before
    )
    assert shown in mail.get_payload()
    await page.goto("/admin/users")
    assert await page.locator("tr[data-username=dana9101]").count() == 1
    await page.click("#logout")

    # First login: forced password change (bank rules), then an e-mailed code.
    await log_in(page, "dana9101", shown)
    await page.fill("input[name=current_password]", shown)
    await page.fill("input[name=new_password]", "short")
    await page.fill("input[name=confirm_password]", "short")
    await page.click("#change-password-submit")
    assert "10 to 128" in await page.inner_text("#password-error")
    before = bank.mailbox.count("emails")
    await change_password(page, shown, NEW_PASSWORD)
    assert await page.get_attribute("main#verify-code", "data-channel") == "email"
    message = await bank.mailbox.email_to(
        "dana.9101@inbox.localhost", "verification code", after=before
    )
    code = code_in(message.get_payload())
    await page.fill("input[name=code]", code)
    await page.click("#code-submit")
    await page.wait_for_selector("main#accounts")

    # Accounts and the account page (screenshot), then the whole history by Next.
    account_id = await page.get_attribute(
        "table.accounts tbody tr[data-account-id]", "data-account-id"
    )
    await page.click(f"tr[data-account-id='{account_id}'] a.account-link")
    await page.wait_for_selector("main#account table#transactions tr[data-txn-id]")
    assert await page.locator("table#transactions tbody tr[data-txn-id]").count() == 25
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "sandbox-bank-account.png"), full_page=True)
    rows = await collect_history(page)
    async with bank.control() as c:
        truth = (await c.get(f"/accounts/{account_id}/transactions")).json()["data"]
        accounts = (await c.get(f"/customers/{customer['customerId']}/accounts")).json()["data"]
    listed = [t for t in truth if t["status"] != "voided"]
    assert [r["id"] for r in rows] == [t["id"] for t in listed]
    posted = [r for r in rows if r["status"] == "posted"]
    newest, oldest = posted[0], posted[-1]
    movement = amount(newest["balance"]) - (amount(oldest["balance"]) - amount(oldest["amount"]))
    assert sum(amount(r["amount"]) for r in posted) == movement
    current = next(a for a in accounts if a["accountId"] == account_id)["currentBalance"]
    assert amount(newest["balance"]) == Decimal(current)
    assert all(r["posted"] == "" for r in rows if r["status"] == "pending")

    # Statements: the PDF of the newest month carries its closing balance.
    await page.goto(f"/statements?account={account_id}")
    link = page.locator("a.statement-pdf").first
    month = await page.get_attribute("table#statements-list tbody tr", "data-month")
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    pdf_text = "".join(
        p.extract_text()
        for p in PdfReader(io.BytesIO(Path(await download.path()).read_bytes())).pages
    )
    assert month is not None
    period_end_rows = [
        t for t in listed if t["status"] == "posted" and t["postedDate"] <= _month_end(month)
    ]
    closing = Decimal(period_end_rows[0]["runningBalance"]) if period_end_rows else None
    assert closing is not None and f"{closing:,.2f}" in pdf_text
    # CSV of the same month and a BAI2 export of a range.
    async with page.expect_download() as info:
        await page.locator("a.statement-csv").first.click()
    csv_text = Path(await (await info.value).path()).read_text()
    assert f"{closing:.2f}" in csv_text
    await page.fill("#export-from", f"{month}-01")
    await page.fill("#export-to", _month_end(month))
    await page.select_option("#export-format", "bai2")
    async with page.expect_download() as info:
        await page.click("#export-submit")
    bai = Path(await (await info.value).path()).read_text()
    assert bai.startswith("01,") and "\n16," in bai and bai.rstrip().endswith("/")


def _month_end(month: str) -> str:
    import calendar

    year, mon = (int(x) for x in month.split("-"))
    return f"{month}-{calendar.monthrange(year, mon)[1]:02d}"


async def test_sms_and_totp_users_pass_their_codes(page: Page, bank: Bank) -> None:
    customer = await bank.customer(9102, accounts=1, transactionsPerAccount=30)
    sms_user = await bank.delegated_user(customer["customerId"], "sam9102", "sms")
    await log_in(page, "sam9102", sms_user["temporaryPassword"])
    before = bank.mailbox.count("sms")
    await change_password(page, sms_user["temporaryPassword"], NEW_PASSWORD)
    assert await page.get_attribute("main#verify-code", "data-channel") == "sms"
    sms = await bank.mailbox.sms_to(sms_user["phone"], after=before)
    assert sms["path"] == "/sms?token=t0k"
    # The resend link sends a fresh code; the newest one works.
    await page.click("#resend-code")
    sms = await bank.mailbox.sms_to(sms_user["phone"], after=before + 1)
    await page.fill("input[name=code]", code_in(sms["Body"]))
    await page.click("#code-submit")
    await page.wait_for_selector("main#accounts")
    await page.click("#logout")

    totp_user = await bank.delegated_user(customer["customerId"], "tina9102", "totp")
    await log_in(page, "tina9102", totp_user["temporaryPassword"])
    await change_password(page, totp_user["temporaryPassword"], NEW_PASSWORD)
    await page.wait_for_selector("main#totp-enrol")
    secret = (await page.inner_text("#totp-secret")).strip()
    assert secret == totp_user["totpSecret"]
    assert await page.locator("#totp-qr svg").count() == 1
    await page.fill(
        "input[name=code]", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    )
    await page.click("#totp-submit")
    assert "not correct" in await page.inner_text("#code-error")
    await page.fill("input[name=code]", pyotp.TOTP(secret).now())
    await page.click("#totp-submit")
    await page.wait_for_selector("main#accounts")
    await page.click("#logout")
    # A later login asks for a TOTP code; the one just used is refused (single use).
    used = pyotp.TOTP(secret).now()
    await log_in(page, "tina9102", NEW_PASSWORD)
    assert await page.get_attribute("main#verify-code", "data-channel") == "totp"
    await page.fill("input[name=code]", used)
    await page.click("#code-submit")
    if await page.locator("#code-error").count():
        assert "already been used" in await page.inner_text("#code-error")
        totp = pyotp.TOTP(secret)
        import time

        for _ in range(70):
            if totp.now() != used:
                break
            time.sleep(1)
        await page.fill("input[name=code]", totp.now())
        await page.check("#remember-device")
        await page.click("#code-submit")
    await page.wait_for_selector("main#accounts")


async def test_remembered_device_skips_the_code_and_replayed_code_is_refused(
    page: Page, bank: Bank
) -> None:
    customer = await bank.customer(9103, accounts=1, transactionsPerAccount=30)
    user = await bank.delegated_user(customer["customerId"], "remy9103", "email")
    await log_in(page, "remy9103", user["temporaryPassword"])
    before = bank.mailbox.count("emails")
    await change_password(page, user["temporaryPassword"], NEW_PASSWORD)
    mail = await bank.mailbox.email_to(user["email"], "verification code", after=before)
    code = code_in(mail.get_payload())
    await page.fill("input[name=code]", code)
    await page.check("#remember-device")
    await page.click("#code-submit")
    await page.wait_for_selector("main#accounts")
    await page.click("#logout")
    # Remembered: no code this time.
    await log_in(page, "remy9103", NEW_PASSWORD)
    await page.wait_for_selector("main#accounts")
    await page.click("#logout")
    # A fresh browser is asked again, and the old code is refused (single use).
    await page.context.clear_cookies()
    before = bank.mailbox.count("emails")
    await log_in(page, "remy9103", NEW_PASSWORD)
    await page.wait_for_selector("main#verify-code")
    await bank.mailbox.email_to(user["email"], "verification code", after=before)
    await page.fill("input[name=code]", code)
    await page.click("#code-submit")
    assert "already been used" in await page.inner_text("#code-error")
    assert await page.locator("main#verify-code").count() == 1


async def test_posted_item_keeps_its_pending_txn_id(page: Page, bank: Bank) -> None:
    customer = await bank.customer(9104, accounts=1, transactionsPerAccount=40)
    pat = await bank.delegated_user(customer["customerId"], "pat9104")
    account_id = customer["accounts"][0]["accountId"]
    async with bank.control() as c:
        rows = (await c.get(f"/accounts/{account_id}/transactions")).json()["data"]
    pending = [r["id"] for r in rows if r["status"] == "pending"]
    assert pending
    await first_login(page, "pat9104", pat["temporaryPassword"])
    await page.goto(f"/accounts/{account_id}")
    for txn_id in pending:
        row = page.locator(f"tr[data-txn-id='{txn_id}']")
        assert await row.get_attribute("data-status") == "pending"
    async with bank.control() as c:
        r = await c.post("/clock/advance", json={"days": 5})
        assert r.status_code == 200, r.text
        after = {
            t["id"]: t for t in (await c.get(f"/accounts/{account_id}/transactions")).json()["data"]
        }
    await page.reload()
    posted_now = [i for i in pending if after[i]["status"] == "posted"]
    assert posted_now, "no pending item posted after five days"
    for txn_id in posted_now:
        row = page.locator(f"tr[data-txn-id='{txn_id}']")
        if await row.count() == 0:  # moved off the first page: find it through the XHR
            continue
        assert await row.get_attribute("data-status") == "posted"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", await row.locator("td.posted-date").inner_text())
    visible = await page.eval_on_selector_all(
        "tr[data-txn-id]", "els => els.map(e => e.dataset.txnId)"
    )
    assert any(i in visible for i in posted_now)
    voided = [i for i in pending if after[i]["status"] == "voided"]
    assert not any(i in visible for i in voided)
