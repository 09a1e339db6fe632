"""Starting an A/B test over simulated customers: both versions face the same simulated
customers, sample i of both with the same seed, played quietly (nothing labelled with a version
is posted before voting closes); the team then votes blind on whole conversations.

The test is an ordinary A/B test (storage.ab), with one blind pair per sample; its two runs are
simulation runs without a channel, so their conversation jobs post nothing. The job finishing
the last conversation of both runs posts the pairs and opens voting (bot.simulation.ab_voting).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Final

import asyncpg
from slack_sdk.web.async_client import AsyncWebClient

from bot.ab.parent import played_line, post_or_fail
from bot.ab.start import check_two_versions, draw_a_first
from bot.blocks import ab as blocks
from bot.blocks.common import escape
from bot.domain.ab import Participation
from bot.domain.profile import ProfileVersion
from bot.domain.simulation import Simulation
from bot.errors import UserError
from bot.jobs import simulation as jobs
from bot.persona.versions import resolve_version
from bot.simulation import ab_voting, library
from bot.simulation.run import model_calls
from storage import simulation_ab as repo

# seeds are drawn below this, so that base + samples stays a positive 32-bit integer
SEED_RANGE: Final = 2**31 - 1_000


def draw_seed_base() -> int:
    return secrets.randbelow(SEED_RANGE)


async def start(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    spec_a: str,
    spec_b: str,
    name: str,
    repeat: int,
    confirm_above: int | None = None,
    confirmed: bool = False,
) -> str | None:
    """A test of `spec_a` against `spec_b` (`profile[@version]`) over the simulated customer
    `name` (`simulations`: every one), each sample `repeat` times. None once the test is
    stored, its parent posted and its conversations queued; otherwise what the person should
    be told."""
    version_a = await resolve_version(pool, team_id=team_id, channel_id=channel_id, spec=spec_a)
    version_b = await resolve_version(pool, team_id=team_id, channel_id=channel_id, spec=spec_b)
    simulations = await library.chosen(pool, team_id=team_id, name=name)
    if simulations is None:
        raise UserError(
            f"There is no simulated customer named *{escape(name)}*. `/bot scenarios` lists "
            "them; `simulations` takes every one."
        )
    return await start_versions(
        pool,
        client,
        team_id=team_id,
        channel_id=channel_id,
        user_id=user_id,
        version_a=version_a,
        version_b=version_b,
        simulations=simulations,
        repeat=repeat,
        confirm_above=confirm_above,
        confirmed=confirmed,
    )


async def start_versions(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    user_id: str,
    version_a: ProfileVersion,
    version_b: ProfileVersion,
    simulations: Sequence[Simulation],
    repeat: int,
    confirm_above: int | None = None,
    confirmed: bool = False,
) -> str | None:
    check_two_versions(version_a, version_b)
    if not simulations:
        raise UserError("There are no simulated customers to run.")
    calls = 2 * model_calls(simulations, repeat=repeat)
    samples = len(simulations) * repeat
    if confirm_above is not None and calls > confirm_above and not confirmed:
        return (
            f"This A/B test makes up to {calls} model calls ({samples} simulated conversations "
            f"for each of the two versions), above this workspace's limit of {confirm_above}. "
            "Add `confirm` at the end to run it."
        )
    async with pool.acquire() as con:
        test, run_a, run_b = await repo.create(
            con,
            team_id=team_id,
            version_a_id=version_a.id,
            version_b_id=version_b.id,
            user_id=user_id,
            channel_id=channel_id,
            simulations=simulations,
            repeat=repeat,
            seed_base=draw_seed_base(),
            a_first=[draw_a_first() for _ in range(samples)],
        )
    text, parent_blocks = blocks.parent(
        ab_id=test.id,
        label_a=version_a.label,
        label_b=version_b.label,
        messages=samples,
        status="answering",
        participation=Participation(0, 0, [0] * samples, 0),
        unit="conversation pair",
        extra=played_line(0, 2 * samples),
    )
    refused = await post_or_fail(pool, client, test, text=text, parent_blocks=parent_blocks)
    if refused is not None:
        await ab_voting.stop_runs(pool, team_id=team_id, ab_id=test.id, user_id=user_id)
        return refused
    # the conversations' answers belong to the parent's thread (stats and exports leave them
    # out while voting is open): queued once its ts is stored, A and B sample by sample
    a_jobs, b_jobs = jobs.jobs_for(run_a), jobs.jobs_for(run_b)
    async with pool.acquire() as con, con.transaction():
        await jobs.enqueue(con, [j for pair in zip(a_jobs, b_jobs, strict=True) for j in pair])
    return None
