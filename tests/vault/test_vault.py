"""The vault: per-organisation data keys, rotation, retirement, production refusal."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import create_database, drop_database
from waycore import migrate
from waycore.api import cursors
from waycore.config import Settings
from waycore.db import make_engine, make_sessionmaker
from waycore.domain.orgs import service as orgs
from waycore.domain.partition import Partition
from waycore.vault import app_secrets
from waycore.vault.datakeys import decrypt_for_org, encrypt_for_org
from waycore.vault.envelope import DecryptionFailed, key_id_of
from waycore.vault.keyring import load_keyring, parse_keyring
from waycore.vault.rotate import RotationRefused, retire, rotate

PLANTED = "planted-Secret-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def vault_db(pg_server: str) -> Iterator[str]:
    """A database of its own: rotation touches every data key of the deployment."""
    name = f"waycore_vault_{secrets.token_hex(4)}"
    url = create_database(pg_server, name)
    migrate.upgrade(url)
    yield url
    drop_database(pg_server, name)


@pytest.fixture
async def vault_engine(vault_db: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(vault_db, pool_size=2, max_overflow=0)
    yield engine
    await engine.dispose()


def _settings(tmp_path: Path) -> Settings:
    return Settings(master_key_file=tmp_path / "master.key", state_dir=tmp_path)


async def test_round_trip_binds_org_and_aad(engine: AsyncEngine, tmp_path: Path) -> None:
    keyring = load_keyring(_settings(tmp_path))
    async with make_sessionmaker(engine)() as session:
        org_a = await orgs.get_or_create(session, f"vault-{secrets.token_hex(4)}")
        org_b = await orgs.get_or_create(session, f"vault-{secrets.token_hex(4)}")
        async with session.begin():
            blob = await encrypt_for_org(session, keyring, org_a.id, PLANTED, b"conn_x:password")
            assert PLANTED.encode() not in blob
            assert key_id_of(blob).startswith("dk")
            plain = await decrypt_for_org(session, keyring, org_a.id, blob, b"conn_x:password")
            assert plain == PLANTED.encode()
            with pytest.raises(DecryptionFailed):
                await decrypt_for_org(session, keyring, org_a.id, blob, b"conn_y:password")
            with pytest.raises(DecryptionFailed):
                await decrypt_for_org(session, keyring, org_b.id, blob, b"conn_x:password")
            wrapped = (
                await session.execute(
                    text("select wrapped, master_key_id from vault_data_keys where org_id = :o"),
                    {"o": org_a.id},
                )
            ).one()
            assert wrapped[1] == keyring.current_id
            assert key_id_of(bytes(wrapped[0])) == keyring.current_id


async def test_rotate_keeps_secrets_and_cursors_then_retires(
    vault_engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    old = load_keyring(settings)
    cursor_key = await app_secrets.load_or_create(vault_engine, old, "cursor_key")
    partition_org = None
    async with make_sessionmaker(vault_engine)() as session:
        org = await orgs.get_or_create(session, "rotation")
        partition_org = org.id
        async with session.begin():
            blob = await encrypt_for_org(session, old, org.id, PLANTED, b"aad")
        partition = Partition(org_id=partition_org, environment="test")
        cursor = cursors.issue(cursor_key, "/v1/connections", partition, {}, ["x"])

        result = await rotate(session, settings)
        assert result.current_id != old.current_id
        assert result.data_keys == 1 and result.app_secrets == 1

        new = load_keyring(settings)
        assert new.current_id == result.current_id
        assert set(new.keys) == {old.current_id, new.current_id}
        assert os.stat(settings.master_key_file).st_mode & 0o777 == 0o600
        async with session.begin():
            rows = (
                await session.execute(
                    text(
                        "select master_key_id from vault_data_keys union all "
                        "select key_id from app_secrets"
                    )
                )
            ).scalars()
            assert set(rows) == {new.current_id}
            assert await decrypt_for_org(session, new, org.id, blob, b"aad") == PLANTED.encode()
            # a process still holding the old keyring reloads it on the unknown key id
            assert await decrypt_for_org(session, old, org.id, blob, b"aad") == PLANTED.encode()
        assert await app_secrets.load_or_create(vault_engine, new, "cursor_key") == cursor_key
        assert cursors.read(cursor_key, cursor, "/v1/connections", partition, {}) == ["x"]

        with pytest.raises(RotationRefused):
            await retire(session, settings, new.current_id)
        with pytest.raises(RotationRefused):
            await retire(session, settings, "mkunknown")
        await retire(session, settings, old.current_id)
        retired = parse_keyring(settings.master_key_file.read_text())
        assert set(retired.keys) == {new.current_id}
        async with session.begin():
            assert await decrypt_for_org(session, retired, org.id, blob, b"aad") == (
                PLANTED.encode()
            )
        async with session.begin():
            stored = (
                await session.execute(
                    text(
                        "select wrapped from vault_data_keys "
                        "union all select wrapped from app_secrets"
                    )
                )
            ).scalars()
            for wrapped in stored:
                assert new.current.hex() not in bytes(wrapped).hex()


async def test_retire_refuses_a_key_still_in_use(vault_engine: AsyncEngine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = load_keyring(settings)
    async with make_sessionmaker(vault_engine)() as session:
        org = await orgs.get_or_create(session, f"retire-{secrets.token_hex(3)}")
        async with session.begin():
            await encrypt_for_org(session, first, org.id, "x", b"")
        # another key file whose current key is new but whose data is still under `first`
        from waycore.vault.rotate import add_current_key

        add_current_key(settings)
        with pytest.raises(RotationRefused):
            await retire(session, settings, first.current_id)


def _run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("WAYCORE_")}
    return subprocess.run(
        [sys.executable, "-m", "waycore", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_cli_vault_rotate_and_retire(pg_server: str, tmp_path: Path) -> None:
    name = f"waycore_vault_cli_{secrets.token_hex(4)}"
    url = create_database(pg_server, name)
    try:
        migrate.upgrade(url)
        settings = _settings(tmp_path)
        old = load_keyring(settings)
        engine = make_engine(url, pool_size=1, max_overflow=0)
        try:
            cursor_key = await app_secrets.load_or_create(engine, old, "cursor_key")
            async with make_sessionmaker(engine)() as session:
                org = await orgs.get_or_create(session, "cli")
                async with session.begin():
                    blob = await encrypt_for_org(session, old, org.id, PLANTED, b"aad")
            env = {
                "WAYCORE_DATABASE_URL": url,
                "WAYCORE_MASTER_KEY_FILE": str(settings.master_key_file),
                "WAYCORE_STATE_DIR": str(tmp_path),
            }
            done = _run_cli("vault", "rotate", env=env)
            assert done.returncode == 0, done.stderr
            assert "Re-wrapped 1 data key(s) and 1 app secret(s)" in done.stdout
            refused = _run_cli("vault", "rotate", "--retire", "mknotthere", env=env)
            assert refused.returncode != 0 and "not in the keyring" in refused.stderr
            done = _run_cli("vault", "rotate", "--retire", old.current_id, env=env)
            assert done.returncode == 0, done.stderr
            assert f"Retired master key {old.current_id}" in done.stdout
            now = load_keyring(settings)
            assert old.current_id not in now.keys and len(now.keys) == 2
            for output in (done.stdout, done.stderr):
                assert settings.master_key_file.read_text().split(":")[1][:20] not in output
            async with make_sessionmaker(engine)() as session, session.begin():
                assert await decrypt_for_org(session, now, org.id, blob, b"aad") == (
                    PLANTED.encode()
                )
            assert await app_secrets.load_or_create(engine, now, "cursor_key") == cursor_key
        finally:
            await engine.dispose()
    finally:
        drop_database(pg_server, name)


@pytest.mark.parametrize("command", ["serve", "up"])
def test_production_refuses_to_start_without_master_key(
    command: str, database_url: str, tmp_path: Path
) -> None:
    env = {
        "WAYCORE_ENV": "production",
        "WAYCORE_DATABASE_URL": database_url,
        "WAYCORE_MASTER_KEY_FILE": str(tmp_path / "absent.key"),
        "WAYCORE_STATE_DIR": str(tmp_path),
    }
    done = _run_cli(command, "--port" if command == "serve" else "--api-port", "18765", env=env)
    assert done.returncode != 0
    assert "WAYCORE_MASTER_KEY" in done.stderr
    assert not (tmp_path / "absent.key").exists()
