"""A calibration sweep without Slack (`romashka calibrate`) through the same queue as one from
Slack: its cells are queued as jobs (CALIBRATION_CELL_HEADLESS), this process runs a worker for
such jobs until the sweep is reported, and any app worker running meanwhile helps. The jobs are
the Slack sweep's own (bot.jobs.calibration_cell): each cell stored once, the sweep reported
once by the job that stores its last cell."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from pgqueuer import Job

from bot.domain.calibration_runs import CalibrationRun
from bot.jobs import calibration_cell
from bot.jobs.budget import model_budget
from bot.jobs.context import JobDeps
from bot.jobs.gave_up import failure_reason
from bot.jobs.headless_worker import headless_worker, raise_if_stopped
from bot.jobs.payloads import CALIBRATION_CELL_HEADLESS
from bot.jobs.slack_clients import NoSlack
from bot.jobs.worker import MAX_ATTEMPTS
from storage import calibration_runs as repo

# how often the command looks at its sweep
POLL_S: Final = 0.2
# cell jobs run at once per model call the budget allows: a cell spends a good part of its time
# outside the model (its queue round trips, reading the run, storing the cell), and another
# cell's model call fills that time; the shared budget still bounds the calls themselves
JOBS_PER_CALL: Final = 2

OnProgress = Callable[[int, int], Awaitable[None]]


class CellsHeld(Exception):
    """The sweep cannot finish: nothing of it is queued or running, and the queue holds some
    of its jobs as failed (`pgq failed` lists them; re-queued, any worker finishes it)."""

    def __init__(self, held: int) -> None:
        super().__init__(f"{held} jobs held as failed")
        self.held = held


async def run_queued(
    deps: JobDeps,
    *,
    run: CalibrationRun,
    concurrency: int,
    on_progress: OnProgress | None = None,
) -> CalibrationRun:
    """Work on the sweep's queued cells until it is reported (completed) or failed; the run as
    it ended. Raises CellsHeld when it cannot end."""
    pool = deps.pool
    slack = NoSlack()
    budget = model_budget(deps)

    async def cell_job(job: Job) -> None:
        await calibration_cell.handle(
            deps,
            slack,
            job.payload,
            attempts=job.attempts,
            max_attempts=MAX_ATTEMPTS,
            budget=budget,
        )

    async def cell_gave_up(job: Job, exc: Exception) -> None:
        await calibration_cell.gave_up(deps, slack, job.payload, reason=failure_reason(exc))

    async with headless_worker(
        deps,
        entrypoint=CALIBRATION_CELL_HEADLESS,
        func=cell_job,
        gave_up=cell_gave_up,
        concurrency=JOBS_PER_CALL * concurrency,
    ) as worker:
        shown = -1
        while True:
            raise_if_stopped(worker)
            current = await repo.get_run(pool, team_id=run.team_id, run_id=run.id)
            if current.status != "running":
                return current
            p = await repo.progress(pool, team_id=run.team_id, run_id=run.id, total=run.total)
            if on_progress is not None and p.done != shown:
                shown = p.done
                await on_progress(p.done, p.total)
            if p.held and not p.waiting and not p.running:
                # read again: the report may have finished between the two reads
                current = await repo.get_run(pool, team_id=run.team_id, run_id=run.id)
                if current.status != "running":
                    return current
                raise CellsHeld(p.held)
            await asyncio.sleep(POLL_S)
