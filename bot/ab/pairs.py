"""Writing an A/B test's blind pairs: both sides answer a message, the judge compares the two in
both orders, and the pair is posted in the thread with its buttons. A pair is one job on the
queue (bot/jobs/ab_pair.py runs it); this module holds the steps, each safe to repeat: a side
already answered is not answered again, a pair already judged is not judged again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Final, Protocol

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import ab as blocks
from bot.blocks.common import Block
from bot.domain.ab import AbMessage, AbTest
from bot.domain.profile import ProfileVersion
from bot.domain.results import TestResult
from bot.model.llm import LLM
from bot.model.pair_judge import judge as pairwise_judge
from bot.slack.post import post_message
from bot.slack.thread_marks import find_marked, mark
from storage import ab as repo
from storage import ab_jobs as jobs_repo
from storage import results as results_repo
from storage.ab_jobs import Side
from storage.results import NewResult

log = logging.getLogger(__name__)

INTERNAL_ERROR: Final = "could not be answered (internal error)"
NOTHING_POSTED: Final = "no message could be answered and posted"
TOO_LONG: Final = frozenset({"msg_too_long", "msg_blocks_too_long", "invalid_blocks"})
RATE_LIMITED: Final = "ratelimited"
# the metadata event type of a pair's thread message (bot.slack.thread_marks)
PAIR_EVENT_TYPE: Final = "romashka_ab_pair"


class Build(Protocol):
    """A pair message built for a text budget."""

    def __call__(self, *, budget: blocks.Budget) -> tuple[str, list[Block]]: ...


def slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error")) if exc.response is not None else "unknown error"


def pair_mark(message_id: int) -> dict[str, object]:
    """The metadata of a pair's thread message (or its failure note): the pair's row id, the
    same whichever reply is A, so it tells a voter nothing."""
    return mark(PAIR_EVENT_TYPE, "message_id", message_id)


async def find_pair_post(client: AsyncWebClient, *, test: AbTest, message_id: int) -> str | None:
    """The ts of the pair's thread message (or failure note), if Slack has it."""
    assert test.parent_ts is not None
    return await find_marked(
        client,
        channel=test.channel_id,
        thread_ts=test.parent_ts,
        event_type=PAIR_EVENT_TYPE,
        key="message_id",
        value=message_id,
    )


async def post_pair(
    client: AsyncWebClient,
    *,
    test: AbTest,
    parent_ts: str,
    build: Build,
    metadata: dict[str, object] | None = None,
) -> str:
    """Post a pair with its buttons; when Slack refuses it as too long, again with shorter
    replies (their full text stays behind the Details button). Returns the message's ts."""
    text, pair_blocks = build(budget=blocks.FULL)
    message: dict[str, Any] = {
        "channel": test.channel_id,
        "thread_ts": parent_ts,
        "username": blocks.NEUTRAL_NAME,
        "icon_emoji": blocks.NEUTRAL_ICON,
    }
    if metadata is not None:
        message["metadata"] = metadata
    try:
        posted = await client.chat_postMessage(**message, text=text, blocks=pair_blocks)
    except SlackApiError as exc:
        if slack_error(exc) not in TOO_LONG:
            raise
        log.warning("Slack refused an A/B pair as too long (%s); shortening", slack_error(exc))
        text, pair_blocks = build(budget=blocks.COMPACT)
        posted = await post_message(client, **message, text=text, blocks=pair_blocks)
    return str(posted["ts"])


async def update_pair(client: AsyncWebClient, *, channel: str, ts: str, build: Build) -> None:
    text, pair_blocks = build(budget=blocks.FULL)
    try:
        await client.chat_update(channel=channel, ts=ts, text=text, blocks=pair_blocks)
    except SlackApiError as exc:
        if slack_error(exc) not in TOO_LONG:
            raise
        text, pair_blocks = build(budget=blocks.COMPACT)
        await client.chat_update(channel=channel, ts=ts, text=text, blocks=pair_blocks)


# answers one side: the job wraps the pipeline in the model's shared budget
Answer = Callable[[ProfileVersion, NewResult], Awaitable[TestResult]]
# the pairwise judge's two requests, under the budget too
Judge = Callable[[str, str, str], Awaitable[tuple[str, dict[str, Any]]]]


def pair_result(*, test: AbTest, version: ProfileVersion, row: AbMessage, side: Side) -> NewResult:
    """One side's answer row, linked to its pair as it is stored (once per side). Its thread
    is the test's parent message: that is how stats and exports keep a running test's answers
    out of sight until voting ends."""
    return NewResult(
        team_id=test.team_id,
        profile_version_id=version.id,
        kind="ab",
        user_id=test.started_by,
        question=row.message,
        answer="",
        channel_id=test.channel_id,
        thread_ts=test.parent_ts,
        ab_message_id=row.id,
        ab_side=side,
    )


