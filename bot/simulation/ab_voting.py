"""An A/B test over simulated customers after its start: progress while its conversations
play, the opening (once the last conversation of both runs is done, its job posts one blind
pair per sample, each claimed through the post fence, and opens voting by a compare-and-set; a
job killed half-way is run again by the queue and carries on), a pair's transcripts, and the
close (the reveal and the result side by side). Votes, the verdict and the leaderboard are the
scripted A/B's (bot.ab).

Blind: before the close nothing shown depends on which conversation is A — pairs follow their
stored random order, transcripts say "Customer" and "Bot", and the figures wait for the close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Final

import asyncpg
from pgqueuer import RetryRequested
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ab.pairs import find_pair_post, pair_mark, slack_error
from bot.ab.parent import announce_result, labels, refresh
from bot.ab.verdict import compute
from bot.blocks import ab as ab_blocks
from bot.blocks import simulation_ab as blocks
from bot.domain.ab import AbMessage, AbTest
from bot.domain.simulation import Conversation, Simulation, SimulationRun
from bot.domain.simulation_ab import SimulationAb
from bot.errors import UserError
from bot.jobs.post_fence import ClaimLost, PostFence, SendLate, retry_when_rate_limited
from bot.metrics.sampling import Rate, rate_difference
from bot.simulation.conversation import counted
from bot.simulation.figures import simulation_figures
from storage import ab as ab_repo
from storage import ab_jobs
from storage import jobs as jobs_repo
from storage import simulation_ab as repo
from storage import simulations as simulations_repo
from storage.ab import SIMULATION_JOB_PREFIX, AbTestNotFound
from storage.jobs import PostClaim
from storage.post_claims import ClaimTable

log = logging.getLogger(__name__)

# the pairs' thread posts: about one a second per channel, shared with every other thread post
POST_INTERVAL_S: Final = 1.0
POST_BURST: Final = 3
# the parent's progress while the conversations play: all processes together about once a second
PROGRESS_EVERY_S: Final = 1.0
NOT_PLAYED_OUT: Final = "was not played out on both sides (a simulator fault or a model error)"
NOTHING_POSTED: Final = "no pair could be played out and posted"
POST_LOST: Final = (
    "could not be posted (the app stopped while posting it and could not read the thread to "
    "check; it is left out rather than risk posting it twice)"
)
NOT_HERE: Final = "That A/B test does not exist in this workspace."


async def stop_runs(pool: asyncpg.Pool, *, team_id: str, ab_id: int, user_id: str) -> None:
    """The test ended before voting (cancelled, failed): its runs stop, their queued
    conversations are deleted, and one being played ends after its turn in flight."""
    sim = await repo.for_test(pool, team_id=team_id, ab_id=ab_id)
    if sim is None:
        return
    for run_id in sim.run_ids:
        run = await simulations_repo.get_run(pool, team_id=team_id, run_id=run_id)
        await simulations_repo.stop_run(
            pool,
            team_id=team_id,
            run_id=run_id,
            user_id=user_id,
            total=run.total,
            job_prefix=f"{SIMULATION_JOB_PREFIX}{team_id}:{run_id}:",
        )


async def after_conversation(
    pool: asyncpg.Pool, client: AsyncWebClient | None, *, sim: SimulationAb, lease_s: float
) -> None:
    """Called by a conversation job of either run once its conversation is done: once every
    conversation of both runs is done, the job posts the pairs not yet posted and opens voting
    (compare-and-set); before that it shows progress. Safe to repeat: a job killed half-way
    through the pairs is run again by the queue (after its heartbeat timeout, `lease_s`) and
    carries on, each pair's post claimed through the post fence (bot.jobs.post_fence)."""
    team_id, ab_id = sim.team_id, sim.ab_test_id
    if not await repo.ready_to_open(pool, team_id=team_id, ab_id=ab_id):
        if client is not None and await ab_jobs.claim_progress(
            pool, team_id=team_id, ab_id=ab_id, every_s=PROGRESS_EVERY_S
        ):
            await refresh(pool, client, ab_id, team_id=team_id)
        return
    await _open(pool, client, sim, lease_s=lease_s)


async def _conversations(pool: asyncpg.Pool, sim: SimulationAb) -> dict[int, Conversation]:
    found: dict[int, Conversation] = {}
    for run_id in sim.run_ids:
        for c in await simulations_repo.conversations(pool, team_id=sim.team_id, run_id=run_id):
            found[c.id] = c
    return found


