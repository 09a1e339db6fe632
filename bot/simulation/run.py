"""Starting a simulation run from Slack: the run with its plan, a parent message showing
progress, and one job per conversation, queued in the transaction that records the parent."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.simulation import progress_message
from bot.domain.profile import ProfileVersion
from bot.domain.simulation import Simulation
from bot.errors import UserError
from bot.jobs import simulation as jobs
from storage import simulations as repo

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
