"""API benchmark: Waycore against a bare ASGI + asyncpg baseline, in one run (``bench/run``).

Creates a scratch database, migrates it, starts ``waycore serve`` (rate limiting off) and
``bench/baseline_app.py`` on loopback, seeds data through the real API, then measures

* throughput with ``wrk`` (32 connections) on the single-object GET and the 100-row list, and
* latency of the single-object GET at a fixed offered load, open loop, with the small asyncio
  generator below (``python bench/api.py openloop ...``), run as its own process.

Every child runs in its own session and is stopped on exit, Ctrl-C or SIGTERM included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
RATIO_TARGET = 0.40
P99_TARGET_MS = 25.0

WRK_SCRIPT = """
local token = os.getenv("BENCH_TOKEN")
if token then wrk.headers["Authorization"] = "Bearer " .. token end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"non2xx":%d,"socket_errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


# -- processes ---------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child: SIGTERM when the benchmark process dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Children:
    """Every process the benchmark starts, each in its own session, stopped on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)
        self.procs.append(proc)
        return proc

    def run(self, argv: list[str], timeout: float, **kwargs: Any) -> str:
        """Run to completion within ``timeout`` seconds; its stdout."""
        proc = self.start(argv, stdout=subprocess.PIPE, **kwargs)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            raise RuntimeError(f"{Path(argv[0]).name} did not finish in {timeout:.0f} s") from None
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:4])}... exited with {proc.returncode}")
        return out.decode()

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(port: int, path: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not answer within {timeout_s:.0f} s")


# -- database ----------------------------------------------------------------------------------


def _with_db(url: str, name: str) -> str:
    return f"{url.rsplit('/', 1)[0]}/{name}"


def _answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("select 1")
        return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def scratch_database(workdir: Path, children: Children) -> Iterator[str]:
    """A new, migrated database: on WAYCORE_DATABASE_URL's server, the local one, or embedded."""
    import psycopg

    from waycore import migrate, pgembed

    server = None
    configured = os.environ.get("WAYCORE_DATABASE_URL")
    if configured:
        server_url, where = configured, "WAYCORE_DATABASE_URL's server"
    elif _answers(LOCAL_SERVER):
        server_url, where = LOCAL_SERVER, "the local server (127.0.0.1:5432)"
    else:
        server = pgembed.start(workdir / "pg")
        server_url, where = server.url, "an embedded server"
    name = f"waycore_bench_api_{secrets.token_hex(4)}"
    admin = _with_db(server_url, "postgres")
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        url = _with_db(server_url, name)
        print(f"database: scratch database on {where}", flush=True)
        migrate.upgrade(url)
        yield url
    finally:
        children.stop_all()  # nothing may reconnect while the database is dropped
        for _ in range(3):
            try:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'drop database if exists "{name}" with (force)')
                break
            except psycopg.Error as exc:
                print(f"warning: could not drop {name}: {exc}", file=sys.stderr)
                time.sleep(1)
        if server is not None:
            server.stop()


# -- seeding -----------------------------------------------------------------------------------


@dataclass
class Seed:
    token: str
    org_id: str
    environment: str
    single_path: str
    list_path: str
    label: str
    constants: dict[str, Any] | None = None


