"""The ``waycore`` command line (Typer)."""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import httpx
import typer

from waycore.config import Settings, get_settings
from waycore.jobs.cli import ops_app
from waycore.jobs.cli import worker as worker_command
from waycore.logging import configure_logging
from waycore.sandbox_bank.cli import app as sandbox_bank_app

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from waycore.supervisor import Child

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Waycore banking API.")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
app.add_typer(db_app, name="db")
keys_app = typer.Typer(no_args_is_help=True, help="API keys.")
app.add_typer(keys_app, name="keys")
orgs_app = typer.Typer(no_args_is_help=True, help="Organizations.")
app.add_typer(orgs_app, name="orgs")
vault_app = typer.Typer(no_args_is_help=True, help="The vault's master keys.")
app.add_typer(vault_app, name="vault")
app.add_typer(sandbox_bank_app, name="sandbox-bank")
app.add_typer(ops_app, name="ops")
app.command("worker")(worker_command)


def _settings() -> Settings:
    return get_settings()


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to the configured database."""
    from waycore.runtime import open_for_command

    open_for_command(_settings(), run_preflight=False).close()
    typer.echo("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
) -> None:
    """Run the API server (never runs jobs)."""
    import gc

    import uvicorn

    from waycore.api.app import create_app
    from waycore.runtime import open_for_command

    settings = _settings()
    database = open_for_command(settings, run_preflight=True)
    configure_logging()
    try:
        api = create_app(settings, database.url)
        # Everything imported and built so far lives as long as the process: out of the
        # collector's way, so that a full collection does not walk it (tens of ms) mid-request.
        gc.freeze()
        uvicorn.run(
            api,
            host=host,
            port=port,
            loop="uvloop",  # uvicorn[standard]: named, so that a missing one fails loudly
            http="httptools",
            log_level="warning",
            access_log=False,
            server_header=False,
        )
    finally:
        database.close()


@app.command()
def inbox(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="SMTP port to bind.")] = 2525,
) -> None:
    """Run the inbox's SMTP server (mail for the inbox domain: codes, temporary passwords)."""
    import asyncio

    from waycore.inbox import smtp
    from waycore.runtime import open_for_command
    from waycore.vault.keyring import load_keyring

    settings = _settings()
    database = open_for_command(settings, run_preflight=True)
    configure_logging()
    try:
        asyncio.run(
            smtp.serve(
                database.url,
                load_keyring(settings),
                domain=settings.inbox_domain,
                host=host,
                port=port,
            )
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
    """Run everything: embedded PostgreSQL, API, worker, inbox, Sandbox Bank (Ctrl-C stops all)."""
    from waycore import pgembed
    from waycore.runtime import child_env, open_for_command
    from waycore.supervisor import Child, Supervisor, waycore_argv

    settings = _settings()
    database = open_for_command(settings, run_preflight=True)
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
    children.extend(
        _extra_children(api_port=api_port, bank_port=bank_port, smtp_port=smtp_port, env=env)
    )
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


def _extra_children(**kwargs: object) -> list[Child]:
    """Children added by later capabilities (Sandbox Bank, worker, inbox)."""
    from typing import cast

    from waycore.jobs.cli import up_children

    return up_children(
        api_port=int(str(kwargs["api_port"])),
        bank_port=int(str(kwargs["bank_port"])),
        smtp_port=int(str(kwargs["smtp_port"])),
        env=cast(dict[str, str], kwargs["env"]),
    )


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


def _run_db(
    settings: Settings,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    run_preflight: bool = False,
) -> T:
    """Run ``work`` in a session on the configured (or embedded) database."""
    from waycore.runtime import run_in_session

    return run_in_session(settings, work, run_preflight=run_preflight)


@keys_app.command("create")
def keys_create(
    environment: Annotated[str, typer.Option("--environment", help="live or test.")],
    org: Annotated[str, typer.Option("--org")] = "default",
    name: Annotated[str, typer.Option("--name")] = "cli",
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Repeatable.")] = None,
    expires_in_days: Annotated[int, typer.Option("--expires-in-days", min=1, max=730)] = 365,
    as_json: Annotated[bool, typer.Option("--json", help="Print only a JSON object.")] = False,
) -> None:
    """Mint an API key (printed once). The organization is created if needed."""
    from waycore.domain.api_keys import service as keys
    from waycore.domain.api_keys.scopes import ALL_SCOPES

    if environment not in ("live", "test"):
        raise _fail("--environment must be live or test")
    unknown = sorted(set(scope or []) - set(ALL_SCOPES))
    if unknown:
        raise _fail(f"unknown scope(s): {', '.join(unknown)}")
    if not 1 <= len(name) <= 100 or not 1 <= len(org) <= 100:
        raise _fail("--name and --org must be 1-100 characters")
    minted = _run_db(
        _settings(),
        lambda session: keys.create_key_for_org(
            session,
            org=org,
            environment=environment,
            name=name,
            scopes=scope or None,
            expires_in_days=expires_in_days,
        ),
    )
    api_key = minted.api_key
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "key": minted.key,
                    "id": api_key.id,
                    "org": org,
                    "environment": api_key.environment,
                    "name": api_key.name,
                    "scopes": api_key.scopes,
                    "expiresAt": api_key.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
        )
        return
    typer.echo(f"Created {api_key.environment} key {api_key.id} for organization {org!r}.")
    typer.echo("The key is shown only now; store it safely:")
    typer.echo(minted.key)


