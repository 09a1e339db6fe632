"""Starting a simulation run from Slack: the run with its plan, a parent message showing
progress, and one job per conversation, queued in the transaction that records the parent."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import counted, stopped_parent
from bot.blocks.plan import stopped_text
from bot.blocks.simulation import progress_message
from bot.domain.profile import ProfileVersion
from bot.domain.simulation import Simulation
from bot.errors import UserError
from bot.jobs import simulation as jobs
from bot.simulation import plan
from bot.slack import live_plan
from storage import profiles as profiles_repo
from storage import simulations as repo
from storage.simulations import SimulationRunNotFound

log = logging.getLogger(__name__)


def model_calls(simulations: Sequence[Simulation], *, repeat: int) -> int:
    """At most: per turn the simulator, the bot and its trait judge; then the goal judge and,
    with expected behaviours, the behaviour judge."""
    return repeat * sum(3 * s.turn_limit + 1 + (1 if s.behaviours else 0) for s in simulations)


async def start(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    version: ProfileVersion,
    simulations: Sequence[Simulation],
    repeat: int = 1,
    confirm_above: int | None = None,
    confirmed: bool = False,
) -> str | None:
    if not simulations:
        raise UserError("There are no simulated customers to run.")
    calls = model_calls(simulations, repeat=repeat)
    if confirm_above is not None and calls > confirm_above and not confirmed:
        return (
            f"This run makes up to {calls} model calls ({len(simulations) * repeat} simulated "
            f"conversations), above this workspace's limit of {confirm_above}. Add `confirm` "
            "at the end to run it."
        )
    run = await repo.create_run(
        pool,
        team_id=team_id,
        profile_version_id=version.id,
        user_id=user_id,
        plan=[s.plan_json() for s in simulations],
        repeat=repeat,
        channel_id=channel_id,
    )
    text, blocks = progress_message(
        run_id=run.id,
        label=version.label,
        names=[s.name for s in simulations],
        done=0,
        total=run.total,
    )
    try:
        parent = await client.chat_postMessage(channel=channel_id, text=text, blocks=blocks)
    except SlackApiError as exc:
        log.warning("could not post the simulation run's parent: %s", exc.response.get("error"))
        await repo.finish_run(pool, team_id=team_id, run_id=run.id, summary={})
        return (
            "I can't post in this conversation. Invite me with `/invite @ROMASHKA` and try again."
        )
    async with pool.acquire() as con, con.transaction():
        await repo.set_parent(con, team_id=team_id, run_id=run.id, parent_ts=str(parent["ts"]))
        await jobs.enqueue(con, jobs.jobs_for(run))
    return None


async def stop(
    pool: asyncpg.Pool, client: AsyncWebClient, *, team_id: str, run_id: int, user_id: str
) -> str:
    """Stop a running simulation run: its queued conversations are deleted in one transaction,
    a conversation being played stops before its next turn, no summary follows, and the parent
    (and its plan) say who stopped it after how many conversations."""
    try:
        run = await repo.get_run(pool, team_id=team_id, run_id=run_id)
    except SimulationRunNotFound:
        raise UserError(f"There is no simulation run #{run_id} in this workspace.") from None
    stopped = await repo.stop_run(
        pool,
        team_id=team_id,
        run_id=run_id,
        user_id=user_id,
        total=run.total,
        job_prefix=jobs.job_prefix(team_id=team_id, run_id=run_id),
    )
    if stopped is None:
        return f"Simulation run #{run_id} is not running; nothing to stop."
    total = run.total
    if stopped.channel_id is not None and stopped.parent_ts is not None:
        version = await profiles_repo.get_version_by_id(
            pool, team_id=team_id, version_id=run.profile_version_id
        )
        text, blocks = stopped_parent(
            what="Simulation run",
            run_id=run_id,
            label=version.label,
            names=[s.name for s in run.simulations()],
            user_id=user_id,
            after=f"{stopped.done} of {counted(total, 'conversation')}",
        )
        # waits for a progress edit in flight (which then sees the run closed), so this is
        # the parent's last edit
        async with repo.parent_lock(pool, run_id=run_id, wait=True):
            await live_plan.show_stopped(
                pool,
                client,
                plan.plan_of(pool, run, version.label),
                text=text,
                blocks=blocks,
                ending=stopped_text(
                    user_id=user_id, done=stopped.done, total=total, unit="conversations"
                ),
            )
    return f"Stopped simulation run #{run_id} after {stopped.done} of {total} conversations."