def seed(children: Children, env: dict[str, str], workdir: Path, api: int, db_url: str) -> Seed:
    import httpx
    import psycopg

    out = children.run(
        [
            sys.executable,
            "-m",
            "waycore",
            "keys",
            "create",
            "--environment",
            "test",
            "--org",
            f"bench-{secrets.token_hex(3)}",
            "--name",
            "bench",
            "--json",
        ],
        timeout=120,
        env=env,
        cwd=workdir,
    )
    created = json.loads(out)
    token, key_id, environment = created["key"], created["id"], created["environment"]
    with psycopg.connect(db_url) as conn:
        row = conn.execute("select org_id from api_keys where id = %s", (key_id,)).fetchone()
    assert row is not None
    org_id = str(row[0])

    base = f"http://127.0.0.1:{api}"
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        paths = set(client.get("/openapi.json").json()["paths"])
        if {"/v1/entities", "/v1/connections/{connectionId}"} <= paths:
            for i in range(120):
                body = {
                    "externalEntityId": f"bench-{i:04d}",
                    "name": f"Bench Customer {i} LLC",
                    "contactEmails": [f"treasury{i}@customer.example"],
                    "metadata": {"tier": "gold", "n": str(i)},
                }
                _expect(client.post("/v1/entities", json=body), 201)
            entity = client.get("/v1/entities", params={"limit": 1}).json()["data"][0]
            made = client.post(
                "/v1/connections",
                json={
                    "entityId": entity["entityId"],
                    "institutionId": "sandbox_bank",
                    "metadata": {"ref": "bench"},
                },
            )
            _expect(made, 201)
            connection = made.json()
            instructions = connection["setup"]["instructions"]
            constants = {
                "address": instructions["address"],
                "permissions": instructions["permissions"],
                "institutions": {
                    connection["institutionId"]: {
                        "name": connection["institutionName"],
                        "guideUrl": instructions["guideUrl"],
                    }
                },
            }
            return Seed(
                token,
                org_id,
                environment,
                f"/v1/connections/{connection['id']}",
                "/v1/entities?limit=100",
                "entities",
                constants,
            )
        # stand-in until the entities and connections routers exist
        for i in range(120):
            body = {"name": f"bench-{i:04d}", "scopes": ["entities:read"]}
            _expect(client.post("/v1/apiKeys", json=body), 201)
        return Seed(
            token, org_id, environment, f"/v1/apiKeys/{key_id}", "/v1/apiKeys?limit=100", "apiKeys"
        )


def _expect(response: Any, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )


def _comparable(body: Any) -> Any:
    """The body without what differs per request or per process (request id, cursor bytes)."""
    if isinstance(body, dict):
        return {
            k: ("…" if k in ("requestId", "nextCursor") and v else _comparable(v))
            for k, v in body.items()
        }
    if isinstance(body, list):
        return [_comparable(v) for v in body]
    return body


def check_same_json(seed: Seed, api: int, base: int) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {seed.token}"}
    for path in (seed.single_path, seed.list_path):
        ours = httpx.get(f"http://127.0.0.1:{api}{path}", headers=headers, timeout=10)
        theirs = httpx.get(f"http://127.0.0.1:{base}{path}", timeout=10)
        _expect(ours, 200)
        _expect(theirs, 200)
        if _comparable(ours.json()) != _comparable(theirs.json()):
            a, b = _comparable(ours.json()), _comparable(theirs.json())
            if isinstance(a, dict) and "data" in a:
                a, b = a["data"][0], b["data"][0]
            raise RuntimeError(
                f"the baseline's JSON differs from the API's for {path}:\n"
                f"  api:      {json.dumps(a)[:600]}\n  baseline: {json.dumps(b)[:600]}"
            )


# -- load --------------------------------------------------------------------------------------


def wrk(
    children: Children,
    workdir: Path,
    port: int,
    path: str,
    token: str | None,
    duration: float,
    connections: int,
) -> dict[str, float]:
    script = workdir / "bench.lua"
    script.write_text(WRK_SCRIPT)
    env = dict(os.environ)
    env.pop("BENCH_TOKEN", None)
    if token:
        env["BENCH_TOKEN"] = token
    threads = max(1, min(2, os.cpu_count() or 1))
    argv = [
        shutil.which("wrk") or "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{path}",
    ]
    out = children.run(argv, timeout=duration + 60, env=env)
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH "))
    raw = json.loads(line[6:])
    seconds = raw["duration_us"] / 1e6
    return {
        "rps": raw["requests"] / seconds if seconds else 0.0,
        "p50": raw["p50_us"] / 1000,
        "p99": raw["p99_us"] / 1000,
        "errors": raw["non2xx"] + raw["socket_errors"],
        "requests": raw["requests"],
    }


def openloop_run(
    children: Children, port: int, path: str, token: str | None, rate: float, duration: float
) -> dict[str, float]:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "openloop",
        "--port",
        str(port),
        "--path",
        path,
        "--rate",
        str(rate),
        "--duration",
        str(duration),
    ]
    env = dict(os.environ)
    env.pop("BENCH_TOKEN", None)
    if token:
        env["BENCH_TOKEN"] = token
    out = children.run(argv, timeout=duration + 60, env=env)
    return dict(json.loads(out.strip().splitlines()[-1]))


