"""``waycore keys`` and ``waycore orgs`` (API.md section 5.1), and ``keys create`` beside ``up``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.procs import base_env, free_port, stop

KEY = re.compile(r"^way_(live|test)_([a-z2-7]{16})_([A-Za-z0-9_-]{32,128})$")


def waycore(
    cwd: Path, *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "waycore", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
async def cli_env(clone_database, settings, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return base_env(
        WAYCORE_DATABASE_URL=await clone_database(),
        WAYCORE_MASTER_KEY_FILE=str(settings.master_key_file),
    )


def test_keys_and_orgs(cli_env: dict[str, str], tmp_path: Path) -> None:
    created = waycore(
        tmp_path, "keys", "create", "--environment", "test", "--org", "acme", "--json", env=cli_env
    )
    assert created.returncode == 0, created.stderr
    body = json.loads(created.stdout)  # nothing but one JSON object on stdout
    assert isinstance(body, dict) and KEY.match(body["key"])
    assert body["environment"] == "test" and body["name"] == "cli"
    key_id = body["id"]
    assert KEY.match(body["key"]).group(2) == key_id  # type: ignore[union-attr]

    scoped = waycore(
        tmp_path, "keys", "create", "--environment", "live", "--org", "acme", "--name", "ro",
        "--scope", "accounts:read", "--scope", "entities:read", "--expires-in-days", "10", "--json",
        env=cli_env,
    )  # fmt: skip
    assert scoped.returncode == 0, scoped.stderr
    scoped_body = json.loads(scoped.stdout)
    assert scoped_body["key"].startswith("way_live_")
    assert sorted(scoped_body["scopes"]) == ["accounts:read", "entities:read"]

    plain = waycore(
        tmp_path, "keys", "create", "--environment", "test", "--org", "acme", env=cli_env
    )
    assert plain.returncode == 0 and any(KEY.match(line) for line in plain.stdout.split())

    missing = waycore(tmp_path, "keys", "create", "--org", "acme", env=cli_env)
    assert missing.returncode != 0 and "--environment" in missing.stderr
    bad = waycore(tmp_path, "keys", "create", "--environment", "prod", env=cli_env)
    assert bad.returncode != 0
    bad_scope = waycore(
        tmp_path, "keys", "create", "--environment", "test", "--scope", "all", env=cli_env
    )
    assert bad_scope.returncode != 0

    listed = waycore(tmp_path, "keys", "list", "--org", "acme", env=cli_env)
    assert listed.returncode == 0 and key_id in listed.stdout
    assert body["key"].rsplit("_", 1)[1] not in listed.stdout

    revoked = waycore(tmp_path, "keys", "revoke", key_id, env=cli_env)
    assert revoked.returncode == 0, revoked.stderr
    again = waycore(tmp_path, "keys", "revoke", key_id, env=cli_env)
    assert again.returncode == 0 and "already" in again.stdout
    unknown = waycore(tmp_path, "keys", "revoke", "aaaaaaaaaaaaaaaa", env=cli_env)
    assert unknown.returncode != 0
    as_json = json.loads(
        waycore(tmp_path, "keys", "list", "--org", "acme", "--json", env=cli_env).stdout
    )
    assert {k["id"]: k["status"] for k in as_json}[key_id] == "revoked"

    org = waycore(tmp_path, "orgs", "create", "globex", env=cli_env)
    assert org.returncode == 0 and "Created" in org.stdout
    assert "exists" in waycore(tmp_path, "orgs", "create", "globex", env=cli_env).stdout
    orgs = waycore(tmp_path, "orgs", "list", env=cli_env).stdout
    assert "globex" in orgs and "acme" in orgs


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"{pid} (gone)"
    return f"{pid}: " + raw.replace(b"\0", b" ").decode(errors="replace")[:300]


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and _alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


@pytest.mark.integration
def test_keys_create_beside_a_running_up(tmp_path: Path) -> None:
    env = base_env(WAYCORE_RATE_LIMIT="off")
    assert "WAYCORE_DATABASE_URL" not in env
    api_port, bank_port, smtp_port = free_port(), free_port(), free_port()
    log = (tmp_path / "up.log").open("w")
    up = subprocess.Popen(
        [
            sys.executable, "-m", "waycore", "up", "--api-port", str(api_port),
            "--bank-port", str(bank_port), "--smtp-port", str(smtp_port),
        ],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        output = ""
        while time.monotonic() < deadline and "Test key:" not in output:
            assert up.poll() is None, (tmp_path / "up.log").read_text()
            time.sleep(0.25)
            output = (tmp_path / "up.log").read_text()
        assert "Test key:" in output, output
        up_key = re.search(r"Test key:\s+(\S+)", output).group(1)  # type: ignore[union-attr]
        record = json.loads((tmp_path / ".waycore" / "pg.json").read_text())
        pg_port = int(record["port"])

        created = waycore(tmp_path, "keys", "create", "--environment", "test", "--json", env=env)
        assert created.returncode == 0, created.stderr
        new_key = json.loads(created.stdout)
        # the key was minted in up's database: up's API knows it, and sees both keys
        response = httpx.get(
            f"http://127.0.0.1:{api_port}/v1/apiKeys",
            headers={"Authorization": f"Bearer {new_key['key']}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        ids = {k["id"] for k in response.json()["data"]}
        assert new_key["id"] in ids and KEY.match(up_key).group(2) in ids  # type: ignore[union-attr]

        children = _descendants(up.pid)
        assert children
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=60)
    finally:
        stop(up)
        log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = [pid for pid in children if _alive(pid)] + _processes_mentioning(str(tmp_path))
        if not left:
            break
        time.sleep(0.2)
    assert not left, f"processes left running: {[_cmdline(pid) for pid in left]}"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=1)
    import socket

    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", pg_port), timeout=1):
        pass
    assert not (tmp_path / ".waycore" / "pg.json").exists()
    assert os.path.isdir(tmp_path / ".waycore")
