"""The ``waycore`` command line (Typer)."""

from __future__ import annotations

import os
import secrets
import sys
import time
from typing import Annotated

import httpx
import typer

from waycore.config import Settings, get_settings
from waycore.logging import configure_logging

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Waycore banking API.")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
app.add_typer(db_app, name="db")


def _settings() -> Settings:
    return get_settings()


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to the configured database."""
    from waycore.runtime import StartupRefused, open_database

    try:
        database = open_database(_settings())
    except StartupRefused as exc:
        raise _fail(str(exc)) from None
    database.close()
    typer.echo("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
) -> None:
    """Run the API server (never runs jobs)."""
    import uvicorn

    from waycore.api.app import create_app
    from waycore.runtime import StartupRefused, open_database, preflight

    settings = _settings()
    try:
        preflight(settings)
        database = open_database(settings)
    except StartupRefused as exc:
        raise _fail(str(exc)) from None
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


def _wait_healthy(url: str, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


@app.command()
def up(
    api_port: Annotated[int, typer.Option("--api-port")] = 8000,
    bank_port: Annotated[int, typer.Option("--bank-port")] = 8100,
    smtp_port: Annotated[int, typer.Option("--smtp-port")] = 2525,
) -> None:
    """Run the whole system: embedded PostgreSQL, API, Sandbox Bank (Ctrl-C stops it all)."""
    from waycore import pgembed
    from waycore.runtime import StartupRefused, child_env, open_database, preflight
    from waycore.supervisor import Child, Supervisor, waycore_argv

    settings = _settings()
    try:
        preflight(settings)
        database = open_database(settings)
    except StartupRefused as exc:
        raise _fail(str(exc)) from None
    if database.server is not None:
        pgembed.write_record(settings.state_dir, database.server)
    api_url = f"http://127.0.0.1:{api_port}"
    bank_url = f"http://localhost:{bank_port}"
    extra = {
        "WAYCORE_INBOX_SMS_SECRET": (
            settings.inbox_sms_secret.get_secret_value()
            if settings.inbox_sms_secret
            else secrets.token_urlsafe(24)
        ),
        "WAYCORE_SANDBOX_BANK_URL": os.environ.get("WAYCORE_SANDBOX_BANK_URL", bank_url),
    }
    env = child_env(settings, database.url, **extra)
    children = [
        Child("api", waycore_argv("serve", "--port", str(api_port)), env),
    ]
    children.extend(_extra_children(bank_port=bank_port, smtp_port=smtp_port, env=env))
    supervisor = Supervisor(children)
    supervisor.install_signal_handlers()
    supervisor.start()
    try:
        if not _wait_healthy(f"{api_url}/healthz"):
            typer.echo("error: the API did not become healthy", err=True)
            return
        key = _bootstrap_key(database.url)
        typer.echo("")
        typer.echo("Waycore is running. Ctrl-C stops everything.")
        typer.echo(f"  API:          http://localhost:{api_port}/v1")
        typer.echo(f"  API docs:     http://localhost:{api_port}/docs")
        typer.echo(f"  Sandbox Bank: {bank_url}")
        typer.echo(f"  Test key:     {key}")
        typer.echo("")
        typer.echo(
            f"curl -s -H 'Authorization: Bearer {key}' http://localhost:{api_port}/v1/institutions"
        )
        sys.stdout.flush()
        dead = supervisor.wait()
        if dead:
            typer.echo(f"error: process {dead!r} exited; stopping", err=True)
    finally:
        supervisor.stop()
        if database.server is not None:
            pgembed.remove_record(settings.state_dir)
        database.close()


def _extra_children(**kwargs: object) -> list[object]:
    """Children added by later capabilities (Sandbox Bank, worker, inbox)."""
    return []


def _bootstrap_key(database_url: str) -> str:
    """Seed the default organisation (and its default entity) and mint a test key."""
    import asyncio

    from waycore.domain.api_keys import service as keys

    result = asyncio.run(
        keys.create_key_cli(
            database_url,
            org="default",
            environment="test",
            name="up",
            scopes=None,
            expires_in_days=365,
        )
    )
    return result.key
