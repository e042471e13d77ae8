"""Ingestion benchmark: 100,000 transactions through the sync engine vs a bare COPY.

    .venv/bin/python bench/ingest.py [--rows 100000] [--repeat 3]

In one run, on a scratch database (WAYCORE_DATABASE_URL's server, else the local server on
127.0.0.1:5432, else an embedded one), it measures

* ours: ``waycore.sync.engine.apply_snapshot`` of a first sync holding every row: identity
  assignment, UUIDv7 ids, the change log (one row per transaction, appended while Python
  builds the records), the load into ``transactions`` with its primary key, identity key and
  two list indexes (accounts holding no row yet take COPY straight into the table), the
  daily-balance projection, events, one commit; and
* baseline: ``COPY`` of the very same rows (already built, ids and identities included, ids in
  the same form) into a plain table with the same columns and no index, one commit;

each ``--repeat`` times on fresh connections, baseline and ours alternating, and prints the
best and the median of both, and the ratio baseline/ours of the best runs and the median of
the per-round ratios (target: ours at least 30% of COPY's speed, ratio >= 0.30, judged on the
best runs). The machine's load average is printed with them: on a busy machine both sides
slow down, not by the same factor. A second apply of the same snapshot (nothing changes,
nothing is appended) and the staged merge path (accounts that already hold rows: COPY into a
temporary table, UPDATE changed, INSERT new, EXCEPT for removals) are printed for information.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _with_db(url: str, name: str) -> str:
    return f"{url.rsplit('/', 1)[0]}/{name}"


def _answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("select 1")
        return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def scratch_database(workdir: Path) -> Iterator[str]:
    import psycopg

    from waycore import migrate, pgembed

    server = None
    configured = os.environ.get("WAYCORE_DATABASE_URL") or os.environ.get(
        "WAYCORE_TEST_DATABASE_URL"
    )
    if configured:
        server_url = configured
    elif _answers(LOCAL_SERVER):
        server_url = LOCAL_SERVER
    else:
        server = pgembed.start(workdir / "pg")
        server_url = server.url
    name = f"waycore_bench_{secrets.token_hex(4)}"
    admin = _with_db(server_url, "postgres")
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        url = _with_db(server_url, name)
        migrate.upgrade(url)
        yield url
    finally:
        with contextlib.suppress(psycopg.Error), psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
        if server is not None:
            server.stop()


def synthetic(rows: int, accounts: int, seed: int = 7) -> dict[str, list[object]]:
    """Portal-like history: 60% with a row id, 20% with a reference only, 20% with neither."""
    from waycore.connectors.base import BankTransaction

    rng = random.Random(seed)
    words = ["ACH", "CARD", "WIRE", "PAYROLL", "ACME", "SUPPLY", "RENT", "FEE", "REFUND", "INV"]
    rails = ["ach", "card", "wire", "check", "fee", "internalTransfer"]
    start = date(2023, 1, 1)
    per_account: dict[str, list[object]] = {f"acct-{a}": [] for a in range(accounts)}
    for i in range(rows):
        bank_id = f"acct-{i % accounts}"
        day = start + timedelta(days=rng.randrange(1000))
        kind = rng.random()
        per_account[bank_id].append(
            BankTransaction(
                account_bank_id=bank_id,
                transaction_date=day,
                posted_date=day + timedelta(days=rng.randrange(3)),
                amount=Decimal(rng.randrange(-500_000, 500_000)) / 100,
                description="  ".join(rng.sample(words, 4)) + f" {rng.randrange(10_000)}",
                status="posted",
                portal_row_id=f"row-{i}" if kind < 0.6 else None,
                bank_reference=f"REF{i:08d}" if 0.6 <= kind < 0.8 else None,
                customer_reference=f"C{i}" if rng.random() < 0.3 else None,
                running_balance=Decimal(rng.randrange(0, 10_000_000)) / 100,
                rail=rng.choice(rails),  # type: ignore[arg-type]
                counterparty_name=rng.choice(words).title(),
            )
        )
    return per_account


async def _connection(url: str) -> str:
    """An organization, its default entity and an active connection, made with SQL."""
    import asyncpg

    from waycore.ids import prefixed, uuid7

    conn = await asyncpg.connect(url)
    try:
        org, entity, connection_id = uuid7(), uuid7(), prefixed("conn")
        await conn.execute("insert into organizations (id, name) values ($1, $2)", org, str(org))
        await conn.execute(
            "insert into entities (id, org_id, external_entity_id, is_default) "
            "values ($1, $2, 'default', true)",
            entity,
            org,
        )
        await conn.execute(
            "insert into connections (id, org_id, environment, entity_id, portal_url, status, "
            "kind) values ($1, $2, 'test', $3, $4, 'active', 'ready')",
            connection_id,
            org,
            entity,
            f"http://bank.example/{connection_id}",
        )
    finally:
        await conn.close()
    return connection_id


async def run_engine(url: str, snapshot: dict[str, list[object]]) -> tuple[float, float, int]:
    from waycore.connectors.base import BankAccount, BankBalance
    from waycore.db import make_engine, make_sessionmaker
    from waycore.sync.engine import apply_snapshot

    connection_id = await _connection(url)
    accounts = [BankAccount(bank_id=b, name=b, currency="USD", type="checking") for b in snapshot]
    balances = [
        BankBalance(b, date(2025, 10, 1), datetime(2025, 10, 1, tzinfo=UTC), Decimal("1000.00"))
        for b in snapshot
    ]
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session:
            t0 = time.perf_counter()
            first = await apply_snapshot(session, connection_id, accounts, snapshot, balances)  # type: ignore[arg-type]
            t1 = time.perf_counter()
            again = await apply_snapshot(session, connection_id, accounts, snapshot, balances)  # type: ignore[arg-type]
            t2 = time.perf_counter()
        assert (again.added, again.modified, again.removed) == (0, 0, 0)
    finally:
        await engine.dispose()
    return t1 - t0, t2 - t1, first.added


async def run_merge(url: str, snapshot: dict[str, list[object]]) -> float:
    """The general (staged merge) path: every account already holds a transaction."""
    from waycore.connectors.base import BankAccount, BankTransaction
    from waycore.db import make_engine, make_sessionmaker
    from waycore.sync.engine import apply_snapshot

    connection_id = await _connection(url)
    accounts = [BankAccount(bank_id=b, name=b, currency="USD", type="checking") for b in snapshot]
    seed = {
        b: [BankTransaction(b, date(2020, 1, 1), Decimal(1), "SEED", portal_row_id="seed")]
        for b in snapshot
    }
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session:
            await apply_snapshot(session, connection_id, accounts, seed)
            t0 = time.perf_counter()
            result = await apply_snapshot(session, connection_id, accounts, snapshot)  # type: ignore[arg-type]
            elapsed = time.perf_counter() - t0
        assert (result.added, result.removed) == (sum(map(len, snapshot.values())), len(seed))
    finally:
        await engine.dispose()
    return elapsed


async def run_copy(url: str, snapshot: dict[str, list[object]]) -> float:
    """COPY the same rows (built exactly as the engine builds them) into a plain table."""
    import asyncpg

    from waycore.ids import uuid7
    from waycore.sync import store
    from waycore.sync.engine import _records
    from waycore.sync.uuids import uuid7_hex

    ids = {b: uuid7() for b in snapshot}
    currencies = dict.fromkeys(snapshot, "USD")
    built = list(_records(snapshot, ids, currencies, {}, set(ids.values())))  # type: ignore[arg-type]
    # ids included, as a table of ours needs, made and sent as the engine makes and sends them
    records = [(i, *r) for i, r in zip(uuid7_hex(len(built)), built, strict=True)]
    names = ["id", *(n for n, _ in store.TXN_COLUMNS)]
    table = f"copy_baseline_{secrets.token_hex(3)}"
    columns = ", ".join(f"{n} {t}" for n, t in [("id", "uuid"), *store.TXN_COLUMNS])
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"create table {table} ({columns})")
        t0 = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table(table, records=records, columns=names)
        elapsed = time.perf_counter() - t0
        await conn.execute(f"drop table {table}")
    finally:
        await conn.close()
    return elapsed


async def bench(args: argparse.Namespace) -> int:
    import tempfile

    snapshot = synthetic(args.rows, args.accounts)
    with tempfile.TemporaryDirectory() as tmp, scratch_database(Path(tmp)) as url:
        ours: list[float] = []
        noop: list[float] = []
        copy: list[float] = []
        merge: list[float] = []
        for _ in range(args.repeat):
            copy.append(await run_copy(url, snapshot))
            first, again, added = await run_engine(url, snapshot)
            assert added == args.rows, added
            ours.append(first)
            noop.append(again)
            merge.append(await run_merge(url, snapshot))
    best_ours, best_copy, best_merge = min(ours), min(copy), min(merge)
    ratio = best_copy / best_ours
    rounds = statistics.median(c / o for c, o in zip(copy, ours, strict=True))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"rows: {args.rows:,} over {args.accounts} accounts, {args.repeat} rounds")
    print(f"load average (1, 5, 15 min): {load}")
    print(
        f"baseline COPY into a plain table: best {best_copy:.3f} s "
        f"({args.rows / best_copy:,.0f} rows/s), median {statistics.median(copy):.3f} s"
    )
    print(
        f"sync engine apply_snapshot:       best {best_ours:.3f} s "
        f"({args.rows / best_ours:,.0f} rows/s), median {statistics.median(ours):.3f} s"
    )
    print(f"re-apply, nothing changed:        {min(noop):.3f} s")
    print(
        f"staged merge path (accounts already hold rows, all {args.rows:,} new, the seed rows "
        f"removed): {best_merge:.3f} s, ratio {best_copy / best_merge:.2f}"
    )
    print(f"ratio COPY/engine, median of rounds: {rounds:.2f}")
    print(
        f"ratio COPY/engine, best runs: {ratio:.2f} (target >= 0.30) -> "
        f"{'PASS' if ratio >= 0.30 else 'FAIL'}"
    )
    return 0 if ratio >= 0.30 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    return asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
