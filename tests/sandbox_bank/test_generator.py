"""The history generator: deterministic per seed, consistent balances, the required variety."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from waycore.sandbox_bank import clock, service
from waycore.sandbox_bank.catalogue import account_layout
from waycore.sandbox_bank.generator import generate_history
from waycore.sandbox_bank.models import Transaction

END = date(2026, 3, 4)


def _histories(seed: int, accounts: int = 7, count: int | None = None):
    return [
        (spec, generate_history(seed, position, spec, END, 1095, count))
        for position, spec in enumerate(account_layout(seed, accounts))
    ]


def _signature(seed: int) -> list[tuple[object, ...]]:
    return [
        (
            r.status,
            r.transaction_date,
            r.posted_date,
            r.description,
            r.amount,
            r.running_balance,
            r.bank_reference,
            r.sort_key,
        )
        for _, history in _histories(seed)
        for r in history.rows
    ]


def test_same_seed_same_history_other_seed_other_history() -> None:
    assert _signature(11) == _signature(11)
    assert _signature(11) != _signature(12)


def test_running_balances_accumulate_in_posting_order() -> None:
    for _, history in _histories(5):
        balance = history.opening_balance
        posted = sorted((r for r in history.rows if r.status == "posted"), key=lambda r: r.sort_key)
        assert [r.sort_key for r in posted] == list(range(1, len(posted) + 1))
        for row in posted:
            balance += row.amount
            assert row.running_balance == balance
        assert history.current_balance == balance
        dates = [r.posted_date for r in posted]
        assert dates == sorted(dates)
        for row in history.rows:
            if row.status != "posted":
                assert row.running_balance is None and row.posted_date is None


def test_three_years_of_history_with_the_required_variety() -> None:
    rails = Counter()
    for spec, history in _histories(8):
        posted = [r for r in history.rows if r.status == "posted"]
        assert min(r.posted_date for r in posted) <= END - timedelta(days=1000), spec
        statuses = Counter(r.status for r in history.rows)
        assert statuses["pending"] >= 1 and statuses["voided"] >= 1, spec
        assert any(r.bank_reference for r in posted) and any(not r.bank_reference for r in posted)
        assert any(not r.description.isascii() for r in history.rows), spec
        assert any("\n" in r.description for r in history.rows), spec
        same_day = Counter((r.posted_date, r.amount, r.description) for r in posted)
        assert max(same_day.values()) >= 2, spec
        for row in history.rows:
            assert row.amount == row.amount.quantize(Decimal("0.01"))
            if row.status == "pending":
                assert row.post_due is not None and row.post_due > END
        rails.update(r.rail for r in history.rows)
    assert {"card", "ach", "wire", "check", "fee", "interest"} <= set(rails)


def test_owed_balances_are_negative() -> None:
    for spec, history in _histories(3):
        if spec.type in ("creditCard", "loan"):
            assert history.current_balance < 0


def test_exact_count_per_account() -> None:
    for count in (1, 5, 40, 2000):
        for _, history in _histories(21, accounts=5, count=count):
            assert len(history.rows) == count
            assert sum(r.status == "pending" for r in history.rows) >= 1


async def test_customer_creation_is_fast_and_counts_are_exact(bank_session, make_customer) -> None:
    started = time.monotonic()
    created = await make_customer(seed=7, accounts=3, history_days=1095)
    assert time.monotonic() - started < 5
    exact = await make_customer(seed=7, accounts=3, transactions_per_account=123)
    counts = await service.customer_accounts(bank_session, exact.customer.id)
    assert [n for _, n in counts] == [123, 123, 123]
    again = await service.customer_accounts(bank_session, created.customer.id)
    assert all(n > 100 for _, n in again)


async def test_pending_items_post_later_under_the_same_id(bank_session, make_customer) -> None:
    created = await make_customer(seed=99, accounts=3)
    ids = [a.id for a in created.accounts]
    query = (
        select(Transaction)
        .where(Transaction.account_id.in_(ids))
        .execution_options(populate_existing=True)
    )
    async with bank_session.begin():
        before = {t.id: t for t in (await bank_session.scalars(query)).all()}
    pending = {i: t for i, t in before.items() if t.status == "pending"}
    assert pending
    await clock.advance(bank_session, 5)
    async with bank_session.begin():
        after = {t.id: t for t in (await bank_session.scalars(query)).all()}
    assert set(before) <= set(after)
    posted = [after[i] for i in pending if after[i].status == "posted"]
    assert posted, "at least one pending item posts"
    for row in posted:
        assert row.posted_date is not None and row.running_balance is not None
    assert all(after[i].status in ("posted", "voided") for i in pending)
    for account_id in ids:
        rows = sorted(
            (t for t in after.values() if t.account_id == account_id and t.status == "posted"),
            key=lambda t: t.sort_key,
        )
        for previous, row in itertools.pairwise(rows):
            assert row.running_balance == previous.running_balance + row.amount
            assert row.posted_date >= previous.posted_date
    accounts = await service.customer_accounts(bank_session, created.customer.id)
    for account, _ in accounts:
        last = max(
            (t for t in after.values() if t.account_id == account.id and t.status == "posted"),
            key=lambda t: t.sort_key,
        )
        assert account.current_balance == last.running_balance


async def test_demo_customer_is_derived_from_the_username(bank_session) -> None:
    user = await service.ensure_demo_user(bank_session, "demo-gen-test+otp")
    assert user.demo_behaviour == "otp"
    assert (await service.ensure_demo_user(bank_session, "demo-gen-test+otp")) is user
    accounts = await service.customer_accounts(bank_session, user.customer_id)
    assert len(accounts) == 3
    assert all(150 <= n <= 400 for _, n in accounts)
    approver = await service.get_user(bank_session, "demo-gen-test+otp.approver")
    assert approver is not None and approver.customer_id == user.customer_id
    assert service.can(approver, "approvePayments")


def test_some_pending_items_change_when_they_post() -> None:
    pending = [
        r
        for seed in range(30)
        for _, h in _histories(seed, accounts=3)
        for r in h.rows
        if r.status == "pending"
    ]
    assert any(r.post_amount is not None and r.post_amount != r.amount for r in pending)
    assert any(r.post_description and r.post_description != r.description for r in pending)
