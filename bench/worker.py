"""Worker benchmark: four connections activate and sync their full history at once on one
worker with ``--browsers 2``, then sync again together (incremental).

Starts the API, the Sandbox Bank and the inbox as real processes on loopback, against a
scratch database on the server named by ``WAYCORE_TEST_DATABASE_URL`` (default: the local
PostgreSQL), queues four demo activations, then starts ``waycore worker --concurrency 4
--browsers 2`` and measures the wall time until every connection is ``active`` and synced.
Peak memory is the largest sampled sum of resident memory of the worker and every process
under it (Playwright's driver and Chromium). Prints one JSON object.

    .venv/bin/python bench/worker.py [--connections 4] [--browsers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.activation.system import ApiClient, System, is_active_and_synced  # noqa: E402
from tests.conftest import create_database, drop_database  # noqa: E402

from waycore import migrate  # noqa: E402

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TIMEOUT_S = 600.0


class RssSampler:
    """Peak memory of a process and all its descendants, sampled every 100 ms: summed RSS
    (counts pages Chromium's processes share once per process) and summed PSS (shares them)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = pss = 0
            try:
                for proc in [self.root, *self.root.children(recursive=True)]:
                    try:
                        info = proc.memory_full_info()
                        total += info.rss
                        pss += getattr(info, "pss", info.rss)
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            self.peak = max(self.peak, total)
            self.peak_pss = max(self.peak_pss, pss)
            self._stop.wait(0.1)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _wait_all(clients: list[tuple[ApiClient, str]], predicate: object) -> None:
    for api, cid in clients:
        api.wait_for(cid, predicate, timeout_s=TIMEOUT_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--browsers", type=int, default=2)
    args = parser.parse_args()

    server = os.environ.get("WAYCORE_TEST_DATABASE_URL", LOCAL_SERVER)
    name = f"waycore_bench_worker_{secrets.token_hex(3)}"
    url = create_database(server, name)
    workdir = Path(tempfile.mkdtemp(prefix="waycore-bench-worker-"))
    system = System(database_url=url, workdir=workdir)
    try:
        migrate.upgrade(url)
        system.start()
        clients = []
        for i in range(args.connections):
            api = system.client()  # one organisation each
            clients.append((api, api.demo_connection(f"demo-bench-{secrets.token_hex(3)}-{i}")))
        started = time.monotonic()
        with system.worker(concurrency=4, browsers=args.browsers) as worker:
            with RssSampler(worker.pid) as sampler:
                _wait_all(clients, is_active_and_synced)
                first = time.monotonic() - started
                synced = {cid: api.connection(cid)["lastSyncedAt"] for api, cid in clients}
                again = time.monotonic()
                for api, cid in clients:
                    response = api.call("PUT", f"/v1/connections/{cid}/sync")
                    assert response.status_code == 202, response.text
                for api, cid in clients:
                    api.wait_for(
                        cid,
                        lambda c, cid=cid: (
                            is_active_and_synced(c) and c["lastSyncedAt"] != synced[cid]
                        ),
                        timeout_s=TIMEOUT_S,
                    )
                second = time.monotonic() - again
        rows = system.sql(
            "select count(*) from transactions where connection_id = any(%s)",
            [cid for _, cid in clients],
        )[0][0]
        print(
            json.dumps(
                {
                    "connections": args.connections,
                    "browsers": args.browsers,
                    "transactions": rows,
                    "activation_and_full_sync_wall_s": round(first, 2),
                    "incremental_sync_wall_s": round(second, 2),
                    "peak_rss_sum_mib": round(sampler.peak / 2**20, 1),
                    "peak_pss_sum_mib": round(sampler.peak_pss / 2**20, 1),
                }
            )
        )
    finally:
        system.stop_all()
        drop_database(server, name)


if __name__ == "__main__":
    main()
