"""``waycore up``: run every process of the system as supervised children.

Ctrl-C or SIGTERM stops all children (SIGTERM, then SIGKILL after a grace period), then the
embedded PostgreSQL this process owns. If any child dies, everything stops.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


def waycore_argv(*args: str) -> list[str]:
    """Run a ``waycore`` subcommand with the current interpreter."""
    return [sys.executable, "-m", "waycore", *args]


class Supervisor:
    def __init__(self, children: list[Child], grace_s: float = 10.0) -> None:
        self.children = children
        self.grace_s = grace_s
        self._stopping = False

    def start(self) -> None:
        # each child leads its own process group, so stopping it also reaches what it
        # started (the worker's Chromium, for one); Ctrl-C reaches only us and we forward it
        for child in self.children:
            child.process = subprocess.Popen(child.argv, env=child.env, start_new_session=True)

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self._stopping = True

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def wait(self) -> str | None:
        """Block until a signal arrives or a child exits; return the dead child's name."""
        while not self._stopping:
            for child in self.children:
                if child.process is not None and child.process.poll() is not None:
                    return child.name
            time.sleep(0.2)
        return None

    def stop(self) -> None:
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                _signal_group(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for child in self.children:
            if child.process is None:
                continue
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                _signal_group(child.process.pid, signal.SIGKILL)
                child.process.wait()
        # whatever a child left behind in its group (a browser, say) goes with it
        for child in self.children:
            if child.process is not None:
                _signal_group(child.process.pid, signal.SIGKILL)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