async def _open(
    pool: asyncpg.Pool, client: AsyncWebClient | None, sim: SimulationAb, *, lease_s: float
) -> None:
    team_id, ab_id = sim.team_id, sim.ab_test_id
    test = await ab_repo.get(pool, team_id=team_id, ab_id=ab_id)
    if test.status != "answering":
        return  # opened by another job, or cancelled (or failed) meanwhile
    messages = {m.id: m for m in await ab_repo.messages(pool, team_id=team_id, ab_id=ab_id)}
    conversations = await _conversations(pool, sim)
    pairs = await repo.pairs(pool, team_id=team_id, ab_id=ab_id)
    for pair in pairs:
        message = messages[pair.ab_message_id]
        if message.done_at is not None:
            continue
        a, b = conversations[pair.conversation_a_id], conversations[pair.conversation_b_id]
        if not (counted(a.ending) and counted(b.ending)):
            await ab_jobs.fail_pair(
                pool, team_id=team_id, message_id=message.id, reason=NOT_PLAYED_OUT
            )
            text, note = blocks.failed_pair(
                position=message.position,
                total=len(pairs),
                name=message.message,
                reason=NOT_PLAYED_OUT,
            )
            await _fenced_post(
                pool, client, test, message, text, note, lease_s=lease_s, is_note=True
            )
            continue
        first, second = (a, b) if message.a_first else (b, a)
        text, pair_blocks = blocks.blind_pair(
            message_id=message.id,
            position=message.position,
            total=len(pairs),
            name=message.message,
            turns_1=await _turn_count(pool, team_id, first.id),
            turns_2=await _turn_count(pool, team_id, second.id),
        )
        await _fenced_post(pool, client, test, message, text, pair_blocks, lease_s=lease_s)
    status = await ab_jobs.finish_answering(
        pool, team_id=team_id, ab_id=ab_id, nothing_posted=NOTHING_POSTED
    )
    if status is None:
        return  # another job holds a pair still, or opened it: that one finishes
    log.info("A/B test %d over simulations: %s", ab_id, status)
    if client is not None:
        await refresh(pool, client, ab_id, team_id=team_id)


async def _pace(pool: asyncpg.Pool, test: AbTest) -> None:
    wait_s = await jobs_repo.pace_post(
        pool,
        team_id=test.team_id,
        channel_id=test.channel_id,
        interval_s=POST_INTERVAL_S,
        burst=POST_BURST,
    )
    if wait_s > 0:
        await asyncio.sleep(wait_s)


async def _turn_count(pool: asyncpg.Pool, team_id: str, conversation_id: int) -> int:
    return len(await simulations_repo.turns(pool, team_id=team_id, conversation_id=conversation_id))


async def _fenced_post(
    pool: asyncpg.Pool,
    client: AsyncWebClient | None,
    test: AbTest,
    message: AbMessage,
    text: str,
    post_blocks: list[dict[str, Any]],
    *,
    lease_s: float,
    is_note: bool = False,
) -> None:
    """Post a pair (or a failed pair's note) once: claimed, the claim renewed right before the
    send; a claim whose holder died lapses after `lease_s`, and its taker looks in the thread
    for the post's mark (the pair's row id: the same whichever side is A) before posting. A
    failed pair's note (`is_note`) records no ts: the pair takes no votes."""
    team_id, failed = test.team_id, is_note
    if client is None or test.parent_ts is None:
        await ab_jobs.fail_pair(
            pool, team_id=team_id, message_id=message.id, reason="could not be posted"
        )
        await ab_jobs.mark_done(pool, team_id=team_id, message_id=message.id)
        return
    await _pace(pool, test)
    state = await ab_jobs.claim_post(pool, team_id=team_id, message_id=message.id, lease_s=lease_s)
    if state.claim is PostClaim.DONE:
        return
    if state.claim is PostClaim.WAIT:
        # another job is posting it (or was, and died): this one comes back once it lapses
        raise RetryRequested(delay=timedelta(seconds=state.wait_s), reason="pair claimed")
    if state.claim is PostClaim.LOOK_FIRST:
        try:
            found = await find_pair_post(client, test=test, message_id=message.id)
        except SlackApiError as exc:
            # without the thread we cannot know whether it went out: never post twice
            log.warning("A/B test %d: could not read its thread: %s", test.id, slack_error(exc))
            await ab_jobs.fail_pair(pool, team_id=team_id, message_id=message.id, reason=POST_LOST)
            await ab_jobs.mark_done(pool, team_id=team_id, message_id=message.id)
            return
        if found is not None:
            await ab_jobs.mark_done(
                pool, team_id=team_id, message_id=message.id, ts=None if failed else found
            )
            return
    assert state.token is not None
    fence = PostFence(
        pool,
        table=ClaimTable.AB_PAIRS,
        team_id=team_id,
        row_id=message.id,
        token=state.token,
        lease_s=lease_s,
    )
    try:
        posted = await fence.client(client).chat_postMessage(
            channel=test.channel_id,
            thread_ts=test.parent_ts,
            text=text,
            blocks=post_blocks,
            username=ab_blocks.NEUTRAL_NAME,
            icon_emoji=ab_blocks.NEUTRAL_ICON,
            metadata=pair_mark(message.id),
        )
    except ClaimLost:
        return  # another job took the lapsed claim over: it posts
    except SendLate:
        raise RetryRequested(delay=timedelta(seconds=lease_s), reason="pair late") from None
    except SlackApiError as exc:
        retry_when_rate_limited(exc, lease_s=lease_s)
        code = slack_error(exc)
        log.warning("could not post a simulation A/B pair: %s", code)
        if not failed:
            await ab_jobs.fail_pair(
                pool,
                team_id=team_id,
                message_id=message.id,
                reason=f"was refused by Slack (`{code}`)",
            )
        await ab_jobs.mark_done(pool, team_id=team_id, message_id=message.id)
        return
    await ab_jobs.mark_done(
        pool, team_id=team_id, message_id=message.id, ts=None if failed else str(posted["ts"])
    )


