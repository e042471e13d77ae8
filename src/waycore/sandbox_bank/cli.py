"""``waycore sandbox-bank``: serve the bank; ``waycore sandbox-bank clock …``: its clock.

    waycore sandbox-bank [--host 127.0.0.1] [--port 8100]
    waycore sandbox-bank clock show
    waycore sandbox-bank clock advance --days N

Every form migrates the database first, like every other command.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from waycore.supervisor import Child

app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    help="Run the Sandbox Bank (default 127.0.0.1:8100), or drive its clock.",
)
clock_app = typer.Typer(no_args_is_help=True, help="The Sandbox Bank's clock.")
app.add_typer(clock_app, name="clock")


@app.callback()
def sandbox_bank(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8100,
) -> None:
    """Serve the Sandbox Bank portal and its /_sandbox/ control API."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from waycore.config import get_settings
    from waycore.logging import configure_logging
    from waycore.runtime import open_for_command
    from waycore.sandbox_bank.app import create_app

    settings = get_settings()
    database = open_for_command(settings, run_preflight=False)
    configure_logging()
    try:
        uvicorn.run(
            create_app(settings, database.url),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            server_header=False,
        )
    finally:
        database.close()


def _with_session(work: str, days: int = 0) -> date:
    from waycore.config import get_settings
    from waycore.runtime import run_in_session
    from waycore.sandbox_bank import clock

    settings = get_settings()

    async def run(session: AsyncSession) -> date:
        await clock.ensure_clock(session, clock.parse_start_date(settings.sandbox_start_date))
        if work == "advance":
            return await clock.advance(session, days)
        return await clock.today(session)

    return run_in_session(settings, run)


@clock_app.command("show")
def clock_show() -> None:
    """Print the bank's today."""
    typer.echo(_with_session("show").isoformat())


@clock_app.command("advance")
def clock_advance(
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Days to move forward.")],
) -> None:
    """Move the bank's clock forward, generating those days' transactions and postings."""
    typer.echo(_with_session("advance", days).isoformat())


def bank_child(bank_port: int, env: dict[str, str]) -> Child:
    """The Sandbox Bank as a ``waycore up`` child on ``--bank-port``."""
    from waycore.supervisor import Child, waycore_argv

    return Child("sandbox-bank", waycore_argv("sandbox-bank", "--port", str(bank_port)), env)
