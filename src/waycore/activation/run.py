"""Activation: the job ``setupCompletion`` (and new credentials) enqueue (API.md 8.3).

Log in as the delegated user with the vault's credentials (no password stored: the newest
temporary password the bank sent to the provisioned inbox since the connection was created),
answer every challenge through ``WorkerSolver``, list the accounts and check the required
permission (``viewTransactions`` on each), then turn the connection ``active`` (``kind:
ready``, ``setup: null``) and run the first full-history sync in the same bank session. A
``live`` connection's portal host is checked again before the session opens (API.md 8.2). From
``reauthRequired`` the same flow brings the connection back to ``active`` and syncs at once.

Failures before the login succeeded change only ``setup.status``: rejected or missing
credentials → ``awaitingCredentials``; locked user, missing permission, code timeout or retries
exhausted → ``activationFailed``; no connector or an unknown page → ``awaitingOperator`` (with an
operator case). Once active, a failure is a failed sync (``sync.failed``, trigger
``activation``). A retried job whose connection is already active but never synced (a worker
killed mid-sync) runs that first sync.
"""

from __future__ import annotations

import structlog

from waycore.activation import transitions
from waycore.activation.connectors import connector_for, open_case, open_case_if_portal_changed
from waycore.activation.runtime import Runtime
from waycore.activation.solver import ConnectionGone, WorkerSolver
from waycore.activation.vault import (
    ConnectionInfo,
    Secrets,
    load_connection,
    load_secrets,
    store_secret,
)
from waycore.connectors.base import BankAccount, PermissionDenied, error_code
from waycore.connectors.protocol import Credentials
from waycore.ids import uuid7
from waycore.inbox.wait import latest_temporary_password
from waycore.jobs.app import RetryLater
from waycore.sync import run as sync_run
from waycore.sync.engine import SyncAborted

log = structlog.get_logger(__name__)

#: setup status for an error code raised before the login succeeded
SETUP_AFTER = {
    "invalid_credentials": "awaitingCredentials",
    "password_expired": "awaitingCredentials",
    "portal_changed": "awaitingOperator",
}


async def _credentials(
    rt: Runtime, connection: ConnectionInfo, held: Secrets
) -> Credentials | None:
    if not held.bank_username:
        return None
    password = held.password or await latest_temporary_password(
        rt.engine, connection.id, since=connection.created_at, keyring=rt.keyring
    )
    if not password:
        return None
    return Credentials(
        username=held.bank_username, password=password, customer_id=held.bank_customer_id
    )


def check_permissions(accounts: list[BankAccount]) -> None:
    """The required permission (API.md 8.1): the history of every account listed."""
    if any("viewTransactions" not in a.permissions for a in accounts):
        raise PermissionDenied(
            frozenset({"viewTransactions"}),
            "The delegated user cannot view the transaction history of every account.",
        )


async def _login_failed(
    rt: Runtime, connection: ConnectionInfo, exc: BaseException, *, final_attempt: bool
) -> str:
    code = error_code(exc)
    if sync_run.is_retryable(exc) and not final_attempt:
        log.info("activation_retry", connection_id=connection.id, error_code=code)
        raise RetryLater(code) from None
    message = getattr(exc, "message", None) or "Activation failed inside Waycore."
    if code == "internal_error":
        log.error("activation_internal_error", connection_id=connection.id, exc_info=exc)
    setup_status = SETUP_AFTER.get(code, "activationFailed")
    await open_case_if_portal_changed(rt, connection, exc, code)
    await transitions.setup_failed(rt, connection.id, setup_status, code, message)
    return setup_status


async def activate(rt: Runtime, connection_id: str, *, final_attempt: bool = True) -> str:
    """Run one activation attempt; returns an outcome label (tests read it)."""
    connection = await load_connection(rt, connection_id)
    if connection is None or connection.status == "revoked":
        return "gone"
    if connection.status == "active" and connection.last_synced_at is None:
        return await sync_run.sync_connection(
            rt,
            connection_id,
            sync_id=connection.current_sync_id,
            trigger="activation",
            final_attempt=final_attempt,
        )
    if connection.status not in transitions.IN_SETUP or connection.setup_status != "activating":
        return "stale"
    connector = connector_for(rt, connection)
    if connector is None:
        await open_case(rt, connection, "no_connector")
        await transitions.setup_failed(
            rt, connection_id, "awaitingOperator", None, "No connector for this portal yet."
        )
        return "awaitingOperator"
    held = await load_secrets(rt, connection)
    credentials = await _credentials(rt, connection, held)
    if credentials is None:
        await transitions.setup_failed(
            rt,
            connection_id,
            "awaitingCredentials",
            "invalid_credentials",
            "No bank username, or no password and none received in the inbox.",
        )
        return "awaitingCredentials"
    held.password = credentials.password
    solver = WorkerSolver(rt, connection, held)
    await solver.calibrate()
    sync_id = uuid7()
    active = False
    try:
        async with rt.browsers.session(
            connection.portal_url,
            storage_state=None,
            secrets=[credentials.password],
            label=connection_id,
            live=connection.environment == "live",
        ) as bank:
            solver.bank = bank
            await connector.log_in(bank, credentials, solver)
            accounts = await connector.list_accounts(bank)
            check_permissions(accounts)
            if not await transitions.activated(rt, connection_id, sync_id):
                return "stale"
            active = True
            log.info("connection_activated", connection_id=connection_id)
            await store_secret(rt, connection, "storage_state", await bank.storage_state())
            await sync_run.read_and_apply(
                rt,
                connector,
                bank,
                connection,
                sync_id=sync_id,
                trigger="activation",
                accounts=accounts,
            )
            await store_secret(rt, connection, "storage_state", await bank.storage_state())
            await connector.log_out(bank)
    except (SyncAborted, ConnectionGone):
        await transitions.free_sync(rt, connection_id, sync_id)
        return "aborted"
    except RetryLater:
        raise
    except Exception as exc:
        if active:
            return await sync_run.sync_failed(
                rt,
                connection,
                exc,
                sync_id=sync_id,
                trigger="activation",
                final_attempt=final_attempt,
            )
        return await _login_failed(rt, connection, exc, final_attempt=final_attempt)
    return "active"