# ---- a pair's transcripts ------------------------------------------------------------------------


async def transcript(
    pool: asyncpg.Pool, *, team_id: str, message_id: int, number: str
) -> dict[str, Any]:
    """Conversation 1 or 2 of a pair, in its stored order; its version named once closed."""
    if number not in {"1", "2"}:
        raise UserError(NOT_HERE)
    pair = await repo.pair(pool, team_id=team_id, message_id=message_id)
    if pair is None:
        raise UserError(NOT_HERE)
    try:
        message = await ab_repo.message(pool, team_id=team_id, message_id=message_id)
        test = await ab_repo.get(pool, team_id=team_id, ab_id=message.ab_test_id)
    except AbTestNotFound:
        raise UserError(NOT_HERE) from None
    is_a = message.a_first == (number == "1")
    conversation_id = pair.conversation_a_id if is_a else pair.conversation_b_id
    turns = await simulations_repo.turns(pool, team_id=team_id, conversation_id=conversation_id)
    label = None
    if test.status == "closed":
        label_a, label_b = await labels(pool, test)
        label = f"A: {label_a}" if is_a else f"B: {label_b}"
    total = len(await repo.pairs(pool, team_id=team_id, ab_id=test.id))
    return blocks.transcript(
        position=message.position,
        total=total,
        name=message.message,
        number=number,
        lines=[blocks.Line(customer=t.is_customer, text=t.text) for t in turns],
        label=label,
    )


# ---- the close -----------------------------------------------------------------------------------


def _rate(r: dict[str, Any]) -> Rate:
    return Rate(int(r["passed"]), int(r["n"]), r.get("low"), r.get("high"))


def side_by_side(
    simulations: Sequence[Simulation],
    runs: tuple[SimulationRun, SimulationRun],
    conversations: Sequence[Conversation],
) -> list[dict[str, Any]]:
    """Per simulation: goal rates of A and B with Wilson intervals and B − A with Newcombe's
    interval, behaviour pass rates, drift per trait, and what was not counted. Pure."""
    out = []
    for s in simulations:
        sides = []
        for run in runs:
            rows = [
                (c.ending, c.fault, dict(c.outcome or {}))
                for c in conversations
                if c.run_id == run.id and c.simulation_id == s.id
            ]
            sides.append(simulation_figures(s, rows))
        fa, fb = sides
        diff = rate_difference(_rate(fb["goal"]["rate"]), _rate(fa["goal"]["rate"]))
        drift_a = {d["trait"]: d for d in fa["drift"]}
        drift_b = {d["trait"]: d for d in fb["drift"]}
        out.append(
            {
                "simulation_id": s.id,
                "name": s.name,
                "goal_a": fa["goal"]["rate"],
                "goal_b": fb["goal"]["rate"],
                "goal_difference": (
                    None if diff is None else {"diff": diff[0], "low": diff[1], "high": diff[2]}
                ),
                "behaviours": [
                    {"behaviour": ba["behaviour"], "a": ba, "b": bb}
                    for ba, bb in zip(fa["behaviours"], fb["behaviours"], strict=True)
                ],
                "drift": [
                    {"trait": t, "a": drift_a.get(t), "b": drift_b.get(t)}
                    for t in sorted(set(drift_a) | set(drift_b))
                ],
                "alignment_a": fa["alignment"],
                "alignment_b": fb["alignment"],
                "not_counted_a": fa["conversations"] - fa["counted"],
                "not_counted_b": fb["conversations"] - fb["counted"],
            }
        )
    return out


