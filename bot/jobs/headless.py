"""A scenario run without Slack (`romashka scenarios run`, for CI) through the same queue as a
Slack run: its messages are queued as jobs (SCENARIO_MESSAGE_HEADLESS), this process runs a
worker for such jobs until the run is completed, and any app worker running meanwhile helps.
The jobs are the Slack run's own (bot.jobs.scenario_message): answered and judged once each,
the run's totals stored by the job that finishes it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from pgqueuer import Job

from bot.domain.scenarios import ScenarioRun
from bot.jobs import scenario_message
from bot.jobs.budget import model_budget
from bot.jobs.context import JobDeps
from bot.jobs.gave_up import failure_reason
from bot.jobs.headless_worker import headless_worker, raise_if_stopped
from bot.jobs.payloads import SCENARIO_MESSAGE_HEADLESS
from bot.jobs.slack_clients import NoSlack
from bot.scenarios.engine import HEARTBEAT_S, PlanItem
from bot.scenarios.run import queue_items
from storage import jobs as jobs_repo
from storage import scenarios as scenarios_repo

# how often the command looks at its run (and beats for it, so no sweeper takes it for dead)
POLL_S: Final = 0.2

OnProgress = Callable[[int, int], Awaitable[None]]


class RunNotCompleted(Exception):
    """The run ended otherwise: stopped, or resumed by another process."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


async def run_queued(
    deps: JobDeps,
    *,
    run: ScenarioRun,
    items: Sequence[PlanItem],
    concurrency: int,
    on_progress: OnProgress | None = None,
) -> None:
    """Queue the run's messages and work on them until the run is completed."""
    pool = deps.pool
    await queue_items(
        pool, run=run, items=items, parent_ts=None, entrypoint=SCENARIO_MESSAGE_HEADLESS
    )
    slack = NoSlack()
    budget = model_budget(deps)

    async def message_job(job: Job) -> None:
        await scenario_message.handle(
            deps, slack, job.payload, attempts=job.attempts, budget=budget
        )

    async def message_gave_up(job: Job, exc: Exception) -> None:
        # the run ends interrupted, with the reason, rather than waiting for a summary
        await scenario_message.gave_up(deps, slack, job.payload, reason=failure_reason(exc))

    async with headless_worker(
        deps,
        entrypoint=SCENARIO_MESSAGE_HEADLESS,
        func=message_job,
        gave_up=message_gave_up,
        concurrency=concurrency,
    ) as worker:
        await _until_finished(
            deps, run=run, total=len(items), on_progress=on_progress, worker=worker
        )


async def _until_finished(
    deps: JobDeps,
    *,
    run: ScenarioRun,
    total: int,
    on_progress: OnProgress | None,
    worker: asyncio.Task[None],
) -> None:
    pool = deps.pool
    shown = -1
    beat_at = 0.0
    while True:
        raise_if_stopped(worker)
        current = await scenarios_repo.get_run(pool, team_id=run.team_id, run_id=run.id)
        progress = await jobs_repo.run_progress(
            pool, team_id=run.team_id, run_id=run.id, total=total
        )
        if on_progress is not None and progress.done != shown:
            shown = progress.done
            await on_progress(progress.done, total)
        if current.attempt != run.attempt or current.status not in {"running", "completed"}:
            raise RunNotCompleted(current.status)
        if current.status == "completed":
            return
        if time.monotonic() - beat_at > HEARTBEAT_S:
            beat_at = time.monotonic()
            await jobs_repo.touch_run(pool, team_id=run.team_id, run_id=run.id)
        await asyncio.sleep(POLL_S)
