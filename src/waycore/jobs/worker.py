"""``waycore worker``: run the job queue with a bounded browser pool."""

from __future__ import annotations

from typing import Any

import structlog

from waycore.config import Settings
from waycore.jobs.app import app, configure_retry, psycopg_connector, worker_options

log = structlog.get_logger(__name__)


async def run_worker(
    settings: Settings,
    database_url: str,
    *,
    concurrency: int = 4,
    browsers: int = 2,
    wait: bool = True,
    **options: Any,
) -> None:
    """Consume jobs until stopped (SIGINT/SIGTERM), or until caught up when ``wait=False``."""
    from waycore.activation.runtime import open_runtime
    from waycore.jobs import schedules, tasks  # noqa: F401 - registers the tasks

    configure_retry(settings.job_retry_base_s, settings.job_max_attempts)
    async with open_runtime(
        settings, database_url, browsers=browsers, pool_size=concurrency + 4
    ) as runtime:
        with app.replace_connector(psycopg_connector(database_url, max_size=concurrency + 4)):
            async with app.open_async():
                log.info("worker_started", concurrency=concurrency, browsers=browsers)
                await app.run_worker_async(
                    **worker_options(
                        concurrency,
                        wait=wait,
                        additional_context={"runtime": runtime},
                        **options,
                    )
                )
