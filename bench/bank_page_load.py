"""Sandbox Bank portal load: a logged-in account page (25 rows) at a fixed offered load.

Creates a scratch database, starts ``waycore sandbox-bank`` (one process) on loopback, creates
a customer whose first account has 2,000 transactions and logs a delegated user in. The
baseline, measured in the same run, is a bare Starlette route returning the same page's HTML
from memory under the same uvicorn settings (uvloop, httptools, no access log).

1. Open loop (target: 200 loads/s on one process). A generator in its own process schedules
   request *i* at ``start + i / rate`` for ``--seconds``, whatever the earlier ones are doing.
   At most ``--connections`` requests are in flight (one per keep-alive connection); a
   request whose time comes while every connection is busy is sent as soon as one frees, and
   its latency still counts from its scheduled time (no coordinated omission). A request not
   sent within ``DRAIN_S`` after the window, or unanswered ``REQUEST_TIMEOUT_S`` after it
   was sent, is an error; so a run ends within ``seconds + DRAIN_S + REQUEST_TIMEOUT_S``
   whatever the server does. A success is a 200 whose body has 25 ``data-txn-id`` rows.
   Prints offered and achieved rate, p50, p99, max, errors and how many were sent late.
2. Closed loop: ``wrk`` (8 connections, ``--wrk-seconds``) against both, for the maximum
   throughput.

    .venv/bin/python bench/bank_page_load.py [--rate 200] [--seconds 20] [--connections 32]
                                             [--wrk-seconds 10] [--json]

Load generator, bank, baseline and PostgreSQL share the machine's cores: compare the ratio,
measured in the same run, and run it more than once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "Treasury2026rocks"
ROWS_PER_PAGE = 25
REQUEST_TIMEOUT_S = 5.0
DRAIN_S = 5.0
LATE_MS = 10.0
BASELINE = """
import sys
from pathlib import Path
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
BODY = Path(sys.argv[1]).read_text()
async def page(request):
    return HTMLResponse(BODY, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})
app = Starlette(routes=[Route("/page", page)])
if __name__ == "__main__":
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
                access_log=False, server_header=False)
"""


# -- processes ---------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child: SIGTERM when this benchmark dies, even by SIGKILL (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextmanager
def child(argv: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A server process in its own session, stopped (group and all) on exit."""
    proc = subprocess.Popen(
        argv, env=env, start_new_session=True, cwd=ROOT, preexec_fn=_die_with_parent
    )
    try:
        yield proc
    finally:
        _stop(proc)


def run_bounded(argv: list[str], timeout: float) -> str:
    """Run to completion within ``timeout`` seconds (else stopped, and an error); stdout."""
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        cwd=ROOT,
        preexec_fn=_die_with_parent,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise RuntimeError(f"{Path(argv[0]).name} did not finish in {timeout:.0f} s") from None
    finally:
        _stop(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} exited with {proc.returncode}: {err[-2000:]!r}")
    return out.decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, timeout_s: float = 90, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


# -- the bank ----------------------------------------------------------------------------------


