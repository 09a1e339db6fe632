"""Follow-ups: a person's reply in a test thread is answered with the same profile version, the
whole thread as the conversation. Each message is answered once, however often Slack delivers
it (as a message and as a mention)."""

from __future__ import annotations

import logging
import re
from typing import Any, Final

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.answers import thread as answering
from bot.answers.pipeline import RunContext
from bot.domain.results import TestResult
from bot.messages import NUL_IN_TEXT
from bot.persona.conversation import Turn
from storage import profiles as repo
from storage import results as results_repo

log = logging.getLogger(__name__)

FOLLOW_UP_FAILED: Final = (
    "I couldn't answer that message because of an error on our side. Please send it again."
)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
THREAD_FETCH_LIMIT = 200


def strip_mentions(text: str) -> str:
    return _MENTION.sub("", text).strip()


def turns_from_thread(
    messages: list[dict[str, Any]], results: list[TestResult], *, thread_ts: str
) -> list[Turn]:
    """The conversation as the model should see it: our answers as the assistant, people as the
    user. Our footers and notices are bot messages that are not answers, so they are skipped."""
    answers = {r.message_ts: r for r in results if r.message_ts}
    turns: list[Turn] = []
    if results:
        turns.append(Turn(role="user", content=results[0].question))
    for message in messages:
        ts = message.get("ts")
        if ts == thread_ts:
            continue
        if ts in answers:
            turns.append(Turn(role="assistant", content=answers[ts].answer))
        elif not (message.get("bot_id") or message.get("subtype")):
            text = strip_mentions(str(message.get("text", "")))
            if text:
                turns.append(Turn(role="user", content=text))
    return turns


def turns_from_results(results: list[TestResult]) -> list[Turn]:
    turns: list[Turn] = []
    for r in results:
        turns.append(Turn(role="user", content=r.question))
        if r.answer:
            turns.append(Turn(role="assistant", content=r.answer))
    return turns


async def answer(
    ctx: RunContext,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel: str,
    thread_ts: str,
    ts: str,
    user_id: str,
    text: str,
    queue: answering.AnswerQueue | None = None,
    writing_status: bool = False,
) -> None:
    """Answer the person's message `text` (mentions already stripped) at `ts` in a thread,
    when the thread is one of our tests and nobody answered that message yet. With `queue`, a
    worker writes the answer (bot.jobs.interactive); without, it is written here.
    `writing_status`: the DM's "is writing…" shows once the writing starts."""
    pool = ctx.pool
    version_id = await results_repo.thread_version(
        pool, team_id=team_id, channel_id=channel, thread_ts=thread_ts
    )
    if version_id is None:
        return  # not one of our test threads
    if not text:
        return
    if not await results_repo.claim_message(pool, team_id=team_id, channel_id=channel, ts=ts):
        return  # already answered: a retry, or the same message as app_mention
    if "\x00" in text:
        await answering.post_notice(
            client, channel=channel, thread_ts=thread_ts, text=f":warning: {NUL_IN_TEXT}"
        )
        return
    # claimed: from here on this message is answered, or the thread is told why not
    try:
        job = await _follow_up_job(
            pool,
            client,
            team_id=team_id,
            channel=channel,
            thread_ts=thread_ts,
            version_id=version_id,
            user_id=user_id,
            text=text,
            writing_status=writing_status,
        )
    except Exception:
        log.exception("could not prepare a follow-up answer")
        await answering.post_notice(
            client, channel=channel, thread_ts=thread_ts, text=f":warning: {FOLLOW_UP_FAILED}"
        )
        return
    if queue is not None:
        await queue.put(client, job)
    else:
        await answering.answer(ctx, client, job)


async def point_to_test(
    pool: asyncpg.Pool, client: AsyncWebClient, *, team_id: str, channel: str, ts: str
) -> None:
    """A mention outside a test thread: say how to try the bot, once per message."""
    if not await results_repo.claim_message(pool, team_id=team_id, channel_id=channel, ts=ts):
        return
    await answering.post_notice(
        client,
        channel=channel,
        thread_ts=ts,
        text="Hi! Try your bot with `/bot test <message>`; `/bot help` lists everything I can do.",
    )


async def _follow_up_job(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel: str,
    thread_ts: str,
    version_id: int,
    user_id: str,
    text: str,
    writing_status: bool,
) -> answering.AnswerJob:
    version = await repo.get_version_by_id(pool, team_id=team_id, version_id=version_id)
    results = await results_repo.thread_results(
        pool, team_id=team_id, channel_id=channel, thread_ts=thread_ts
    )
    try:
        replies = await client.conversations_replies(
            channel=channel, ts=thread_ts, limit=THREAD_FETCH_LIMIT
        )
        turns = turns_from_thread(list(replies.get("messages") or []), results, thread_ts=thread_ts)
    except SlackApiError:
        log.warning("conversations.replies failed; rebuilding the thread from stored answers")
        turns = turns_from_results(results)
    if not turns or turns[-1].role != "user" or turns[-1].content != text:
        turns.append(Turn(role="user", content=text))
    return answering.AnswerJob(
        team_id=team_id,
        channel_id=channel,
        thread_ts=thread_ts,
        user_id=user_id,
        kind="followup",
        version=version,
        turns=turns,
        writing_status=writing_status,
    )
