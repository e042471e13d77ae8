"""Real API processes (``python -m waycore serve``) for tests that span processes.

Every wait is bounded; every process is stopped (SIGTERM, then SIGKILL) by its context manager.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(**extra: str) -> dict[str, str]:
    """The environment of a child: ours minus every WAYCORE_ setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAYCORE_")}
    env.update(extra)
    return env


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    stdout_path: Path

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stdout_path.with_suffix(".err").read_text(errors="replace")


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not become healthy in {timeout_s} s")


def stop(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace_s)


@contextmanager
def api_server(
    database_url: str, workdir: Path, master_key_file: Path, **env: str
) -> Iterator[Server]:
    """``waycore serve`` on a free port against ``database_url``; stdout kept in a file."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    stdout_path = workdir / f"serve-{port}.log"
    child_env = base_env(
        WAYCORE_DATABASE_URL=database_url,
        WAYCORE_MASTER_KEY_FILE=str(master_key_file),
        WAYCORE_STATE_DIR=str(workdir / ".waycore"),
        **env,
    )
    with stdout_path.open("wb") as out, stdout_path.with_suffix(".err").open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "waycore", "serve", "--port", str(port)],
            cwd=workdir,
            env=child_env,
            stdout=out,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, STARTUP_TIMEOUT_S)
        yield Server(url=url, process=process, stdout_path=stdout_path)
    finally:
        stop(process)
