"""The A/B test's parent message: posted when the test starts (or the test failed, saying why),
then kept in step with it: participation while it runs, the revealed counts and verdict once
closed, the reason when it failed or was interrupted."""

from __future__ import annotations

import logging
from typing import Final

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ab.pairs import slack_error
from bot.blocks import ab as blocks
from bot.blocks.common import Block
from bot.domain.ab import AbTest
from bot.domain.simulation_ab import SimulationAb
from bot.domain.verdict import Outcome, describe
from storage import ab as repo
from storage import ab_jobs as jobs_repo
from storage import simulation_ab as sim_ab_repo
from storage import simulations as simulations_repo

log = logging.getLogger(__name__)

# a refresh re-reads after posting and repeats while votes keep arriving, so the last update
# always shows the final count even when updates from several votes interleave
REFRESH_ROUNDS: Final = 3
# to the starter, when Slack refuses a new test's parent message
PARENT_REFUSED: Final = (
    "A/B test #{ab_id} failed before it started: Slack refused my message in this "
    "conversation (`{code}`). Invite me with `/invite @ROMASHKA` (or start it in a "
    "channel I am in) and start it again."
)


async def post_or_fail(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    test: AbTest,
    *,
    text: str,
    parent_blocks: list[Block],
) -> str | None:
    """Post a new test's parent message and record its ts: None then (the test's answers
    belong to its thread, so its jobs wait for that ts). When Slack refuses it, the test is
    kept, failed with the reason (its queued pair jobs deleted) rather than left answering with
    nowhere to answer, and what the starter should be told is returned."""
    team_id, ab_id = test.team_id, test.id
    try:
        parent = await client.chat_postMessage(
            channel=test.channel_id, text=text, blocks=parent_blocks
        )
    except SlackApiError as exc:
        code = slack_error(exc)
        log.warning("could not post the parent of A/B test %d: %s", ab_id, code)
        await repo.stop_answering(
            pool,
            team_id=team_id,
            ab_id=ab_id,
            status="failed",
            reason=f"Slack refused its first message (`{code}`)",
        )
        return PARENT_REFUSED.format(ab_id=ab_id, code=code)
    await repo.set_parent(pool, team_id=team_id, ab_id=ab_id, parent_ts=str(parent["ts"]))
    return None


async def labels(pool: asyncpg.Pool, test: AbTest) -> tuple[str, str]:
    found = await repo.version_labels(
        pool, team_id=test.team_id, ids=[test.version_a_id, test.version_b_id]
    )
    return found[test.version_a_id], found[test.version_b_id]


def recommendation(test: AbTest) -> str | None:
    """The verdict's line, worded from its stored code."""
    if test.verdict_code is None:
        return None
    stored = (test.verdict or {}).get("per_person") or {}
    needed = stored.get("votes_to_tell")
    return describe(Outcome(test.verdict_code), needed if isinstance(needed, int) else None)


async def simulated_progress(pool: asyncpg.Pool, sim: SimulationAb) -> str:
    """Conversations played of both runs (the same line whichever side is A)."""
    done = total = 0
    for run_id in sim.run_ids:
        run = await simulations_repo.get_run(pool, team_id=sim.team_id, run_id=run_id)
        done += await simulations_repo.done_count(pool, team_id=sim.team_id, run_id=run_id)
        total += run.total
    return played_line(done, total)


def played_line(done: int, total: int) -> str:
    return (
        f"Conversations played *{done}/{total}* (both versions, quietly: the pairs are posted "
        "here when every one is in)"
    )


async def refresh(pool: asyncpg.Pool, client: AsyncWebClient, ab_id: int, *, team_id: str) -> None:
    shown: object = None
    # an A/B over simulations: its pairs are conversation pairs, played before they are posted
    sim = await sim_ab_repo.for_test(pool, team_id=team_id, ab_id=ab_id)
    for _ in range(REFRESH_ROUNDS):
        test = await repo.get(pool, team_id=team_id, ab_id=ab_id)
        if test.parent_ts is None:
            return
        taking_part = await repo.participation(pool, team_id=team_id, ab_id=ab_id)
        # counts by side exist only once the order is revealed
        revealed = (
            await repo.tally(pool, team_id=team_id, ab_id=ab_id)
            if test.status == "closed"
            else None
        )
        # while answering: the pairs posted, failed, being written and waiting in the queue
        progress = (
            await jobs_repo.pair_progress(pool, team_id=team_id, ab_id=ab_id)
            if test.status == "answering" and sim is None
            else None
        )
        played = (
            await simulated_progress(pool, sim)
            if test.status == "answering" and sim is not None
            else None
        )
        state = (taking_part, revealed, progress, played, test.status, test.verdict_code)
        if state == shown:
            return
        label_a, label_b = await labels(pool, test)
        text, parent_blocks = blocks.parent(
            ab_id=ab_id,
            label_a=label_a,
            label_b=label_b,
            messages=len(taking_part.per_message),
            status=test.status,
            participation=taking_part,
            revealed=revealed,
            recommendation=recommendation(test),
            reason=test.failure_reason,
            ended_by=test.closed_by,
            progress=progress,
            unit="message" if sim is None else "conversation pair",
            extra=played,
        )
        try:
            await client.chat_update(
                channel=test.channel_id, ts=test.parent_ts, text=text, blocks=parent_blocks
            )
        except SlackApiError as exc:
            log.warning("could not update the A/B parent: %s", exc.response.get("error"))
            return
        shown = state


async def announce_result(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    closed: AbTest,
    *,
    text: str,
    result_blocks: list[Block],
    recommendation: str,
) -> str:
    """A closed test's result in its thread (broadcast to the channel), then its parent
    refreshed; what the person who closed it is told. Scripted and simulated A/B tests alike."""
    if closed.parent_ts:
        try:
            await client.chat_postMessage(
                channel=closed.channel_id,
                thread_ts=closed.parent_ts,
                text=text,
                blocks=result_blocks,
                reply_broadcast=True,
            )
        except SlackApiError as exc:
            log.warning("could not post the result of A/B test %d: %s", closed.id, slack_error(exc))
    await refresh(pool, client, closed.id, team_id=closed.team_id)
    return f"Closed A/B test #{closed.id}: {recommendation}"
