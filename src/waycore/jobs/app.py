"""The procrastinate app, its retry policy and the worker loop.

Tasks are declared on the module-level ``app`` (``jobs.tasks``, ``jobs.schedules``); a worker
swaps in a psycopg connector on the plain ``postgresql://`` URL. The schema is applied by
migration 0001 and never here. Jobs are enqueued by ``waycore.queue`` in the caller's own
transaction; this module only runs them.

Retries: a task raises ``RetryLater`` for a transient bank failure (``InstitutionUnavailable``,
``SessionExpired``, ``SessionConflict``) while attempts remain; the delay grows exponentially
from ``retry_base_s`` with ±25 % jitter. The last attempt records the terminal state instead
of raising (``is_final_attempt``), so nothing is left half-way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate import JobContext
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from waycore.db import driver_url

MAX_ATTEMPTS = 5
QUEUES = ("activation", "sync", "default")


class RetryLater(Exception):
    """A transient failure: run the job again later (never carries a secret)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class BankRetry(BaseRetryStrategy):
    """Exponential backoff with jitter, only for ``RetryLater``."""

    max_attempts: int = MAX_ATTEMPTS
    base_s: float = 30.0
    cap_s: float = 3600.0

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if not isinstance(exception, RetryLater) or job.attempts + 1 >= self.max_attempts:
            return None
        delay = min(self.cap_s, self.base_s * (2**job.attempts))
        delay *= random.uniform(0.75, 1.25)
        return RetryDecision(retry_in={"seconds": max(0, round(delay))})


BANK_RETRY = BankRetry()


def configure_retry(base_s: float, max_attempts: int = MAX_ATTEMPTS) -> None:
    """Set the backoff of this process (tests shorten it through settings)."""
    BANK_RETRY.base_s = base_s
    BANK_RETRY.max_attempts = max_attempts


def is_final_attempt(context: JobContext) -> bool:
    """This run is the job's last: a transient failure now becomes the terminal state."""
    assert context.job is not None
    return context.job.attempts + 1 >= BANK_RETRY.max_attempts


app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(),
    import_paths=["waycore.jobs.tasks", "waycore.jobs.schedules"],
)


def psycopg_connector(database_url: str, *, max_size: int = 10) -> procrastinate.PsycopgConnector:
    """procrastinate's connector on the app database (plain ``postgresql://`` URL)."""
    url = database_url.replace("postgres://", "postgresql://", 1)
    if "+" in url.split("://", 1)[0]:
        url = driver_url(url, "psycopg").replace("postgresql+psycopg://", "postgresql://", 1)
    return procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=max_size)


def worker_options(concurrency: int, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "queues": list(QUEUES),
        "concurrency": concurrency,
        "name": "waycore",
        "fetch_job_polling_interval": 2.0,
        "update_heartbeat_interval": 5.0,
        "stalled_worker_timeout": 30.0,
    }
    options.update(extra)
    return options
