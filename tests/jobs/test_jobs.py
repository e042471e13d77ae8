"""The job layer without a browser: retry policy, scheduled syncs, cleanup, intervals."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import procrastinate
import pytest
from fastapi import FastAPI
from procrastinate.jobs import Job

from tests.api.connections_helpers import force_state, new_connection, sql
from waycore.activation.runtime import Runtime, sync_interval
from waycore.config import Settings
from waycore.connectors.base import InstitutionUnavailable
from waycore.connectors.pool import BrowserPool
from waycore.db import make_sessionmaker
from waycore.jobs import schedules
from waycore.jobs.app import BankRetry, RetryLater, psycopg_connector
from waycore.vault.keyring import load_keyring


def _job(attempts: int) -> Job:
    return Job(id=1, queue="sync", lock=None, queueing_lock=None, task_name="t", attempts=attempts)


def test_retry_backs_off_exponentially_with_jitter_then_gives_up() -> None:
    strategy = BankRetry(max_attempts=4, base_s=10)
    for attempts in range(3):
        decision = strategy.get_retry_decision(exception=RetryLater("x"), job=_job(attempts))
        assert decision is not None and decision.retry_at is not None
    assert strategy.get_retry_decision(exception=RetryLater("x"), job=_job(3)) is None
    # only RetryLater is retried: permanent errors never are
    assert strategy.get_retry_decision(exception=ValueError(), job=_job(0)) is None
    assert strategy.get_retry_decision(exception=InstitutionUnavailable(), job=_job(0)) is None


def test_backoff_window_doubles() -> None:
    import datetime as dt

    strategy = BankRetry(max_attempts=10, base_s=100)
    for attempts, expected in ((0, 100), (1, 200), (2, 400)):
        decision = strategy.get_retry_decision(exception=RetryLater("x"), job=_job(attempts))
        assert decision is not None and decision.retry_at is not None
        delay = (decision.retry_at - dt.datetime.now(dt.UTC)).total_seconds()
        assert 0.74 * expected - 1 <= delay <= 1.25 * expected + 1


def test_sync_interval_per_institution() -> None:
    settings = Settings(sync_interval_s=3600, sync_intervals="sandbox_bank=60, other=7200")
    assert sync_interval(settings, "sandbox_bank") == timedelta(seconds=60)
    assert sync_interval(settings, "other") == timedelta(seconds=7200)
    assert sync_interval(settings, "unknown") == timedelta(hours=1)
    assert sync_interval(Settings(), None) == timedelta(hours=6)


@pytest.fixture
async def runtime(app: FastAPI, settings: Settings) -> AsyncIterator[Runtime]:
    yield Runtime(
        settings=settings,
        engine=app.state.engine,
        sessions=make_sessionmaker(app.state.engine),
        keyring=load_keyring(settings),
        browsers=BrowserPool(max_contexts=1),  # never started: no browser here
    )


async def test_due_connections_get_exactly_one_scheduled_sync(
    app: FastAPI, client: httpx.AsyncClient, make_key: object, runtime: Runtime
) -> None:
    # one organisation each (an entity has one connection per portal)
    ids = [
        (await new_connection(client, await make_key()))["id"]  # type: ignore[operator]
        for _ in range(4)
    ]
    past = "now() - interval '1 minute'"
    for cid, status, when in (
        (ids[0], "active", past),
        (ids[1], "errored", past),
        (ids[2], "paused", past),
        (ids[3], "active", "now() + interval '1 hour'"),
    ):
        await sql(
            app,
            f"update connections set status = :s, kind = 'ready', setup_status = null, "
            f"next_sync_at = {when} where id = :cid",
            s=status,
            cid=cid,
        )
    await schedules.queue_due_syncs(runtime)
    queued = await sql(
        app,
        "select lock, args->>'trigger', queueing_lock from procrastinate_jobs "
        "where task_name = 'connection.sync' and lock = any(:ids)",
        ids=ids,
    )
    assert sorted(r[0] for r in queued) == sorted(ids[:2])
    assert {r[1] for r in queued} == {"scheduled"}
    assert {r[2] for r in queued} == {f"sync:{i}" for i in ids[:2]}
    states = await sql(app, "select id, sync_status from connections where id = any(:ids)", ids=ids)
    assert dict(states) == {
        ids[0]: "syncing",
        ids[1]: "syncing",
        ids[2]: "idle",
        ids[3]: "idle",
    }
    await schedules.queue_due_syncs(runtime)  # nothing twice
    again = await sql(
        app,
        "select count(*) from procrastinate_jobs where task_name = 'connection.sync' "
        "and lock = any(:ids)",
        ids=ids,
    )
    assert again[0][0] == 2
    await force_state(app, ids[0], sync_status="idle")  # a manual one still queued
    await schedules.queue_due_syncs(runtime)
    dedup = await sql(
        app,
        "select count(*) from procrastinate_jobs where task_name = 'connection.sync' "
        "and lock = :cid",
        cid=ids[0],
    )
    assert dedup[0][0] == 1
    # leave no runnable job behind in the shared database (system tests clone it)
    await sql(
        app,
        "update procrastinate_jobs set status = 'cancelled' where lock = any(:ids) "
        "and status = 'todo'",
        ids=ids,
    )


async def test_cleanup_drops_old_rows_only(
    app: FastAPI, database_url: str, make_key: object, runtime: Runtime
) -> None:
    key = await make_key()  # type: ignore[operator]
    tag = secrets.token_hex(4)
    for age, suffix in (("40 days", "old"), ("1 day", "new")):
        await sql(
            app,
            "insert into events (id, org_id, environment, type, data, created_at) "
            f"values (:id, :org, 'test', 'test', '{{}}', now() - interval '{age}')",
            id=f"evt_{tag}{suffix}",
            org=key.org_id,
        )
    await sql(
        app,
        "insert into idempotency_keys (org_id, environment, key, fingerprint, state, created_at) "
        "values (:org, 'test', :k, 'f', 'done', now() - interval '2 days')",
        org=key.org_id,
        k=f"idem-{tag}",
    )
    job_app = procrastinate.App(connector=psycopg_connector(database_url, max_size=2))
    async with job_app.open_async():
        counts = await schedules.cleanup(runtime, job_app)
    assert counts["events"] >= 1 and counts["idempotency"] >= 1
    left = await sql(app, "select id from events where id like :p", p=f"evt_{tag}%")
    assert [r[0] for r in left] == [f"evt_{tag}new"]
