"""Sandbox Bank portal walk: a plain Playwright script pages through every row of an account
with 2,000 transactions ("Next" by XHR) and prints the seconds it took (target < 20 s).

    .venv/bin/python bench/bank_walk.py
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bank_page_load import PASSWORD, scratch_bank

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def walk(url: str, account: str, username: str) -> tuple[int, float]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = await browser.new_page(base_url=url)
        page.set_default_timeout(15_000)
        started = time.perf_counter()
        await page.goto("/login")
        await page.fill("input[name=username]", username)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("#login-submit")
        await page.wait_for_selector("main#accounts")
        await page.goto(f"/accounts/{account}")
        seen: set[str] = set()
        for _ in range(1000):
            await page.wait_for_selector("section#history[data-loading=false]")
            ids = await page.eval_on_selector_all(
                "table#transactions tbody tr[data-txn-id]", "els => els.map(e => e.dataset.txnId)"
            )
            seen.update(ids)
            if await page.is_disabled("#next-page"):
                break
            before = await page.get_attribute("section#history", "data-page")
            await page.click("#next-page")
            await page.wait_for_function(
                "p => document.querySelector('section#history').dataset.page !== p", arg=before
            )
        elapsed = time.perf_counter() - started
        await browser.close()
    return len(seen), elapsed


def main() -> None:
    with scratch_bank(rows=2000) as bank:
        rows, seconds = asyncio.run(walk(bank["url"], bank["account"], bank["username"]))
    print(f"walked {rows} rows (voided rows are not listed) in {seconds:.2f} s (target < 20 s)")


if __name__ == "__main__":
    main()
