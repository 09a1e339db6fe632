"""Putting jobs on the queue. Given a connection inside a transaction, the jobs are queued if and
only if the caller's own writes commit: a run is never stored without its jobs, nor the other
way round."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import asyncpg
from pgqueuer import AsyncpgDriver, Queries

from bot.jobs.payloads import (
    AB_PAIR,
    AB_POST,
    INTERACTIVE_ANSWER,
    SCENARIO_MESSAGE,
    THREAD_POST,
    AbPairJob,
    AbPostJob,
    CalibrationCellJob,
    InteractiveAnswerJob,
    ScenarioMessageJob,
    ThreadPostJob,
)

# interactive work (a person waiting in a thread) goes before batch work; a scenario run, an
# A/B pair or a simulation is batch work. PgQueuer dequeues by priority, highest first.
BATCH_PRIORITY = 0
INTERACTIVE_PRIORITY = 100


async def enqueue_scenario_messages(
    con: asyncpg.Connection,
    jobs: Sequence[ScenarioMessageJob],
    *,
    entrypoint: str = SCENARIO_MESSAGE,
) -> int:
    """Queue one job per message; a message whose job is already queued is skipped. Returns
    how many were queued now. `entrypoint`: SCENARIO_MESSAGE_HEADLESS for a run without Slack."""
    if not jobs:
        return 0
    queries = Queries(AsyncpgDriver(con))
    ids = await queries.enqueue(
        [entrypoint] * len(jobs),
        [job.dumps() for job in jobs],
        [BATCH_PRIORITY] * len(jobs),
        dedupe_key=[job.dedupe_key for job in jobs],
        on_conflict="skip",
    )
    return sum(1 for i in ids if i is not None)


async def enqueue_thread_post(pool: asyncpg.Pool, job: ThreadPostJob, *, after_s: float) -> None:
    """Queue the post for its turn in the channel, `after_s` from now (skipped if queued)."""
    async with pool.acquire() as con:
        await Queries(AsyncpgDriver(con)).enqueue(
            THREAD_POST,
            job.dumps(),
            BATCH_PRIORITY,
            execute_after=timedelta(seconds=after_s),
            dedupe_key=job.dedupe_key,
            on_conflict="skip",
        )


async def enqueue_ab_pairs(con: asyncpg.Connection, jobs: Sequence[AbPairJob]) -> int:
    """Queue one job per pair of an A/B test, in the caller's transaction (the one storing the
    test); a pair whose job is already queued is skipped. Returns how many were queued now."""
    if not jobs:
        return 0
    ids = await Queries(AsyncpgDriver(con)).enqueue(
        [AB_PAIR] * len(jobs),
        [job.dumps() for job in jobs],
        [BATCH_PRIORITY] * len(jobs),
        dedupe_key=[job.dedupe_key for job in jobs],
        on_conflict="skip",
    )
    return sum(1 for i in ids if i is not None)


async def enqueue_ab_post(pool: asyncpg.Pool, job: AbPostJob, *, after_s: float) -> None:
    """Queue a pair's thread post for its turn in the channel, `after_s` from now."""
    async with pool.acquire() as con:
        await Queries(AsyncpgDriver(con)).enqueue(
            AB_POST,
            job.dumps(),
            BATCH_PRIORITY,
            execute_after=timedelta(seconds=after_s),
            dedupe_key=job.dedupe_key,
            on_conflict="skip",
        )


async def enqueue_calibration_cells(
    con: asyncpg.Connection, jobs: Sequence[CalibrationCellJob], *, entrypoint: str
) -> int:
    """Queue one job per cell of a calibration sweep, in the caller's transaction (the one
    storing the run); a cell whose job is already queued is skipped. Returns how many were
    queued now. `entrypoint`: CALIBRATION_CELL, or CALIBRATION_CELL_HEADLESS without Slack."""
    if not jobs:
        return 0
    ids = await Queries(AsyncpgDriver(con)).enqueue(
        [entrypoint] * len(jobs),
        [job.dumps() for job in jobs],
        [BATCH_PRIORITY] * len(jobs),
        dedupe_key=[job.dedupe_key for job in jobs],
        on_conflict="skip",
    )
    return sum(1 for i in ids if i is not None)


async def enqueue_interactive_answer(con: asyncpg.Connection, job: InteractiveAnswerJob) -> None:
    """Queue an interactive answer in the caller's transaction (the one storing its request)."""
    await Queries(AsyncpgDriver(con)).enqueue(
        INTERACTIVE_ANSWER,
        job.dumps(),
        INTERACTIVE_PRIORITY,
        dedupe_key=job.dedupe_key,
        on_conflict="skip",
    )