# -- the open-loop generator (its own process) -------------------------------------------------


KEEP_ALIVE_REUSE_S = 4.0  # below uvicorn's 5 s keep-alive timeout (both servers run uvicorn)


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise ValueError("response without Content-Length")
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def _openloop(
    port: int, path: str, rate: float, duration: float, token: str | None, max_conns: int
) -> dict[str, float]:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    raw = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n".encode()
    idle: list[_Conn] = []
    slots = asyncio.Semaphore(max_conns)
    latencies: list[float] = []
    failures = 0

    async def one(scheduled: float, record: bool) -> None:
        nonlocal failures
        async with slots:
            conn = None
            while idle and conn is None:
                conn = idle.pop()
                # one the server may be closing for its keep-alive timeout: a request sent
                # on it would fail as the connection closes (a real client retries it)
                if time.monotonic() - conn.idle_since > KEEP_ALIVE_REUSE_S:
                    conn.close()
                    conn = None
            try:
                if conn is None:
                    conn = _Conn(*await asyncio.open_connection("127.0.0.1", port))
                status = await asyncio.wait_for(conn.request(raw), 10)
            except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError):
                if conn is not None:
                    conn.close()
                failures += record
                return
            conn.idle_since = time.monotonic()
            idle.append(conn)
        if not record:
            return
        if status != 200:
            failures += 1
        else:
            latencies.append(time.perf_counter() - scheduled)

    async def phase(seconds: float, record: bool) -> None:
        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(scheduled, record)))
        await asyncio.wait(tasks, timeout=30)

    await phase(min(2.0, duration / 4), record=False)  # warm-up: connections, caches
    await phase(duration, record=True)
    for conn in idle:
        conn.close()
    latencies.sort()

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "offered": rate,
        "completed": len(latencies),
        "errors": failures,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "max": latencies[-1] * 1000 if latencies else float("nan"),
    }


def openloop_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench/api.py openloop")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--max-connections", type=int, default=64)
    args = parser.parse_args(argv)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    result = asyncio.run(
        _openloop(
            args.port,
            args.path,
            args.rate,
            args.duration,
            os.environ.get("BENCH_TOKEN"),
            args.max_connections,
        )
    )
    print(json.dumps(result))


# -- report ------------------------------------------------------------------------------------


def _row(label: str, r: dict[str, float]) -> str:
    errors = f"   errors {int(r['errors'])}" if r.get("errors") else ""
    rps = f"{r['rps']:9.0f}" if "rps" in r else f"{r['offered']:9.0f}"
    return f"  {label:<10}{rps}  {r['p50']:8.2f}  {r['p99']:8.2f}{errors}"


def report(seed: Seed, args: argparse.Namespace, results: dict[str, Any]) -> None:
    print()
    print(
        f"Throughput: wrk, {args.connections} connections, {args.duration:g} s each, one API "
        f"process, rate limiting off"
    )
    for name, path, target in (
        ("single", seed.single_path, RATIO_TARGET),
        ("list", seed.list_path, None),
    ):
        ours, base = results[f"{name}:api"], results[f"{name}:baseline"]
        shown = path if name == "list" else path.rsplit("/", 1)[0] + "/{id}"
        print(f"GET {shown}")
        print(f"  {'':<10}{'req/s':>9}  {'p50 ms':>8}  {'p99 ms':>8}")
        print(_row("waycore", ours))
        print(_row("baseline", base))
        ratio = ours["rps"] / base["rps"] if base["rps"] else float("nan")
        verdict = ""
        if target is not None:
            verdict = f"  (target >= {target:.2f}: {'met' if ratio >= target else 'NOT met'})"
        print(f"  ratio     {ratio:9.2f}{verdict}")
    ours, base = results["latency:api"], results["latency:baseline"]
    print()
    print(
        f"Latency: GET {seed.single_path.rsplit('/', 1)[0]}/{{id}} at {args.rate:g} requests/s "
        f"offered, open loop (from scheduled send time), {args.duration:g} s"
    )
    print(f"  {'':<10}{'req/s':>9}  {'p50 ms':>8}  {'p99 ms':>8}")
    print(_row("waycore", ours))
    print(_row("baseline", base))
    met = ours["p99"] <= P99_TARGET_MS
    verdict = "met" if met else "NOT met"
    print(f"  waycore p99 {ours['p99']:.2f} ms (target <= {P99_TARGET_MS:g} ms: {verdict})")
    if seed.label != "entities":
        print("\nnote: entities/connections routes absent; measured /v1/apiKeys as stand-ins")


