"""One sync of a connection: log in (or reuse the stored session), read, apply, log out.

``sync_connection`` is what the ``connection.sync`` job runs; ``read_and_apply`` is the reading
half, shared with activation (whose first full-history sync runs in the login's own bank
session). Transactions are read from each account's watermark (the newest posted date, or the
oldest pending one if older; the connector subtracts its overlap window); an account seen for
the first time is read in full. Then the statements not stored yet (``sync.statements``; no
separate job: they ride on every sync, in the same bank session, committed with the rest;
``WAYCORE_STATEMENT_PERIODS`` keeps only the newest N periods). The session of a ``live``
connection re-checks the portal host first (API.md 8.2). A connection revoked mid-sync stops
the sync: nothing further is written (``SyncAborted``). Failures map through
``connectors.base.ERROR_CODES`` to API.md's state machine: user-fixable codes →
``reauthRequired``, Waycore-side ones → ``errored`` after the job's retries; ``sync.failed``
either way.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import text

from waycore.activation import transitions
from waycore.activation.connectors import connector_for, open_case_if_portal_changed
from waycore.activation.runtime import Runtime
from waycore.activation.solver import ConnectionGone, WorkerSolver
from waycore.activation.vault import ConnectionInfo, load_connection, load_secrets, store_secret
from waycore.connectors.base import BankAccount, ConnectorError, error_code
from waycore.connectors.protocol import Connector, Credentials
from waycore.ids import uuid7
from waycore.jobs.app import RetryLater
from waycore.sync.engine import SyncAborted, SyncResult, apply_snapshot, record_sync_failure
from waycore.sync.statements import stored_keys

log = structlog.get_logger(__name__)

WATERMARK_SQL = text(
    """
    select a.bank_id,
           least(max(coalesce(t.posted_date, t.transaction_date))
                     filter (where t.status <> 'pending'),
                 min(coalesce(t.transaction_date, t.posted_date))
                     filter (where t.status = 'pending')) as since
    from accounts a
    left join transactions t on t.account_id = a.id and t.removed_at is null
    where a.connection_id = :cid
    group by a.bank_id
    """
)


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ConnectorError) and exc.retryable


async def watermarks(rt: Runtime, connection_id: str) -> dict[str, date | None]:
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(WATERMARK_SQL, {"cid": connection_id})).all()
    return {r[0]: r[1] for r in rows}


async def _still_running(rt: Runtime, connection_id: str) -> None:
    state = await transitions.setup_status(rt, connection_id)
    if state is None or state[0] == "revoked":
        raise SyncAborted(f"connection {connection_id} is revoked")


async def read_and_apply(
    rt: Runtime,
    connector: Connector,
    bank: Any,
    connection: ConnectionInfo,
    *,
    sync_id: UUID,
    trigger: str,
    accounts: list[BankAccount] | None = None,
) -> SyncResult:
    """Read accounts (unless already listed in this session), balances, transactions and the
    statements not stored yet in ``bank``, and apply them all in one commit."""
    if accounts is None:
        accounts = await connector.list_accounts(bank)
    balances = await connector.balances(bank, accounts)
    marks = await watermarks(rt, connection.id)
    windows: dict[str, date | None] = {}
    rows = {}
    for account in accounts:
        await _still_running(rt, connection.id)
        since = marks.get(account.bank_id)
        rows[account.bank_id] = await connector.transactions(bank, account, since=since)
        # what the read covered: the connector's own window (overlap included) when it says
        start = getattr(connector, "window_start", None)
        windows[account.bank_id] = start(since) if callable(start) else since
    async with rt.engine.connect() as conn:
        stored = await stored_keys(conn, connection.id)
    recent = rt.settings.statement_periods or None
    files = []
    for account in accounts:
        await _still_running(rt, connection.id)
        have = stored.get(account.bank_id, set())
        files += await connector.statements(bank, account, have=have, recent=recent)
    async with rt.sessions() as session:
        result = await apply_snapshot(
            session,
            connection.id,
            accounts,
            rows,
            balances,
            statements=files,
            window=windows,
            sync_id=sync_id,
            trigger=trigger,
            interval=rt.sync_interval(connection.institution_id),
        )
    log.info(
        "sync_applied",
        connection_id=connection.id,
        sync_id=str(sync_id),
        added=result.added,
        modified=result.modified,
        removed=result.removed,
        statements=len(result.statements),
    )
    return result


async def sync_failed(
    rt: Runtime,
    connection: ConnectionInfo,
    exc: BaseException,
    *,
    sync_id: UUID,
    trigger: str,
    final_attempt: bool,
) -> str:
    """Record a failed sync per API.md 8.3; a transient failure with attempts left retries."""
    code = error_code(exc)
    if is_retryable(exc) and not final_attempt:
        log.info("sync_retry", connection_id=connection.id, error_code=code)
        raise RetryLater(code) from None
    message = getattr(exc, "message", None) or "Sync failed inside Waycore."
    if code not in transitions.USER_FIXABLE and code not in ERROR_TEXT_SAFE:
        log.error("sync_internal_error", connection_id=connection.id, exc_info=exc)
    async with rt.sessions() as session:
        await record_sync_failure(
            session,
            connection.id,
            exc,
            trigger=trigger,
            sync_id=sync_id,
            message=message,
            interval=rt.sync_interval(connection.institution_id),
        )
    if code in transitions.USER_FIXABLE:
        await transitions.setup_failed(
            rt, connection.id, transitions.USER_FIXABLE[code], code, message
        )
    else:
        await open_case_if_portal_changed(rt, connection, exc, code)
        await transitions.errored(rt, connection.id, code, message)
    return code


ERROR_TEXT_SAFE = frozenset({"institution_unavailable", "session_conflict", "portal_changed"})


def credentials_of(held: Any) -> Credentials | None:
    if not held.bank_username or not held.password:
        return None
    return Credentials(
        username=held.bank_username, password=held.password, customer_id=held.bank_customer_id
    )


async def sync_connection(
    rt: Runtime,
    connection_id: str,
    *,
    sync_id: UUID | None = None,
    trigger: str = "scheduled",
    final_attempt: bool = True,
) -> str:
    """Run one sync of an ``active`` or ``errored`` connection; returns an outcome label."""
    connection = await load_connection(rt, connection_id)
    sync_id = sync_id or uuid7()
    if connection is None or connection.status not in transitions.RUNNING:
        await transitions.free_sync(rt, connection_id, sync_id)
        return "skipped"
    await transitions.sync_started(rt, connection_id, sync_id)
    connector = connector_for(rt, connection)
    held = await load_secrets(rt, connection)
    credentials = credentials_of(held)
    if connector is None or credentials is None:
        reason = "no connector" if connector is None else "no credentials"
        error = ConnectorError(f"Cannot sync: {reason}.")
        return await sync_failed(
            rt, connection, error, sync_id=sync_id, trigger=trigger, final_attempt=True
        )
    solver = WorkerSolver(rt, connection, held)
    await solver.calibrate()

    async def waiting_for_end_user() -> None:  # API.md 8.3: sync.failed, reauthRequired
        async with rt.sessions() as session:
            await record_sync_failure(
                session,
                connection_id,
                "verification_required",
                trigger=trigger,
                sync_id=sync_id,
                message="The bank asks for a one-time code that only the end user can provide.",
                interval=rt.sync_interval(connection.institution_id),
            )

    solver.on_end_user_wait = waiting_for_end_user
    logged_in = False
    try:
        async with rt.browsers.session(
            connection.portal_url,
            storage_state=held.storage_state,
            secrets=[credentials.password],
            label=connection_id,
            live=connection.environment == "live",
        ) as bank:
            solver.bank = bank
            await connector.log_in(bank, credentials, solver)
            logged_in = True
            await transitions.recovered(rt, connection_id)
            if solver.waited_for_end_user:  # that sync failed; the re-login syncs at once
                sync_id = uuid7()
                await transitions.sync_started(rt, connection_id, sync_id)
            await read_and_apply(rt, connector, bank, connection, sync_id=sync_id, trigger=trigger)
            await store_secret(rt, connection, "storage_state", await bank.storage_state())
            await connector.log_out(bank)  # the stored state keeps a remembered device
    except (SyncAborted, ConnectionGone):
        log.info("sync_aborted", connection_id=connection_id)
        await transitions.free_sync(rt, connection_id, sync_id)
        return "aborted"
    except RetryLater:
        raise
    except Exception as exc:
        if solver.waited_for_end_user and not logged_in:  # its sync.failed is recorded
            return await _end_user_wait_failed(rt, connection, exc)
        return await sync_failed(
            rt, connection, exc, sync_id=sync_id, trigger=trigger, final_attempt=final_attempt
        )
    return "synced"


async def _end_user_wait_failed(rt: Runtime, connection: ConnectionInfo, exc: BaseException) -> str:
    """No (valid) code came for a sync's log-in: ``reauthRequired`` / ``activationFailed``."""
    code = error_code(exc)
    message = getattr(exc, "message", None) or "The log-in failed."
    status = transitions.USER_FIXABLE.get(code, "activationFailed")
    await transitions.setup_failed(rt, connection.id, status, code, message)
    return code
