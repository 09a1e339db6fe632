"""Ending an A/B test: closing (votes frozen, replies revealed, the verdict posted) or cancelling
(no verdict), by its starter or an editor, from a command or a button."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ab.pairs import slack_error, update_pair
from bot.ab.parent import announce_result, labels, refresh
from bot.ab.verdict import compute
from bot.blocks import ab as blocks
from bot.blocks.common import escape
from bot.domain.ab import AbMessage, AbTest, Vote
from bot.domain.results import TestResult
from bot.errors import UserError
from bot.metrics import judge_report
from bot.metrics.judges import Judge
from bot.simulation import ab_voting as sim_ab_voting
from storage import ab as repo
from storage import results as results_repo
from storage import simulation_ab as sim_ab_repo
from storage.ab import AbTestNotFound

log = logging.getLogger(__name__)

# Whether the person ending a test is an editor: asked only when they did not start it, since
# the answer may take a call to Slack.
EditorCheck = Callable[[], Awaitable[bool]]


async def _test_for(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    user_id: str,
    ab_id: int,
    is_editor: EditorCheck,
    doing: str,
) -> AbTest:
    # a test left answering by a process that died shows as interrupted before anyone decides
    await repo.mark_stale_tests_interrupted(pool)
    try:
        test = await repo.get(pool, team_id=team_id, ab_id=ab_id)
    except AbTestNotFound:
        raise UserError(f"There is no A/B test #{ab_id} in this workspace.") from None
    if test.started_by != user_id and not await is_editor():
        raise UserError(
            f"Only <@{test.started_by}>, who started A/B test #{ab_id}, or an editor can "
            f"{doing} it."
        )
    return test


async def close(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    team_id: str,
    user_id: str,
    ab_id: int,
    is_editor: EditorCheck,
) -> str:
    test = await _test_for(
        pool, team_id=team_id, user_id=user_id, ab_id=ab_id, is_editor=is_editor, doing="close"
    )
    if test.status == "closed":
        if test.verdict_code is not None:
            return f"A/B test #{ab_id} is already closed."
        # closed by a process that stopped before its verdict: the votes are frozen, so the
        # verdict can be worked out now, by one caller, once that close is clearly not running
        unfinished = await repo.claim_unfinished_close(pool, team_id=team_id, ab_id=ab_id)
        if unfinished is None:
            return _ended(test)
        return await _finish(pool, client, unfinished)
    if test.status == "cancelled":
        return f"A/B test #{ab_id} was cancelled, so it has no verdict to give."
    if test.status == "answering":
        return (
            f"A/B test #{ab_id} is still writing its replies; voting opens when they are all "
            f"in, and then it can be closed. To stop it now: `/bot ab cancel {ab_id}`."
        )
    if test.status in {"failed", "interrupted"}:
        # nobody could vote on it, so there is no verdict: closing it ends it as cancelled
        cancelled = await repo.cancel(pool, team_id=team_id, ab_id=ab_id, user_id=user_id)
        if cancelled is None:
            return _ended(await repo.get(pool, team_id=team_id, ab_id=ab_id))
        await sim_ab_voting.stop_runs(pool, team_id=team_id, ab_id=ab_id, user_id=user_id)
        await refresh(pool, client, ab_id, team_id=team_id)
        return (
            f"A/B test #{ab_id} never opened for voting ({test.status}: "
            f"{escape(test.failure_reason or 'no reason recorded')}), so there is no verdict "
            "to give; it is now cancelled."
        )
    # closing first freezes the votes: a vote holds a share lock on the test row while it
    # checks that voting is open, so every vote either landed before this or sees "closed"
    closed = await repo.close(pool, team_id=team_id, ab_id=ab_id, user_id=user_id)
    if closed is None:
        # someone else ended it a moment ago
        return _ended(await repo.get(pool, team_id=team_id, ab_id=ab_id))
    return await _finish(pool, client, closed)


def _ended(test: AbTest) -> str:
    if test.status == "closed" and test.verdict_code is None:
        return f"A/B test #{test.id} is being closed; its verdict follows in the thread."
    if test.status == "closed":
        return f"A/B test #{test.id} is already closed."
    return f"A/B test #{test.id} was {test.status} a moment ago."


async def _finish(pool: asyncpg.Pool, client: AsyncWebClient, closed: AbTest) -> str:
    team_id, ab_id = closed.team_id, closed.id
    sim = await sim_ab_repo.for_test(pool, team_id=team_id, ab_id=ab_id)
    if sim is not None:
        # pairs of whole conversations: revealed, and the result shown side by side
        return await sim_ab_voting.finish(pool, client, closed, sim)
    rows = await repo.messages(pool, team_id=team_id, ab_id=ab_id)
    votes = await repo.votes(pool, team_id=team_id, ab_id=ab_id)
    result_ids = [i for m in rows for i in (m.result_a_id, m.result_b_id) if i is not None]
    results = await results_repo.results_by_ids(pool, team_id=team_id, ids=result_ids)
    verdict = compute(votes, rows, results)
    await repo.set_verdict(
        pool,
        team_id=team_id,
        ab_id=ab_id,
        code=verdict.outcome.value,
        verdict=verdict.to_json(),
    )
    label_a, label_b = await labels(pool, closed)
    await _reveal(pool, client, closed, rows, votes, results, label_a, label_b)
    judge = await judge_report.one(pool, team_id=team_id, judge=Judge.PAIRWISE)
    text, verdict_blocks = blocks.verdict_message(
        ab_id=ab_id, label_a=label_a, label_b=label_b, v=verdict, judge=judge
    )
    return await announce_result(
        pool,
        client,
        closed,
        text=text,
        result_blocks=verdict_blocks,
        recommendation=verdict.recommendation,
    )


def side_label(*, a_first: bool, reply: int, label_a: str, label_b: str) -> str:
    is_a = a_first == (reply == 1)
    return f"A: {label_a}" if is_a else f"B: {label_b}"


async def _reveal(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    test: AbTest,
    rows: list[AbMessage],
    votes: list[Vote],
    results: dict[int, TestResult],
    label_a: str,
    label_b: str,
) -> None:
    for m in rows:
        if m.message_ts is None or m.result_a_id is None or m.result_b_id is None:
            continue
        a, b = results[m.result_a_id], results[m.result_b_id]
        first, second = (a, b) if m.a_first else (b, a)
        counts = {c: 0 for c in ("a", "b", "tie", "both_bad")}
        for v in votes:
            if v.ab_message_id == m.id:
                counts[v.choice] += 1
        judge = {"a": f"A ({label_a})", "b": f"B ({label_b})"}.get(
            m.judge_verdict or "unavailable", m.judge_verdict or "unavailable"
        )

        build = partial(
            blocks.revealed_pair,
            message_id=m.id,
            position=m.position,
            total=len(rows),
            question=m.message,
            reply_1=first.answer,
            reply_2=second.answer,
            label_1=side_label(a_first=m.a_first, reply=1, label_a=label_a, label_b=label_b),
            label_2=side_label(a_first=m.a_first, reply=2, label_a=label_a, label_b=label_b),
            votes=counts,
            judge=judge,
        )

        try:
            await update_pair(client, channel=test.channel_id, ts=m.message_ts, build=build)
        except SlackApiError as exc:
            log.warning("could not reveal an A/B pair: %s", slack_error(exc))


async def cancel(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    team_id: str,
    user_id: str,
    ab_id: int,
    is_editor: EditorCheck,
) -> str:
    test = await _test_for(
        pool, team_id=team_id, user_id=user_id, ab_id=ab_id, is_editor=is_editor, doing="cancel"
    )
    if test.status == "closed":
        return f"A/B test #{ab_id} is already closed; its verdict stands."
    if test.status == "cancelled":
        return f"A/B test #{ab_id} is already cancelled."
    cancelled = await repo.cancel(pool, team_id=team_id, ab_id=ab_id, user_id=user_id)
    if cancelled is None:
        return _ended(await repo.get(pool, team_id=team_id, ab_id=ab_id))
    # an A/B over simulations: its conversations stop too
    await sim_ab_voting.stop_runs(pool, team_id=team_id, ab_id=ab_id, user_id=user_id)
    await refresh(pool, client, ab_id, team_id=team_id)
    return (
        f"Cancelled A/B test #{ab_id}: no verdict. Votes already cast are kept but not counted "
        "anywhere, and no more are taken."
    )