# -- main --------------------------------------------------------------------------------------


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def bench(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    sys.path.insert(0, str(ROOT / "src"))
    children = Children()
    workdir = Path(tempfile.mkdtemp(prefix="waycore-bench-"))
    try:
        with scratch_database(workdir, children) as db_url:
            env = dict(os.environ)
            env.update(
                WAYCORE_DATABASE_URL=db_url,
                WAYCORE_RATE_LIMIT="off",
                WAYCORE_STATE_DIR=str(workdir / "state"),
                WAYCORE_MASTER_KEY_FILE=str(workdir / "state" / "master.key"),
                PYTHONPATH=os.pathsep.join(
                    p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p
                ),
            )
            api_port, base_port = _free_port(), _free_port()
            with (workdir / "api.log").open("wb") as log:
                api = children.start(
                    [sys.executable, "-m", "waycore", "serve", "--port", str(api_port)],
                    env=env,
                    cwd=workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            _wait_http(api_port, "/healthz", api, 120)
            seed_ = seed(children, env, workdir, api_port, db_url)
            base_env = dict(
                env,
                BENCH_DATABASE_URL=db_url,
                BENCH_ORG_ID=seed_.org_id,
                BENCH_ENVIRONMENT=seed_.environment,
                BENCH_CONSTANTS=json.dumps(seed_.constants or {}),
            )
            with (workdir / "baseline.log").open("wb") as log:
                base = children.start(
                    [sys.executable, str(HERE / "baseline_app.py"), "--port", str(base_port)],
                    env=base_env,
                    cwd=workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            _wait_http(base_port, "/v1/entities?limit=1", base, 60)
            check_same_json(seed_, api_port, base_port)
            print(f"seeded: {seed_.single_path} and 100+ rows for {seed_.list_path}", flush=True)

            results: dict[str, Any] = {}
            warm = min(2.0, args.duration / 4)
            targets = {"api": (api_port, seed_.token), "baseline": (base_port, None)}
            for name, path in (("single", seed_.single_path), ("list", seed_.list_path)):
                for who, (port, token) in targets.items():
                    print(f"wrk: {who} GET {path} ...", flush=True)
                    wrk(children, workdir, port, path, token, warm, args.connections)
                    results[f"{name}:{who}"] = wrk(
                        children, workdir, port, path, token, args.duration, args.connections
                    )
            for who, (port, token) in targets.items():
                print(f"open loop: {who} {args.rate:g} requests/s ...", flush=True)
                results[f"latency:{who}"] = openloop_run(
                    children, port, seed_.single_path, token, args.rate, args.duration
                )
            children.stop_all()  # before the scratch database is dropped
            report(seed_, args, results)
            if args.json:
                print(json.dumps(results, indent=2))
    except KeyboardInterrupt:
        print("\ninterrupted; stopping", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for name in ("api.log", "baseline.log"):
            log = workdir / name
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-15:]
                print(f"--- last lines of {name}:", *tail, sep="\n", file=sys.stderr)
        return 1
    finally:
        children.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "openloop":
        openloop_main(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(
        prog="bench/run", description="Waycore API benchmark against a bare ASGI baseline."
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=float(os.environ.get("BENCH_DURATION", "20")),
        help="seconds per measurement (default 20, or $BENCH_DURATION)",
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--rate", type=float, default=300, help="open-loop requests/s (300)")
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench/run needs wrk (Debian package 'wrk')", file=sys.stderr)
        return 2
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
