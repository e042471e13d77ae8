"""JSON access lines on stdout; secrets never reach logs or responses (DESIGN.md section 7)."""

from __future__ import annotations

import asyncio
import json
import secrets

import httpx

from tests.api.procs import api_server
from waycore.domain.api_keys import service as keys


async def test_json_lines_and_no_secrets(clone_database, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = await clone_database()
    minted = await keys.create_key_cli(
        url, org="logging", environment="test", name="log", scopes=None, expires_in_days=30
    )
    planted = secrets.token_urlsafe(32)
    wrong = f"way_test_{minted.api_key.id}_{planted}"
    secrets_seen: list[str] = [minted.key.rsplit("_", 1)[1], planted]
    texts: list[str] = []
    with api_server(url, tmp_path, settings.master_key_file, WAYCORE_RATE_LIMIT="off") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            ok = {"Authorization": f"Bearer {minted.key}"}
            texts.append((await client.get("/healthz", headers={"X-Request-Id": "log-1"})).text)
            texts.append(
                (await client.get("/v1/apiKeys", headers={**ok, "X-Request-Id": "log-2"})).text
            )
            created = await client.post(
                "/v1/apiKeys",
                headers={**ok, "X-Request-Id": "log-3"},
                json={"name": "child", "scopes": ["apiKeys:read"]},
            )
            assert created.status_code == 201
            secrets_seen.append(created.json()["key"].rsplit("_", 1)[1])
            for headers in (
                {"Authorization": f"Bearer {wrong}", "X-Request-Id": "log-4"},
                {"Authorization": f"Basic {planted}"},
            ):
                response = await client.get("/v1/apiKeys", headers=headers)
                assert response.status_code == 401
                texts.append(response.text)
            response = await client.post(
                "/v1/apiKeys", headers=ok, json={"name": planted * 3, "scopes": [wrong]}
            )
            assert response.status_code == 422
            texts.append(response.text)
        await asyncio.sleep(0.2)
        stdout = server.stdout()
    stderr = server.stderr()
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    by_id = {line.get("request_id"): line for line in lines if line.get("event") == "request"}
    assert by_id["log-1"]["route"] == "/healthz" and by_id["log-1"]["status"] == 200
    assert by_id["log-1"]["key_id"] is None
    line = by_id["log-2"]
    assert line["key_id"] == minted.api_key.id and line["route"] == "/v1/apiKeys"
    assert line["status"] == 200 and line["method"] == "GET"
    assert isinstance(line["latency_ms"], int | float) and line["latency_ms"] >= 0
    assert by_id["log-3"]["status"] == 201
    assert by_id["log-4"]["status"] == 401 and by_id["log-4"]["key_id"] is None
    for secret in secrets_seen:
        assert secret not in stdout and secret not in stderr
        assert not any(secret in text for text in texts)
