"""``waycore worker``: consume the job queue (migrates at start, like every command)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from waycore.supervisor import Child


def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=256, help="Jobs run at once.")
    ] = 4,
    browsers: Annotated[
        int,
        typer.Option(
            "--browsers", min=1, max=64, help="Active browser contexts (parked ones not counted)."
        ),
    ] = 2,
) -> None:
    """Run the worker: activations, syncs, schedules and cleanup."""
    import asyncio

    from waycore.config import get_settings
    from waycore.jobs.worker import run_worker
    from waycore.logging import configure_logging
    from waycore.runtime import open_for_command

    settings = get_settings()
    database = open_for_command(settings, run_preflight=True)
    configure_logging()
    try:
        asyncio.run(run_worker(settings, database.url, concurrency=concurrency, browsers=browsers))
    finally:
        database.close()


def up_children(
    *, api_port: int, bank_port: int, smtp_port: int, env: dict[str, str]
) -> list[Child]:
    """The bank (wired to the inbox's SMTP port and the API's SMS webhook), the inbox and the
    worker, as ``waycore up`` children."""
    from waycore.sandbox_bank.cli import bank_child
    from waycore.supervisor import Child, waycore_argv

    token = env.get("WAYCORE_INBOX_SMS_SECRET", "")
    bank_env = dict(env)
    bank_env.setdefault("WAYCORE_SANDBOX_SMTP_URL", f"smtp://127.0.0.1:{smtp_port}")
    bank_env.setdefault(
        "WAYCORE_SANDBOX_SMS_WEBHOOK_URL",
        f"http://127.0.0.1:{api_port}/inbox/sms?token={token}",
    )
    return [
        bank_child(bank_port, bank_env),
        Child("inbox", waycore_argv("inbox", "--port", str(smtp_port)), env),
        Child("worker", waycore_argv("worker", "--concurrency", "4", "--browsers", "2"), env),
    ]


ops_app = typer.Typer(no_args_is_help=True, help="The operator queue (awaitingOperator).")


@ops_app.command("list")
def ops_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Connections waiting for an operator, with their snapshot paths."""
    import json

    from waycore.activation.operator import list_open
    from waycore.cli import _run_db, _settings

    cases = _run_db(_settings(), list_open)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "connectionId": c.connection_id,
                        "environment": c.environment,
                        "institutionId": c.institution_id,
                        "portalUrl": c.portal_url,
                        "reason": c.reason,
                        "errorCode": c.error_code,
                        "pageUrl": c.page_url,
                        "snapshotPath": c.snapshot_path,
                        "since": c.created_at.isoformat(),
                    }
                    for c in cases
                ]
            )
        )
        return
    if not cases:
        typer.echo("No connection is waiting for an operator.")
    for c in cases:
        typer.echo(
            f"{c.connection_id}  {c.environment:4}  {c.reason:15}  {c.portal_url}  "
            f"snapshot: {c.snapshot_path or '-'}"
        )


@ops_app.command("resolve")
def ops_resolve(
    connection_id: Annotated[str, typer.Argument(help="The connection to put back to work.")],
    code: Annotated[
        str | None, typer.Option("--code", help="A one-time code for the new attempt.")
    ] = None,
    handled: Annotated[
        bool, typer.Option("--handled", help="The page was dealt with; try again.")
    ] = False,
) -> None:
    """Start a new activation attempt for a connection in awaitingOperator (audited)."""
    from waycore.activation.operator import resolve
    from waycore.cli import _fail, _run_db, _settings
    from waycore.errors import InvalidState
    from waycore.vault.keyring import load_keyring

    if (code is None) == (not handled):
        raise _fail("give exactly one of --code CODE or --handled")
    settings = _settings()
    keyring = load_keyring(settings)

    async def work(session: AsyncSession) -> str:
        return await resolve(session, keyring, connection_id, code=code)

    try:
        resolution = _run_db(settings, work)
    except InvalidState as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"Resolved {connection_id} ({resolution}); a new activation attempt is queued.")