async def write_pair(
    pool: asyncpg.Pool,
    *,
    test: AbTest,
    row: AbMessage,
    version_a: ProfileVersion,
    version_b: ProfileVersion,
    answer: Answer,
    judge: Judge | None,
) -> AbMessage:
    """Answer the sides not answered yet (each is linked to the pair as it is stored, so a
    retry after a 429 on one side answers only the other), then judge the pair once. An error
    of one side is raised once the other side is stored. `judge` None: no model to judge with."""
    candidates: list[tuple[Side, ProfileVersion, int | None]] = [
        ("a", version_a, row.result_a_id),
        ("b", version_b, row.result_b_id),
    ]
    answered = await asyncio.gather(
        *(
            answer(version, pair_result(test=test, version=version, row=row, side=side))
            for side, version, stored in candidates
            if stored is None
        ),
        return_exceptions=True,
    )
    for outcome in answered:
        if isinstance(outcome, BaseException):
            raise outcome
    row = await repo.message(pool, team_id=test.team_id, message_id=row.id)
    if row.judge_verdict is not None:
        return row
    assert row.result_a_id is not None and row.result_b_id is not None
    results = await results_repo.results_by_ids(
        pool, team_id=test.team_id, ids=[row.result_a_id, row.result_b_id]
    )
    answer_a, answer_b = results[row.result_a_id].answer, results[row.result_b_id].answer
    if answer_a and answer_b and judge is not None:
        verdict, detail = await judge(row.message, answer_a, answer_b)
    else:
        verdict, detail = "unavailable", {"reason": "a side produced no answer"}
    await jobs_repo.set_judge(
        pool, team_id=test.team_id, message_id=row.id, verdict=verdict, detail=detail
    )
    return await repo.message(pool, team_id=test.team_id, message_id=row.id)


async def judge_with(
    llm: LLM, question: str, answer_a: str, answer_b: str
) -> tuple[str, dict[str, Any]]:
    pair = await pairwise_judge(llm, question=question, answer_a=answer_a, answer_b=answer_b)
    return pair.verdict, pair.detail


async def post_written(
    pool: asyncpg.Pool, client: AsyncWebClient, *, test: AbTest, row: AbMessage, total: int
) -> str | None:
    """Post a written pair in the thread, in its stored blind order. Returns its ts, or None
    when Slack refused it (the pair is then failed with the reason, and a note says so)."""
    assert test.parent_ts is not None
    if row.failure is not None:
        await post_failure_note(client, test=test, row=row, total=total, reason=row.failure)
        return None
    assert row.result_a_id is not None and row.result_b_id is not None
    results = await results_repo.results_by_ids(
        pool, team_id=test.team_id, ids=[row.result_a_id, row.result_b_id]
    )
    result_a, result_b = results[row.result_a_id], results[row.result_b_id]
    first, second = (result_a, result_b) if row.a_first else (result_b, result_a)
    build = partial(
        blocks.blind_pair,
        message_id=row.id,
        position=row.position,
        total=total,
        question=row.message,
        reply_1=first.answer,
        reply_2=second.answer,
    )
    try:
        return await post_pair(
            client, test=test, parent_ts=test.parent_ts, build=build, metadata=pair_mark(row.id)
        )
    except SlackApiError as exc:
        if slack_error(exc) == RATE_LIMITED:
            raise  # not taken: the job is retried (bot.jobs.post_fence.retry_when_rate_limited)
        reason = f"could not be posted (Slack said `{slack_error(exc)}`)"
        log.warning("A/B test %d: %s", test.id, reason)
        await jobs_repo.fail_pair(pool, team_id=test.team_id, message_id=row.id, reason=reason)
        await post_failure_note(client, test=test, row=row, total=total, reason=reason)
        return None


async def post_failure_note(
    client: AsyncWebClient, *, test: AbTest, row: AbMessage, total: int, reason: str
) -> None:
    """Say in the thread why a pair takes no votes; best effort, since something already went
    wrong (the pair's failure is stored and counted on the parent whatever Slack says)."""
    assert test.parent_ts is not None
    text, note = blocks.failed_pair(
        position=row.position, total=total, question=row.message, reason=reason
    )
    try:
        await post_message(
            client,
            channel=test.channel_id,
            thread_ts=test.parent_ts,
            text=text,
            blocks=note,
            username=blocks.NEUTRAL_NAME,
            icon_emoji=blocks.NEUTRAL_ICON,
            metadata=pair_mark(row.id),
        )
    except SlackApiError as exc:
        log.warning("could not post a failed A/B pair: %s", slack_error(exc))
