"""A job that asks to be retried soon is picked again soon, on the real PgQueuer."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg
from pgqueuer import Job, QueueManager, RetryRequested
from pgqueuer.adapters.drivers.asyncpg import AsyncpgPoolDriver
from pgqueuer.queries import Queries

from bot.jobs.polling import DEQUEUE_POLL_S, dequeue_timeout

HEARTBEAT_TIMEOUT_S = 30.0  # the default JOB_HEARTBEAT_TIMEOUT_S
RETRY_DELAY_S = 0.2


def test_the_wait_is_bounded_by_the_poll_and_by_the_heartbeat_timeout() -> None:
    assert dequeue_timeout(HEARTBEAT_TIMEOUT_S) == timedelta(seconds=DEQUEUE_POLL_S)
    assert dequeue_timeout(0.5) == timedelta(seconds=0.5)


async def test_a_retry_asked_for_while_the_manager_waits_is_picked_within_the_poll(
    pool: asyncpg.Pool,
) -> None:
    """PgQueuer sends no NOTIFY for a retried job: with the heartbeat timeout as the dequeue
    timeout (as before) this retry came 30 s late; the A/B pair waiting for its parent did."""
    queue = QueueManager(Queries(AsyncpgPoolDriver(pool)))
    runs: list[float] = []
    second = asyncio.Event()

    @queue.entrypoint("retry_once")
    async def retry_once(job: Job) -> None:
        runs.append(time.monotonic())
        if len(runs) == 1:
            # work first (the manager meanwhile goes back to waiting), then ask for a retry
            await asyncio.sleep(0.5)
            raise RetryRequested(delay=timedelta(seconds=RETRY_DELAY_S), reason="not yet")
        second.set()

    worker = asyncio.create_task(
        queue.run(
            heartbeat_timeout=timedelta(seconds=HEARTBEAT_TIMEOUT_S),
            dequeue_timeout=dequeue_timeout(HEARTBEAT_TIMEOUT_S),
        )
    )
    try:
        await asyncio.sleep(0.5)  # the manager is waiting for a NOTIFY when the job arrives
        await queue.queries.enqueue("retry_once", None)
        await asyncio.wait_for(second.wait(), timeout=HEARTBEAT_TIMEOUT_S / 3)
    finally:
        queue.shutdown.set()
        await asyncio.wait_for(worker, timeout=10)
    late = runs[1] - runs[0] - 0.5 - RETRY_DELAY_S
    # gross ordering only: within a few polls, far from the 30 s it took before
    assert late < 5 * DEQUEUE_POLL_S, f"the retry came {late:.1f} s late"
