"""Schemathesis against ``/openapi.json`` of a real API process (issue 8, Tests).

Fixed seed; phases examples, coverage and fuzzing; bounded examples so that the run stays within
a few minutes; ``WAYCORE_RATE_LIMIT=off``; a key holding every scope.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.procs import api_server
from waycore.domain.api_keys import service as keys

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "ignored_auth",
)
SEED = "20260304"
MAX_EXAMPLES = "40"


@pytest.mark.integration
@pytest.mark.timeout(600)
async def test_schemathesis(clone_database, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = await clone_database()
    minted = await keys.create_key_cli(
        url, org="schemathesis", environment="test", name="st", scopes=None, expires_in_days=30
    )
    st = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a dev dependency"
    with api_server(url, tmp_path, settings.master_key_file, WAYCORE_RATE_LIMIT="off") as server:
        result = subprocess.run(
            [
                st, "run", f"{server.url}/openapi.json", "--url", server.url,
                "-H", f"Authorization: Bearer {minted.key}",
                "--checks", ",".join(CHECKS),
                "--phases", "examples,coverage,fuzzing",
                "--seed", SEED, "--max-examples", MAX_EXAMPLES,
                "--request-timeout", "10", "--no-color", "--warnings", "off",
                "--generation-database", "none",
            ],
            capture_output=True, text=True, timeout=540, cwd=tmp_path,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        server_errors = server.stderr()
    report = result.stdout[-20000:] + result.stderr[-4000:]
    assert result.returncode == 0, report + "\n--- server stderr ---\n" + server_errors[-4000:]
    assert "Traceback" not in server_errors, server_errors[-4000:]
