"""Fault switches, demo users and bad input: each gets its proper page and changes nothing."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from playwright.async_api import Page

from tests.sandbox_bank.browser.conftest import Bank, code_in, first_login, log_in
from tests.sandbox_bank.browser.test_payments import payments, two_accounts

pytestmark = pytest.mark.browser
PASSWORD = "Treasury2026rocks"


async def ready(page: Page, bank: Bank, seed: int, name: str, **perms: Any) -> dict[str, Any]:
    customer = await bank.customer(seed, accounts=3, transactionsPerAccount=80)
    user = await bank.delegated_user(customer["customerId"], name, **perms)
    await first_login(page, name, user["temporaryPassword"])
    return customer


async def test_login_faults(page: Page, bank: Bank) -> None:
    await ready(page, bank, 9301, "faulty9301")
    await page.click("#logout")
    await bank.faults("faulty9301", wrongPassword=True)
    await log_in(page, "faulty9301", PASSWORD)
    assert await page.get_attribute("#login-error", "data-reason") == "invalid_credentials"
    await bank.faults("faulty9301", wrongPassword=False, locked=True)
    await log_in(page, "faulty9301", PASSWORD)
    assert await page.get_attribute("#login-error", "data-reason") == "locked"
    await bank.faults("faulty9301", locked=False, maintenance=True)
    response = await page.goto("/login")
    await page.fill("input[name=username]", "faulty9301")
    await page.fill("input[name=password]", PASSWORD)
    async with page.expect_response(lambda r: r.url.endswith("/login")) as info:
        await page.click("#login-submit")
    assert (await info.value).status == 503
    await page.wait_for_selector("main#maintenance")
    del response
    await bank.faults("faulty9301", maintenance=False)
    await log_in(page, "faulty9301", PASSWORD)
    await page.wait_for_selector("main#accounts")


async def test_page_faults(page: Page, bank: Bank) -> None:
    customer = await ready(page, bank, 9302, "pages9302")
    account_id = customer["accounts"][0]["accountId"]
    # slowMs
    await bank.faults("pages9302", slowMs=1200)
    started = time.monotonic()
    await page.goto("/accounts")
    assert time.monotonic() - started >= 1.2
    # errorRate 1: every page is a 500 error page
    await bank.faults("pages9302", slowMs=0, errorRate=1)
    response = await page.goto("/accounts")
    assert response is not None and response.status == 500
    assert await page.locator("main#error[data-error-code=internal_error]").count() == 1
    # redesign: different markup and selectors
    await bank.faults("pages9302", errorRate=0, redesign=True)
    await page.goto("/accounts")
    assert await page.locator("main#dashboard article.account-card[data-acct]").count() == 3
    assert await page.locator("table.accounts").count() == 0
    await page.goto(f"/accounts/{account_id}")
    await page.wait_for_selector("main#account-activity ul.activity li[data-ref-id]")
    assert await page.locator("tr[data-txn-id]").count() == 0
    first = await page.get_attribute("li[data-ref-id]", "data-ref-id")
    await page.click("#next-page")
    await page.wait_for_function(
        "f => document.querySelector('li[data-ref-id]').dataset.refId !== f", arg=first
    )
    await page.click("#logout")
    await page.goto("/login")
    assert await page.locator("main#signon form#signon-form input[name=user_id]").count() == 1
    await page.fill("input[name=user_id]", "pages9302")
    await page.fill("input[name=passcode]", PASSWORD)
    await page.click("#signon-submit")
    await page.wait_for_selector("main#dashboard")
    # sessionExpiryAfterPages: the session ends mid-pagination (the XHR answers logged out)
    await bank.faults("pages9302", redesign=False, sessionExpiryAfterPages=2)
    await page.goto(f"/accounts/{account_id}")
    await page.click("#next-page")
    await page.wait_for_selector("section#history[data-page='2'][data-loading=false]")
    await page.click("#next-page")
    await page.wait_for_selector("main#login #login-info")
    assert "session has ended" in await page.inner_text("#login-info")
    response = await page.goto(f"/accounts/{account_id}/history?page=2")
    assert response is not None and response.status == 401


async def test_payment_faults(page: Page, bank: Bank) -> None:
    customer = await ready(page, bank, 9303, "payer9303")
    src, dst = await two_accounts(bank, customer)

    async def submit(amount: str, ref: str) -> None:
        await page.goto("/payments/new")
        await page.select_option("#from_account", src)
        await page.select_option("#to_account", dst)
        await page.fill("#amount", amount)
        await page.fill("#customer_reference", ref)
        await page.click("#payment-submit")
        await page.wait_for_load_state()

    await bank.faults("payer9303", paymentLimit="100.00")
    await submit("150.00", "LIMIT")
    assert "limit" in (await page.inner_text("#payment-errors")).lower()
    assert await payments(bank, customer) == []
    await bank.faults("payer9303", paymentLimit=None, holdConfirmationMs=1500)
    started = time.monotonic()
    await submit("50.00", "HOLD")
    assert time.monotonic() - started >= 1.5
    await page.wait_for_selector("main#payment-confirmation")
    await bank.faults("payer9303", holdConfirmationMs=0, confirmationLost=True)
    await submit("60.00", "LOST")
    await page.wait_for_selector("main#error[data-error-code=confirmation_lost]")
    assert sorted(p["customerReference"] for p in await payments(bank, customer)) == [
        "HOLD",
        "LOST",
    ]
    await page.goto("/accounts")
    await page.wait_for_selector("main#login")


async def test_otp_never_delivered(page: Page, bank: Bank) -> None:
    customer = await bank.customer(9304, accounts=1, transactionsPerAccount=10)
    user = await bank.delegated_user(customer["customerId"], "quiet9304", "email")
    await bank.faults("quiet9304", otpNeverDelivered=True)
    await log_in(page, "quiet9304", user["temporaryPassword"])
    before = bank.mailbox.count("emails")
    await page.fill("input[name=current_password]", user["temporaryPassword"])
    await page.fill("input[name=new_password]", PASSWORD)
    await page.fill("input[name=confirm_password]", PASSWORD)
    await page.click("#change-password-submit")
    await page.wait_for_selector("main#verify-code")
    with pytest.raises(AssertionError):
        await bank.mailbox.email_to(user["email"], "verification code", after=before, timeout=2)


async def test_demo_users(page: Page, bank: Bank, browser: Any) -> None:
    # Same username, same customer; wrong passwords never lock.
    for _ in range(6):
        await log_in(page, "demo-portal-7", "wrong")
        assert await page.get_attribute("#login-error", "data-reason") == "invalid_credentials"
    await log_in(page, "demo-portal-7", "demo-password")
    await page.wait_for_selector("main#accounts")
    first_ids = await page.eval_on_selector_all(
        "tr[data-account-id]", "els => els.map(e => e.dataset.accountId)"
    )
    other = await browser.new_context(base_url=bank.url)
    second = await other.new_page()
    await log_in(second, "demo-portal-7", "demo-password")
    await second.wait_for_selector("main#accounts")
    assert first_ids == await second.eval_on_selector_all(
        "tr[data-account-id]", "els => els.map(e => e.dataset.accountId)"
    )
    assert len(first_ids) == 3
    await other.close()
    await page.click("#logout")
    # +otp: confirm contact details, then an e-mailed code to the confirmed address.
    await log_in(page, "demo-portal-7+otp", "demo-password")
    await page.wait_for_selector("main#contact-details")
    await page.eval_on_selector("form#contact-form", "f => { f.noValidate = true; }")
    await page.fill("input[name=email]", "not-an-address")
    await page.fill("input[name=phone]", "+12015550177")
    await page.click("#contact-submit")
    assert "E-mail" in await page.inner_text("#contact-error")
    before = bank.mailbox.count("emails")
    await page.fill("input[name=email]", "demo7otp@inbox.localhost")
    await page.click("#contact-submit")
    await page.wait_for_selector("main#verify-code[data-channel=email]")
    mail = await bank.mailbox.email_to(
        "demo7otp@inbox.localhost", "verification code", after=before
    )
    await page.fill("input[name=code]", code_in(mail.get_payload()))
    await page.click("#code-submit")
    await page.wait_for_selector("main#accounts")
    await page.click("#logout")
    # +locked and +hardware.
    await log_in(page, "demo-portal-7+locked", "demo-password")
    assert await page.get_attribute("#login-error", "data-reason") == "locked"
    await log_in(page, "demo-portal-7+hardware", "demo-password")
    await page.wait_for_selector("main#hardware-token")
    assert await page.locator("#remember-device").count() == 0
    await page.fill("input[name=code]", "654321")
    await page.click("#code-submit")
    assert await page.locator("#code-error").count() == 1
    await page.fill("input[name=code]", "123456")
    await page.click("#code-submit")
    await page.wait_for_selector("main#accounts")


async def test_bad_input_gets_proper_pages_and_changes_nothing(
    page: Page, bank: Bank, database_url: str
) -> None:
    customer = await ready(page, bank, 9305, "carol9305")
    src, dst = await two_accounts(bank, customer)
    # CSRF failure on a payment: refused, nothing recorded.
    await page.goto("/payments/new")
    token = await page.get_attribute("input[name=form_token]", "value")
    bad = await page.request.post(
        "/payments",
        form={
            "csrf_token": "forged",
            "form_token": token or "",
            "kind": "internal",
            "from_account": src,
            "to_account": dst,
            "amount": "5.00",
        },
        max_redirects=0,
    )
    assert bad.status == 403 and 'main id="payment-new"' in await bad.text()
    # Oversized fields: refused with the form again; a huge body: 413 page.
    await page.select_option("#from_account", src)
    await page.select_option("#to_account", dst)
    await page.fill("#amount", "5.00")
    await page.fill("#internal_note", "x" * 5000)
    await page.click("#payment-submit")
    assert "at most 500" in await page.inner_text("#payment-errors")
    huge = await page.request.post(
        "/payments", form={"internal_note": "y" * 200_000}, max_redirects=0
    )
    assert huge.status == 413 and 'main id="error"' in await huge.text()
    assert await payments(bank, customer) == []
    # HTML injection is shown as text.
    await page.goto("/payments/new")
    await page.select_option("#from_account", src)
    await page.select_option("#to_account", dst)
    await page.fill("#amount", "7.00")
    await page.fill("#memo", "<script>window.pwned=1</script>")
    await page.fill("#internal_note", '<img src=x onerror="window.pwned=2">')
    await page.click("#payment-submit")
    await page.wait_for_selector("main#payment-confirmation")
    assert await page.inner_text("#memo") == "<script>window.pwned=1</script>"
    assert await page.locator("#internal-note img").count() == 0
    await page.goto("/payments")
    assert await page.evaluate("window.pwned === undefined")
    # An expired session (idle 16 minutes): pages and XHR answer as logged out.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "update sandbox_bank.web_sessions set last_seen_at = now() - interval '16 minutes' "
            "where username = 'carol9305'"
        )
    await page.goto("/accounts")
    await page.wait_for_selector("main#login #login-info")
    xhr = await page.request.get(f"/accounts/{src}/history?page=2")
    assert xhr.status == 401 and (await xhr.json())["error"]["code"] == "session_expired"
    # CSRF failure on the login form: refused, the form again.
    await page.goto("/login")
    await page.evaluate("document.querySelector('input[name=csrf_token]').value = 'forged'")
    await page.fill("input[name=username]", "carol9305")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#login-submit")
    assert await page.get_attribute("#login-error", "data-reason") == "csrf"
    # Injection in the username is escaped when shown back.
    await log_in(page, "<b>x</b>", "nope")
    assert await page.input_value("input[name=username]") == "<b>x</b>"
    assert await page.locator("main#login b").count() == 0
    # Unknown pages and unknown payments: proper pages.
    response = await page.goto("/no/such/page")
    assert response is not None and response.status == 404
    assert await page.locator("main#error").count() == 1