def seed_note(conversations: Sequence[Conversation]) -> str:
    """Whether the simulator endpoint took the seeds, in words for the result."""
    honoured = [c.seed_honoured for c in conversations if c.seed is not None]
    if any(h is False for h in honoured):
        return (
            "⚠️ Seed not honoured: the simulator's endpoint refused the `seed` parameter, so A "
            "and B met the same persona but their customers' turns were sampled independently."
        )
    if honoured and all(h is True for h in honoured):
        return (
            "Both sides of each pair sent the simulator the same seed and the endpoint took it "
            "(how far a seed makes sampling repeat is up to the endpoint: best effort on OpenAI)."
        )
    return "Seeds: n/a (no simulator turn was played)."


async def finish(
    pool: asyncpg.Pool, client: AsyncWebClient, closed: AbTest, sim: SimulationAb
) -> str:
    """The close of a test over simulations (votes already frozen): the verdict from the votes
    (bot.ab.verdict, as for scripted tests), stored with the figures side by side; every pair
    revealed; the result posted in the thread."""
    team_id, ab_id = closed.team_id, closed.id
    rows = await ab_repo.messages(pool, team_id=team_id, ab_id=ab_id)
    votes = await ab_repo.votes(pool, team_id=team_id, ab_id=ab_id)
    verdict = compute(votes, rows, {})
    run_a = await simulations_repo.get_run(pool, team_id=team_id, run_id=sim.run_a_id)
    run_b = await simulations_repo.get_run(pool, team_id=team_id, run_id=sim.run_b_id)
    conversations = await _conversations(pool, sim)
    figures = side_by_side(run_a.simulations(), (run_a, run_b), list(conversations.values()))
    note = seed_note(list(conversations.values()))
    await ab_repo.set_verdict(
        pool,
        team_id=team_id,
        ab_id=ab_id,
        code=verdict.outcome.value,
        verdict={**verdict.to_json(), "simulation": {"figures": figures, "seed_note": note}},
    )
    label_a, label_b = await labels(pool, closed)
    pairs = {p.ab_message_id: p for p in await repo.pairs(pool, team_id=team_id, ab_id=ab_id)}
    for m in rows:
        pair = pairs.get(m.id)
        if m.message_ts is None or m.failure is not None or pair is None:
            continue
        counts = {c: 0 for c in ("a", "b", "tie", "both_bad")}
        for v in votes:
            if v.ab_message_id == m.id:
                counts[v.choice] += 1
        goals = {
            side: _goal(conversations[cid])
            for side, cid in (("a", pair.conversation_a_id), ("b", pair.conversation_b_id))
        }
        first, second = ("a", "b") if m.a_first else ("b", "a")
        names = {"a": f"A: {label_a}", "b": f"B: {label_b}"}
        text, revealed = blocks.revealed_pair(
            message_id=m.id,
            position=m.position,
            total=len(rows),
            name=m.message,
            label_1=names[first],
            label_2=names[second],
            goal_1=goals[first],
            goal_2=goals[second],
            votes=counts,
        )
        try:
            await client.chat_update(
                channel=closed.channel_id, ts=m.message_ts, text=text, blocks=revealed
            )
        except SlackApiError as exc:
            log.warning("could not reveal a simulation A/B pair: %s", slack_error(exc))
    text, result = blocks.result_message(
        ab_id=ab_id, label_a=label_a, label_b=label_b, v=verdict, figures=figures, seed_note=note
    )
    return await announce_result(
        pool, client, closed, text=text, result_blocks=result, recommendation=verdict.recommendation
    )


def _goal(c: Conversation) -> str:
    goal = (c.outcome or {}).get("goal") or {}
    return str(goal.get("verdict") or "not judged")
