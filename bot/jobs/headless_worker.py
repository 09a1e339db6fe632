"""A worker of one entrypoint for the life of a CLI command (`romashka scenarios run`,
`romashka calibrate`): the command queues its jobs, works on them here until its run ends, and
any app worker running meanwhile helps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, Final

from pgqueuer import Job, QueueManager
from pgqueuer.adapters.drivers.asyncpg import AsyncpgPoolDriver
from pgqueuer.executors import EntrypointExecutorParameters
from pgqueuer.queries import Queries

from bot.jobs.context import JobDeps
from bot.jobs.polling import dequeue_timeout
from bot.jobs.worker import Executor

# on the way out, the jobs in flight get this long to finish before they are cancelled (and so
# go back to the queue for another worker)
STOP_WAIT_S: Final = 10.0


@asynccontextmanager
async def headless_worker(
    deps: JobDeps,
    *,
    entrypoint: str,
    func: Callable[[Job], Awaitable[None]],
    gave_up: Callable[[Job, Exception], Awaitable[None]],
    concurrency: int,
) -> AsyncIterator[asyncio.Task[None]]:
    """Run a queue manager for `entrypoint` while the block runs; the block gets its task, to
    check with `raise_if_stopped` that it still works."""
    queue = QueueManager(Queries(AsyncpgPoolDriver(deps.pool)))
    running: set[asyncio.Task[Any]] = set()
    queue.register_executor(
        entrypoint,
        Executor(
            EntrypointExecutorParameters(
                func=func, concurrency_limit=concurrency, on_failure="hold"
            ),
            running=running,
            handing_back=set(),
            gave_up=gave_up,
        ),
    )
    timeout = timedelta(seconds=deps.settings.job_heartbeat_timeout_s)
    worker = asyncio.create_task(
        queue.run(
            batch_size=max(1, concurrency // 2),
            max_concurrent_tasks=max(2, concurrency),
            heartbeat_timeout=timeout,
            dequeue_timeout=dequeue_timeout(timeout.total_seconds()),
        )
    )
    try:
        yield worker
    finally:
        queue.shutdown.set()
        try:
            await asyncio.wait_for(asyncio.shield(worker), timeout=STOP_WAIT_S)
        except TimeoutError:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)


def raise_if_stopped(worker: asyncio.Task[None]) -> None:
    """Raise what stopped the worker, if it stopped."""
    if worker.done():
        worker.result()
        raise RuntimeError("the job worker stopped")
