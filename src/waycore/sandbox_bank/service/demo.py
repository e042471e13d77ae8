"""Demo users (API.md section 14): any username starting with ``demo``.

Each distinct username is its own customer, created at first use and deterministic from the
username (3 accounts, 3 years, 150–400 rows per account); ``<username>.approver`` is that
customer's approver (password ``demo-password``, no second factor). The suffix after the
last ``+`` selects the behaviour: ``otp``, ``locked``, ``hardware``, ``slow``; anything
else logs in normally.
"""

from __future__ import annotations

import hashlib
import random

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from waycore.sandbox_bank.errors import NotFound
from waycore.sandbox_bank.models import Customer, User
from waycore.sandbox_bank.service._common import hash_password, tx
from waycore.sandbox_bank.service.customers import ALL_PERMISSIONS, create_customer
from waycore.sandbox_bank.service.users import DEMO_PASSWORD

APPROVER_SUFFIX = ".approver"
BEHAVIOURS = ("otp", "locked", "hardware", "slow")
SLOW_MS = 1500
_DEMO_HASH: str | None = None


def is_demo_username(username: str) -> bool:
    return username.startswith("demo") and 4 <= len(username) <= 64


def demo_behaviour(username: str) -> str | None:
    """The behaviour the suffix after the last ``+`` selects, or None (normal)."""
    if "+" not in username:
        return None
    suffix = username.rsplit("+", 1)[1]
    return suffix if suffix in BEHAVIOURS else None


def demo_seed(username: str) -> int:
    return int.from_bytes(hashlib.sha256(username.encode()).digest()[:7], "big")


def _demo_hash() -> str:
    global _DEMO_HASH
    if _DEMO_HASH is None:
        _DEMO_HASH = hash_password(DEMO_PASSWORD)
    return _DEMO_HASH


async def ensure_demo_user(session: AsyncSession, username: str) -> User:
    """The demo user (or approver) with this username, creating its customer on first use."""
    if not is_demo_username(username):
        raise NotFound("Not a demo username.")
    base = username
    if username.endswith(APPROVER_SUFFIX) and len(username) > len(APPROVER_SUFFIX) + 3:
        base = username[: -len(APPROVER_SUFFIX)]
    async with tx(session):
        existing = await session.get(User, username)
        if existing is not None:
            return existing
        await session.execute(
            text("select pg_advisory_xact_lock(hashtext('sandbox_demo:' || :u))"), {"u": base}
        )
        existing = await session.get(User, username)
        if existing is not None:
            return existing
        customer = (
            await session.scalars(select(Customer).where(Customer.demo_username == base))
        ).one_or_none()
        if customer is None:
            await _create(session, base)
        user = await session.get(User, username)
    if user is None:  # e.g. "demo-x.approver.approver": its base is not itself a demo user
        raise NotFound("User not found.")
    return user


async def _create(session: AsyncSession, base: str) -> None:
    seed = demo_seed(base)
    rows = random.Random(seed).randint(150, 400)
    created = await create_customer(
        session,
        name=f"Demo Company {base}",
        seed=seed,
        accounts=3,
        history_days=1095,
        transactions_per_account=rows,
        demo_username=base,
    )
    behaviour = demo_behaviour(base)
    slug = "".join(c if c.isalnum() else "-" for c in base)
    session.add(
        User(
            username=base,
            customer_id=created.customer.id,
            role="delegated",
            first_name="Demo",
            last_name="User",
            address="1 Demo Street, Springfield",
            email=None if behaviour == "otp" else f"{slug}@demo.sandbox-bank.test",
            phone_number=None if behaviour == "otp" else "+12015550100",
            second_factor="none",
            permissions=dict(ALL_PERMISSIONS),
            password_hash=_demo_hash(),
            must_change_password=False,
            status="locked" if behaviour == "locked" else "active",
            demo_behaviour=behaviour,
            faults={"slowMs": SLOW_MS} if behaviour == "slow" else {},
        )
    )
    session.add(
        User(
            username=base + APPROVER_SUFFIX,
            customer_id=created.customer.id,
            role="approver",
            first_name="Demo",
            last_name="Approver",
            address="1 Demo Street, Springfield",
            email=f"{slug}.approver@demo.sandbox-bank.test",
            phone_number="+12015550101",
            second_factor="none",
            permissions={**ALL_PERMISSIONS, "initiatePayments": False},
            password_hash=_demo_hash(),
            must_change_password=False,
            faults={},
        )
    )
    await session.flush()
