"""A simulation run whose summary could not be written: the job that finished its last
conversation failed to report it on every try (PgQueuer holds it as failed). The parent says so
and why, with Write summary, which queues that conversation's job again: its conversation is
done, so it only reports (once: the report is claimed by a compare-and-set)."""

from __future__ import annotations

import logging

from bot.blocks.plan import SUMMARY_NOT_WRITTEN
from bot.blocks.simulation import report_failed_message
from bot.domain.simulation import SimulationRun
from bot.errors import UserError
from bot.jobs import simulation as jobs
from bot.jobs.slack_clients import SlackFor
from bot.simulation import plan
from bot.slack import live_plan
from bot.startup.deps import Deps
from storage import profiles as profiles_repo
from storage import simulation_reports
from storage import simulations as repo
from storage.errors import VersionIdNotFound
from storage.simulations import SimulationRunNotFound

log = logging.getLogger(__name__)


async def gave_up(deps: Deps, slack: SlackFor, payload: bytes | None, *, reason: str) -> None:
    """A conversation's job failed on its last try. When the run waits for its summary (every
    conversation done, no report claimed), its parent says the summary could not be written
    and why, with Write summary. Checked under the parent lock, which the report holds while it
    shows the summary: a report that wins the claim later edits the parent after this."""
    job = jobs.ConversationJob.loads(payload)
    pool = deps.pool
    try:
        run = await repo.get_run(pool, team_id=job.team_id, run_id=job.run_id)
        version = await profiles_repo.get_version_by_id(
            pool, team_id=job.team_id, version_id=run.profile_version_id
        )
    except (SimulationRunNotFound, VersionIdNotFound):
        return
    client = await slack.for_team(run.team_id)
    async with repo.parent_lock(pool, run_id=run.id, wait=True):
        if not await _pending(deps, run):
            return  # a conversation is missing (its own job failed) or the run was reported
        log.warning("simulation run %d: its summary could not be written: %s", run.id, reason)
        if client is None or run.channel_id is None or run.parent_ts is None:
            return
        text, blocks = report_failed_message(
            run_id=run.id,
            label=version.label,
            names=[s.name for s in run.simulations()],
            total=run.total,
            reason=reason,
        )
        await live_plan.show_stopped(
            pool,
            client,
            plan.plan_of(pool, run, version.label),
            text=text,
            blocks=blocks,
            ending=SUMMARY_NOT_WRITTEN,
        )


async def write_summary(deps: Deps, *, team_id: str, run_id: int) -> str:
    """Write summary: queue the report again (a second press while it waits adds nothing)."""
    pool = deps.pool
    try:
        run = await repo.get_run(pool, team_id=team_id, run_id=run_id)
    except SimulationRunNotFound:
        raise UserError(f"There is no simulation run #{run_id} in this workspace.") from None
    if not await _pending(deps, run):
        return f"Simulation run #{run_id} has no summary to write: it has one, or is not done."
    job = jobs.jobs_for(run)[-1]
    async with pool.acquire() as con, con.transaction():
        await jobs.enqueue(con, [job])
    return f"Writing the summary of simulation run #{run_id}…"


async def _pending(deps: Deps, run: SimulationRun) -> bool:
    return await simulation_reports.report_pending(
        deps.pool, team_id=run.team_id, run_id=run.id, total=run.total
    )
