"""A revoked key is refused within 1 s by every API process (API.md section 5)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx

from tests.api.procs import api_server, base_env
from waycore.domain.api_keys import service as keys

DEADLINE_S = 1.0
SLACK_S = 0.3  # the polling request itself


async def _refused_after(client: httpx.AsyncClient, url: str, key: str, started: float) -> float:
    headers = {"Authorization": f"Bearer {key}"}
    while time.monotonic() - started < 5:
        response = await client.get(f"{url}/v1/apiKeys", headers=headers)
        if response.status_code == 401:
            assert response.json()["error"]["code"] == "invalid_api_key"
            return time.monotonic() - started
        assert response.status_code == 200
        await asyncio.sleep(0.02)
    raise AssertionError("the revoked key was still accepted after 5 s")


async def test_revocation_reaches_another_process(clone_database, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = await clone_database()

    async def mint(name: str) -> keys.MintedKey:
        return await keys.create_key_cli(
            url, org="revocation", environment="test", name=name, scopes=None, expires_in_days=30
        )

    admin, victim, cli_victim = await mint("admin"), await mint("victim"), await mint("cli")
    env = {"WAYCORE_RATE_LIMIT": "off"}
    with (
        api_server(url, tmp_path / "a", settings.master_key_file, **env) as a,
        api_server(url, tmp_path / "b", settings.master_key_file, **env) as b,
    ):
        async with httpx.AsyncClient(timeout=10) as client:
            for key in (victim.key, cli_victim.key):
                for server in (a, b):  # both processes have verified (and cached) the keys
                    response = await client.get(
                        f"{server.url}/v1/apiKeys", headers={"Authorization": f"Bearer {key}"}
                    )
                    assert response.status_code == 200
            # revoked through process A: A refuses at once, B within a second
            response = await client.delete(
                f"{a.url}/v1/apiKeys/{victim.api_key.id}",
                headers={"Authorization": f"Bearer {admin.key}"},
            )
            assert response.status_code == 200
            started = time.monotonic()
            refused = await client.get(
                f"{a.url}/v1/apiKeys", headers={"Authorization": f"Bearer {victim.key}"}
            )
            assert refused.status_code == 401
            assert await _refused_after(client, b.url, victim.key, started) <= DEADLINE_S + SLACK_S

            # revoked by the CLI: both processes refuse within a second of its exit
            cli = subprocess.run(
                [sys.executable, "-m", "waycore", "keys", "revoke", cli_victim.api_key.id],
                env=base_env(
                    WAYCORE_DATABASE_URL=url,
                    WAYCORE_MASTER_KEY_FILE=str(settings.master_key_file),
                ),
                cwd=tmp_path,
                capture_output=True,
                timeout=60,
            )
            assert cli.returncode == 0, cli.stderr
            started = time.monotonic()
            for server in (a, b):
                elapsed = await _refused_after(client, server.url, cli_victim.key, started)
                assert elapsed <= DEADLINE_S + SLACK_S
