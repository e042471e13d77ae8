"""Payments in the portal: approval thresholds, a second approver, double submit, withdrawal."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page

from tests.sandbox_bank.browser.conftest import Bank, first_login, log_in

pytestmark = pytest.mark.browser


async def pay_internal(page: Page, src: str, dst: str, amount: str, ref: str) -> str:
    await page.goto("/payments/new")
    await page.check("#kind-internal")
    await page.select_option("#from_account", src)
    await page.select_option("#to_account", dst)
    await page.fill("#amount", amount)
    await page.fill("#customer_reference", ref)
    await page.fill("#internal_note", f"note {ref}")
    await page.click("#payment-submit")
    await page.wait_for_selector("main#payment-confirmation")
    return (await page.get_attribute("#payment-status", "data-status")) or ""


async def two_accounts(bank: Bank, customer: dict[str, Any]) -> tuple[str, str]:
    async with bank.control() as c:
        accounts = (await c.get(f"/customers/{customer['customerId']}/accounts")).json()["data"]
    deposit = [a for a in accounts if a["type"] in ("checking", "savings", "moneyMarket")]
    first = deposit[0]
    second = next(a for a in accounts if a is not first and a["currency"] == first["currency"])
    return first["accountId"], second["accountId"]


async def payments(bank: Bank, customer: dict[str, Any]) -> list[dict[str, Any]]:
    async with bank.control() as c:
        return list((await c.get(f"/customers/{customer['customerId']}/payments")).json()["data"])


async def test_thresholds_second_approver_double_submit_and_withdraw(
    page: Page, bank: Bank
) -> None:
    customer = await bank.customer(9201, accounts=3, transactionsPerAccount=30)
    src, dst = await two_accounts(bank, customer)
    clerk = await bank.delegated_user(customer["customerId"], "clerk9201", approvePayments=True)
    boss = await bank.delegated_user(
        customer["customerId"], "boss9201", initiatePayments=False, approvePayments=True
    )
    await first_login(page, "clerk9201", clerk["temporaryPassword"])

    assert await pay_internal(page, src, dst, "9999.99", "SMALL-1") == "completed"
    assert await pay_internal(page, src, dst, "10,000.00", "BIG-1") == "pending_approval"
    big_ref = await page.inner_text("#bank-reference")

    # External payment by routing number: always needs approval.
    await page.goto("/payments/new")
    form_token = await page.get_attribute("input[name=form_token]", "value")
    await page.check("#kind-external")
    await page.select_option("#from_account", src)
    await page.fill("#beneficiary_name", "Globex Supplies LLC")
    await page.fill("#beneficiary_account_number", "123456789")
    await page.fill("#beneficiary_routing_number", "021000021")
    await page.select_option("#rail", "ach")
    await page.fill("#amount", "250.00")
    await page.fill("#customer_reference", "EXT-1")
    await page.click("#payment-submit")
    await page.wait_for_selector("main#payment-confirmation")
    assert await page.get_attribute("#payment-status", "data-status") == "pending_approval"
    confirmation_url = page.url
    # The same form submitted again (double click, back + resubmit): still one payment.
    csrf = await page.get_attribute("#logout-form input[name=csrf_token]", "value")
    again = await page.request.post(
        "/payments",
        form={
            "csrf_token": csrf or "",
            "form_token": form_token or "",
            "kind": "external",
            "from_account": src,
            "beneficiary_name": "Globex Supplies LLC",
            "beneficiary_account_number": "123456789",
            "beneficiary_routing_number": "021000021",
            "rail": "ach",
            "amount": "250.00",
            "customer_reference": "EXT-1",
        },
        max_redirects=0,
    )
    assert again.status == 303
    assert confirmation_url.endswith(again.headers["location"])
    listed = await payments(bank, customer)
    assert sorted(p["customerReference"] for p in listed) == ["BIG-1", "EXT-1", "SMALL-1"]

    # The payments list shows both references, the note, amounts and statuses.
    await page.goto("/payments")
    row = page.locator("table#payments-table tr", has_text=big_ref)
    assert await row.locator("td.customer-reference").inner_text() == "BIG-1"
    assert await row.locator("td.internal-note").inner_text() == "note BIG-1"
    assert await row.get_attribute("data-status") == "pending_approval"

    # Self-approval is refused with a proper page, nothing changes.
    await page.goto("/approvals")
    await page.locator("tr", has_text=big_ref).locator(".approve-form button").click()
    await page.wait_for_selector("main#error[data-error-code=approval_refused]")
    assert [
        p["status"] for p in await payments(bank, customer) if p["customerReference"] == "BIG-1"
    ] == ["pending_approval"]

    # Withdraw a payment awaiting approval.
    assert await pay_internal(page, src, dst, "20000", "WD-1") == "pending_approval"
    await page.click("#withdraw")
    await page.wait_for_selector("main#payments")
    await page.click("#logout")

    # A different user with approvePayments approves.
    await first_login(page, "boss9201", boss["temporaryPassword"])
    await page.goto("/approvals")
    assert await page.locator("table#approvals-table tr[data-payment-id]").count() == 2
    for _ in range(2):
        await page.locator("table#approvals-table .approve-form button").first.click()
        await page.wait_for_selector("main#approvals")
    statuses = {p["customerReference"]: p["status"] for p in await payments(bank, customer)}
    assert statuses["SMALL-1"] == "completed"
    assert statuses["BIG-1"] in ("completed", "approved")
    assert statuses["EXT-1"] in ("completed", "approved")
    assert statuses["WD-1"] == "withdrawn"
    approved_by = {p["customerReference"]: p["approvedBy"] for p in await payments(bank, customer)}
    assert approved_by["BIG-1"] == approved_by["EXT-1"] == "boss9201"


async def test_admin_approves_in_the_admin_pages(page: Page, bank: Bank) -> None:
    customer = await bank.customer(9202, accounts=3, transactionsPerAccount=20)
    src, dst = await two_accounts(bank, customer)
    clerk = await bank.delegated_user(customer["customerId"], "clerk9202")
    await first_login(page, "clerk9202", clerk["temporaryPassword"])
    assert await pay_internal(page, src, dst, "12000", "ADM-1") == "pending_approval"
    await page.click("#logout")
    await log_in(page, customer["adminUsername"], customer["adminPassword"])
    await page.goto("/admin/payments")
    await page.locator("tr[data-status=pending_approval] .approve-form button").click()
    await page.wait_for_selector("main#admin-payments")
    assert (await payments(bank, customer))[0]["approvedBy"] == customer["adminUsername"]
