"""Connector benchmark: a full-history read of 3 accounts x 2,000 transactions through the
Sandbox Bank connector, against a plain Playwright page walk of the same rows in the same run
(baseline: log in, open each account, click "Next" until it is disabled, reading every row's
id and cells). Prints seconds and the ratio (target <= 1.5), then an incremental read with
nothing new (target < 5 s).

    .venv/bin/python bench/connector_sync.py [--rows 2000] [--accounts 3] [--rounds 2]

Needs a PostgreSQL server (``BENCH_PG_SERVER``, default the local one on 127.0.0.1:5432): a
scratch database is created, served by ``waycore sandbox-bank`` and dropped afterwards.
Browser start-up is excluded from both timings; both start from a fresh browser context.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import psycopg
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bank_page_load import PASSWORD, SERVER, child, free_port, log_in, wait_up

from waycore.config import Settings
from waycore.connectors.pool import BrowserPool
from waycore.connectors.protocol import Credentials
from waycore.connectors.sandbox_bank import SandboxBankConnector
from waycore.connectors.session import CHROMIUM_ARGS

USERNAME = "benchconn01"


class NoChallenges:
    """The bench user has no second factor and a changed password: nothing to solve."""

    def code_requested_at(self):  # type: ignore[no-untyped-def]
        from datetime import UTC, datetime

        return datetime.now(UTC)

    async def one_time_code(self, channel, *, sent_after):  # type: ignore[no-untyped-def]
        raise AssertionError("no code expected")

    async def new_password(self) -> str:
        raise AssertionError("no password change expected")

    async def totp_enrolled(self, secret: str) -> None:
        raise AssertionError("no enrolment expected")

    def totp_code(self) -> None:
        return None

    def contact_details(self) -> tuple[None, None]:
        return None, None


async def baseline(url: str, accounts: list[str], chromium: str) -> tuple[int, float]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        context = await browser.new_context(base_url=url)
        context.set_default_timeout(30_000)
        page = await context.new_page()
        started = time.perf_counter()
        await page.goto("/login")
        await page.fill("input[name=username]", USERNAME)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("#login-submit")
        await page.wait_for_selector("main#accounts")
        rows: dict[str, list[object]] = {}
        for account in accounts:
            await page.goto(f"/accounts/{account}")
            for _ in range(10_000):
                await page.wait_for_selector("section#history[data-loading=false]")
                for row in await page.eval_on_selector_all(
                    "table#transactions tbody tr[data-txn-id]",
                    """els => els.map(tr => [tr.dataset.txnId, tr.dataset.status,
                        ...Array.from(tr.cells, c => c.textContent)])""",
                ):
                    rows[row[0]] = row
                if await page.is_disabled("#next-page"):
                    break
                before = await page.get_attribute("section#history", "data-page")
                await page.click("#next-page")
                await page.wait_for_function(
                    "p => document.querySelector('section#history').dataset.page !== p",
                    arg=before,
                )
        elapsed = time.perf_counter() - started
        await browser.close()
    return len(rows), elapsed


async def through_connector(
    pool: BrowserPool, url: str, since: date | None
) -> tuple[int, float, int]:
    connector = SandboxBankConnector()
    started = time.perf_counter()
    async with pool.session(url) as bank:
        await connector.log_in(bank, Credentials(USERNAME, PASSWORD), NoChallenges())
        accounts = await connector.list_accounts(bank)
        await connector.balances(bank, accounts)
        total = 0
        for account in accounts:
            total += len(await connector.transactions(bank, account, since=since))
        await connector.log_out(bank)
    return total, time.perf_counter() - started, len(accounts)


async def run(url: str, accounts: list[str], rounds: int, chromium: str) -> None:
    base_times, conn_times = [], []
    async with BrowserPool(chromium_path=chromium, max_contexts=1) as pool:
        for _ in range(rounds):
            n_base, t_base = await baseline(url, accounts, chromium)
            n_conn, t_conn, n_acc = await through_connector(pool, url, None)
            assert n_base == n_conn, (n_base, n_conn)
            assert n_acc == len(accounts)
            base_times.append(t_base)
            conn_times.append(t_conn)
            print(f"  round: baseline {t_base:.2f} s, connector {t_conn:.2f} s ({n_conn} rows)")
        today = date.fromisoformat(httpx.get(url + "/_sandbox/clock").json()["today"])
        n_inc, t_inc, _ = await through_connector(pool, url, today)
    best_base, best_conn = min(base_times), min(conn_times)
    ratio = best_conn / best_base
    print(f"full history, {len(accounts)} accounts, {n_conn} rows listed (voided rows are not):")
    print(f"  baseline (plain Playwright, Next) {best_base:.2f} s")
    print(f"  connector                         {best_conn:.2f} s")
    print(f"  ratio {ratio:.2f} (target <= 1.5)  {'OK' if ratio <= 1.5 else 'MISSED'}")
    print(f"incremental, nothing new ({n_inc} rows in the overlap window):")
    print(f"  connector {t_inc:.2f} s (target < 5 s)  {'OK' if t_inc < 5 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    chromium = str(Settings().chromium_path)
    name = f"bench_conn_{secrets.token_hex(4)}"
    base = SERVER.rsplit("/", 1)[0]
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    port = free_port()
    env = {
        **__import__("os").environ,
        "WAYCORE_DATABASE_URL": f"{base}/{name}",
        "WAYCORE_SANDBOX_START_DATE": "2026-03-04",
    }
    try:
        argv = [sys.executable, "-m", "waycore", "sandbox-bank", "--port", str(port)]
        with child(argv, env):
            url = f"http://127.0.0.1:{port}"
            wait_up(url + "/login")
            control = httpx.Client(base_url=url + "/_sandbox", timeout=600)
            customer = control.post(
                "/customers",
                json={
                    "name": "Bench Connector Co",
                    "seed": 11,
                    "accounts": args.accounts,
                    "transactionsPerAccount": args.rows,
                },
            ).json()
            created = control.post(
                f"/customers/{customer['customerId']}/delegatedUsers",
                json={
                    "firstName": "Waycore",
                    "lastName": "Service",
                    "address": "1 Bench Rd",
                    "email": "benchconn@inbox.localhost",
                    "username": USERNAME,
                    "phoneNumber": "+12015550101",
                    "secondFactor": "none",
                    "permissions": {
                        "viewBalances": True,
                        "viewTransactions": True,
                        "downloadStatements": True,
                        "initiatePayments": False,
                        "approvePayments": False,
                        "accountIds": None,
                    },
                },
            ).json()
            log_in(url, USERNAME, created["temporaryPassword"])  # first-login change, once
            ids = [a["accountId"] for a in customer["accounts"]]
            asyncio.run(run(url, ids, args.rounds, chromium))
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


if __name__ == "__main__":
    main()