@contextmanager
def scratch_bank(rows: int = 2000) -> Iterator[dict[str, Any]]:
    """A bank on a scratch database with one customer (first account: ``rows`` rows) and a
    logged-in delegated user; yields url, account id, username and the session cookie."""
    name = f"bench_bank_{secrets.token_hex(4)}"
    base = SERVER.rsplit("/", 1)[0]
    with psycopg.connect(SERVER, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'create database "{name}"')
    port = free_port()
    env = dict(
        os.environ, WAYCORE_DATABASE_URL=f"{base}/{name}", WAYCORE_SANDBOX_START_DATE="2026-03-04"
    )
    try:
        argv = [sys.executable, "-m", "waycore", "sandbox-bank", "--port", str(port)]
        with child(argv, env) as proc:
            url = f"http://127.0.0.1:{port}"
            wait_up(url + "/login", proc=proc)
            with httpx.Client(base_url=url + "/_sandbox", timeout=300) as control:
                customer = control.post(
                    "/customers",
                    json={
                        "name": "Bench Co",
                        "seed": 7,
                        "accounts": 1,
                        "transactionsPerAccount": rows,
                    },
                ).json()
                created = control.post(
                    f"/customers/{customer['customerId']}/delegatedUsers",
                    json={
                        "firstName": "Bench",
                        "lastName": "User",
                        "address": "1 Bench Rd",
                        "email": "bench@inbox.localhost",
                        "username": "bench01",
                        "phoneNumber": "+12015550100",
                        "secondFactor": "none",
                        "permissions": {
                            "viewBalances": True,
                            "viewTransactions": True,
                            "downloadStatements": True,
                            "initiatePayments": False,
                            "approvePayments": False,
                            "accountIds": None,
                        },
                    },
                ).json()
            cookie = log_in(url, "bench01", created["temporaryPassword"])
            yield {
                "url": url,
                "account": customer["accounts"][0]["accountId"],
                "username": "bench01",
                "cookie": cookie,
            }
    finally:
        with psycopg.connect(SERVER, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf_token"
    return found[1]


def log_in(url: str, username: str, temporary: str) -> str:
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post(
            "/login",
            data={
                "csrf_token": _csrf(c.get("/login").text),
                "username": username,
                "password": temporary,
            },
        )
        assert r.status_code == 303, r.text
        form = c.get("/login/password").text
        r = c.post(
            "/login/password",
            data={
                "csrf_token": _csrf(form),
                "current_password": temporary,
                "new_password": PASSWORD,
                "confirm_password": PASSWORD,
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/accounts", r.text
        return str(c.cookies["sb_session"])


# -- the open-loop generator (its own process) -------------------------------------------------


class _Connection:
    """One keep-alive HTTP/1.1 connection; a response must carry Content-Length or be
    chunked."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, request: bytes) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(b":")
            headers[key.strip().lower()] = value.strip()
        if b"content-length" in headers:
            body = await reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(p[:-2] for p in parts)
        else:
            raise ValueError("response without a length")
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, body

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def open_loop(
    port: int, path: str, cookie: str, rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: sb_session={cookie}\r\n\r\n"
    ).encode()
    total = int(rate * seconds)
    clock = time.perf_counter  # the event loop's clock may tick in whole milliseconds (uvloop)
    start = clock() + 0.1
    send_by = start + seconds + DRAIN_S
    latencies: list[float] = []
    errors: dict[str, int] = {}
    late = 0
    last_done = start
    claimed = 0

    def error(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def worker() -> None:
        nonlocal claimed, late, last_done
        conn = _Connection(port)
        try:
            while claimed < total:
                i = claimed
                claimed += 1
                scheduled = start + i / rate
                delay = scheduled - clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent = clock()
                if sent > send_by:
                    error("not sent")
                    continue
                if (sent - scheduled) * 1000 > LATE_MS:
                    late += 1
                try:
                    status, body = await asyncio.wait_for(conn.get(request), REQUEST_TIMEOUT_S)
                except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError):
                    conn.close()
                    error("timeout or connection")
                    continue
                done = clock()
                if status != 200:
                    error(f"status {status}")
                elif body.count(b"data-txn-id=") != ROWS_PER_PAGE:
                    error("wrong body")
                else:
                    latencies.append(done - scheduled)
                    last_done = max(last_done, done)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    latencies.sort()

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    elapsed = max(seconds, last_done - start)
    return {
        "offered": rate,
        "requests": total,
        "ok": len(latencies),
        "achieved": len(latencies) / elapsed,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "late": late,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
    }


def openloop_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bank_page_load.py openloop")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--cookie", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--connections", type=int, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    result = asyncio.run(
        open_loop(args.port, args.path, args.cookie, args.rate, args.seconds, args.connections)
    )
    print(json.dumps(result))


def run_generator(
    port: int, path: str, cookie: str, rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "openloop",
        "--port",
        str(port),
        "--path",
        path,
        "--cookie",
        cookie,
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--connections",
        str(connections),
    ]
    out = run_bounded(argv, timeout=seconds + DRAIN_S + REQUEST_TIMEOUT_S + 30)
    return dict(json.loads(out.strip().splitlines()[-1]))


# -- closed loop (wrk) -------------------------------------------------------------------------


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, cookie: str, seconds: float, connections: int = 8) -> dict[str, Any]:
    binary = shutil.which("wrk") or "/usr/bin/wrk"
    threads = max(1, min(2, os.cpu_count() or 1))
    argv = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "--latency",
        "-H",
        f"Cookie: sb_session={cookie}",
        url,
    ]
    out = run_bounded(argv, timeout=seconds + 30)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "connections": connections,
        "rps": float(rps[1]) if rps else 0.0,
        "p50_ms": _ms(*p50.groups()) if p50 else float("nan"),
        "p99_ms": _ms(*p99.groups()) if p99 else float("nan"),
        "errors": (int(non2xx[1]) if non2xx else 0)
        + (sum(int(g) for g in sock.groups()) if sock else 0),
    }


# -- main --------------------------------------------------------------------------------------


def _check_page(url: str, cookie: str) -> str:
    response = httpx.get(url, cookies={"sb_session": cookie}, timeout=30)
    html = response.text
    if response.status_code != 200 or html.count("data-txn-id=") != ROWS_PER_PAGE:
        raise RuntimeError(f"the account page is not a logged-in page of 25 rows ({url})")
    return html


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def measure(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with scratch_bank() as bank, tempfile.TemporaryDirectory() as tmp:
        bank_port = int(bank["url"].rsplit(":", 1)[1])
        page_path = f"/accounts/{bank['account']}"
        html = _check_page(bank["url"] + page_path, bank["cookie"])
        (Path(tmp) / "page.html").write_text(html)
        (Path(tmp) / "baseline.py").write_text(BASELINE)
        base_port = free_port()
        argv = [
            sys.executable,
            str(Path(tmp) / "baseline.py"),
            str(Path(tmp) / "page.html"),
            str(base_port),
        ]
        with child(argv) as proc:
            wait_up(f"http://127.0.0.1:{base_port}/page", proc=proc)
            targets = {"portal": (bank_port, page_path), "baseline": (base_port, "/page")}
            for port, path in targets.values():  # warm-up
                run_generator(port, path, bank["cookie"], 50, 2, args.connections)
            for label, (port, path) in targets.items():
                results[f"open_{label}"] = run_generator(
                    port, path, bank["cookie"], args.rate, args.seconds, args.connections
                )
            for label, (port, path) in targets.items():
                results[f"wrk_{label}"] = run_wrk(
                    f"http://127.0.0.1:{port}{path}", bank["cookie"], args.wrk_seconds
                )
        _check_page(bank["url"] + page_path, bank["cookie"])  # still logged in: wrk saw pages
    return results


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 and a == a and b == b else "n/a"


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"open loop: offered {args.rate:.0f} loads/s for {args.seconds:.0f} s, "
        f"at most {args.connections} in flight, latency from the scheduled send time"
    )
    for label in ("portal", "baseline"):
        r = results[f"open_{label}"]
        kinds = ", ".join(f"{k} {v}" for k, v in r["error_kinds"].items())
        print(
            f"  {label:8s} achieved {r['achieved']:7.1f}/s  ok {r['ok']}/{r['requests']}  "
            f"errors {r['errors']}{f' ({kinds})' if kinds else ''}  "
            f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  max {r['max_ms']:6.1f} ms  "
            f"sent >{LATE_MS:.0f} ms late {r['late']}"
        )
    portal, base = results["open_portal"], results["open_baseline"]
    print(
        f"  ratio portal/baseline: achieved {_ratio(portal['achieved'], base['achieved'])}, "
        f"p50 {_ratio(portal['p50_ms'], base['p50_ms'])}x, "
        f"p99 {_ratio(portal['p99_ms'], base['p99_ms'])}x"
    )
    target = portal["errors"] == 0 and portal["achieved"] >= 0.98 * args.rate
    print(f"  target {args.rate:.0f} loads/s on one process: {'met' if target else 'NOT met'}")
    wp, wb = results["wrk_portal"], results["wrk_baseline"]
    print(f"closed loop (wrk, {wp['connections']} connections, {args.wrk_seconds:.0f} s):")
    for label, r in (("portal", wp), ("baseline", wb)):
        print(
            f"  {label:8s} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.1f} ms  "
            f"p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}"
        )
    print(f"  ratio portal/baseline: {_ratio(wp['rps'], wb['rps'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=32, help="in flight at most")
    parser.add_argument("--wrk-seconds", type=float, default=10)
    parser.add_argument("--json", action="store_true", help="print the raw figures too")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _sigterm)
    results = measure(args)
    report(results, args)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "openloop":
        openloop_main(sys.argv[2:])
    else:
        main()