@keys_app.command("list")
def keys_list(
    org: Annotated[str, typer.Option("--org")] = "default",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List an organization's keys (never their secrets)."""
    from sqlalchemy import select

    from waycore.domain.api_keys import service as keys
    from waycore.domain.api_keys.models import ApiKey
    from waycore.domain.orgs.models import Organization

    async def work(session: AsyncSession) -> list[ApiKey]:
        async with session.begin():
            stmt = (
                select(ApiKey)
                .join(Organization, Organization.id == ApiKey.org_id)
                .where(Organization.name == org)
                .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
            )
            return list((await session.execute(stmt)).scalars())

    rows = _run_db(_settings(), work)
    items = [
        {
            "id": k.id,
            "environment": k.environment,
            "name": k.name,
            "status": keys.key_status(k),
            "scopes": k.scopes,
            "expiresAt": k.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for k in rows
    ]
    if as_json:
        typer.echo(json.dumps(items))
        return
    for item in items:
        typer.echo(f"{item['id']}  {item['environment']:4}  {item['status']:7}  {item['name']}")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The keyId to revoke.")]) -> None:
    """Revoke a key; API processes refuse it within one second."""
    from sqlalchemy import update

    from waycore.domain.api_keys.models import ApiKey
    from waycore.domain.common import utcnow

    async def work(session: AsyncSession) -> int:
        async with session.begin():
            result = await session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            found = await session.get(ApiKey, key_id)
            return -1 if found is None else int(result.rowcount)  # type: ignore[attr-defined]

    changed = _run_db(_settings(), work)
    if changed < 0:
        raise _fail(f"no key {key_id}")
    typer.echo(f"Revoked {key_id}." if changed else f"{key_id} was already revoked.")


@orgs_app.command("create")
def orgs_create(name: Annotated[str, typer.Argument()]) -> None:
    """Create an organization (with its default entity)."""
    from waycore.domain.orgs import service as orgs

    _, created = _run_db(_settings(), lambda session: orgs.create(session, name))
    typer.echo(f"Created organization {name!r}." if created else f"Organization {name!r} exists.")


@orgs_app.command("list")
def orgs_list() -> None:
    """List organizations."""
    from waycore.domain.orgs import service as orgs

    for org in _run_db(_settings(), orgs.list_all):
        typer.echo(f"{org.id}  {org.name}")


@vault_app.command("rotate")
def vault_rotate(
    retire: Annotated[
        str | None, typer.Option("--retire", help="Drop this old master key once unused.")
    ] = None,
) -> None:
    """Re-wrap every data key under the current master key (development: a new one first)."""
    from waycore.vault.rotate import RotationRefused, RotationResult, rotate

    settings = _settings()

    async def work(session: AsyncSession) -> RotationResult | RotationRefused:
        try:
            return await rotate(session, settings, retire_id=retire)
        except RotationRefused as exc:
            return exc

    result = _run_db(settings, work, run_preflight=True)
    if isinstance(result, RotationRefused):
        raise _fail(str(result))
    typer.echo(
        f"Re-wrapped {result.data_keys} data key(s) and {result.app_secrets} app secret(s) "
        f"under master key {result.current_id}."
    )
    if retire is not None:
        if settings.master_key is None:
            typer.echo(f"Retired master key {retire} from the key file.")
        else:
            typer.echo(f"Master key {retire} is unused: remove it from WAYCORE_MASTER_KEY.")
