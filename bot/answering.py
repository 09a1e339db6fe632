"""Answering in a thread: prompt from the profile version, streamed answer, stored result,
metrics footer, then the judge's analysis as an update. Used by `/bot test` and follow-ups."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Final

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.batch_answer import store_analysis
from bot.blocks.answer import footer
from bot.conversation import Turn, build_messages
from bot.domain.knowledge import KnowledgeItem
from bot.domain.profile import ProfileVersion
from bot.domain.results import FeedbackTally, TestResult
from bot.judge import EMPTY_ANSWER, analyse
from bot.knowledge import for_prompt, knowledge_query
from bot.llm import LLM, LLMError, LLMErrorKind
from bot.personality import build_system_prompt, sampling_for
from bot.proxies import measure
from bot.settings import CoreSettings
from bot.streaming import AnswerStream
from storage import results as results_repo
from storage.results import NewResult

log = logging.getLogger(__name__)

INTERNAL_KIND: Final = "internal"
INTERNAL_FAILURE: Final = "I couldn't answer because of an error on our side. Please try again."
INTERNAL_FAILURE_PARTIAL: Final = (
    "The answer stopped because of an error on our side; what arrived is kept above. "
    "Please try again."
)


@dataclass(frozen=True, slots=True)
class Answering:
    """What answering in a thread needs: the pool, the model client (None or unconfigured: the
    thread is told so) and the prompt's budgets."""

    pool: asyncpg.Pool
    llm: LLM | None
    context_budget_tokens: int
    knowledge_budget_tokens: int

    @classmethod
    def of(cls, pool: asyncpg.Pool, llm: LLM | None, settings: CoreSettings) -> Answering:
        return cls(pool, llm, settings.context_budget_tokens, settings.knowledge_budget_tokens)


@dataclass(frozen=True, slots=True)
class AnswerJob:
    team_id: str
    channel_id: str
    thread_ts: str
    user_id: str
    kind: str  # "test" or "followup"
    version: ProfileVersion
    turns: Sequence[Turn]  # the conversation so far, ending with the question to answer

    @property
    def question(self) -> str:
        return self.turns[-1].content


async def post_notice(client: AsyncWebClient, *, channel: str, thread_ts: str, text: str) -> None:
    try:
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
    except SlackApiError:
        log.exception("could not post a notice in the thread")


@dataclass
class _Progress:
    """How far an answer got, so that a failure anywhere ends it properly."""

    received: list[str] = field(default_factory=list)  # the model's text so far
    base: NewResult | None = None
    finished: bool = False  # the streamed message was closed
    stored: bool = False  # its result row exists


async def answer(ctx: Answering, client: AsyncWebClient, job: AnswerJob) -> TestResult | None:
    """Answer in the thread and store the result. Every failure ends in a message in the thread:
    one the model's client reports (a rate limit, a broken or malformed stream) as well as any
    other, which ends the answer like a broken stream (text so far kept and marked interrupted,
    the message closed, the result stored, the thread told)."""
    fields = job.version.fields
    stream = AnswerStream(
        client,
        channel=job.channel_id,
        thread_ts=job.thread_ts,
        team_id=job.team_id,
        user_id=job.user_id,
        username=fields.bot_name,
        icon_emoji=fields.avatar_emoji,
    )
    progress = _Progress()
    try:
        return await _answer(ctx, client, job, stream, progress)
    except Exception:
        log.exception("answering in a thread failed")
        await _end_after_failure(ctx, client, job, stream, progress)
        return None


async def _answer(
    ctx: Answering,
    client: AsyncWebClient,
    job: AnswerJob,
    stream: AnswerStream,
    progress: _Progress,
) -> TestResult | None:
    llm = ctx.llm
    fields = job.version.fields
    sampling = sampling_for(fields)
    knowledge = await for_prompt(
        ctx.pool,
        team_id=job.team_id,
        version_id=job.version.id,
        query=knowledge_query(job.turns),
        budget_tokens=ctx.knowledge_budget_tokens,
    )
    built = build_messages(
        system_prompt=build_system_prompt(fields, knowledge),
        turns=job.turns,
        context_budget_tokens=ctx.context_budget_tokens,
        reserve_for_answer=sampling.max_tokens,
    )
    base = NewResult(
        team_id=job.team_id,
        profile_version_id=job.version.id,
        kind=job.kind,
        user_id=job.user_id,
        question=job.question,
        answer="",
        channel_id=job.channel_id,
        thread_ts=job.thread_ts,
        dropped_turns=built.dropped_turns,
        knowledge_given=[i.ref for i in knowledge],
    )
    progress.base = base
    if llm is None or not llm.configured:
        err = LLMError(LLMErrorKind.NOT_CONFIGURED)
        await post_notice(
            client, channel=job.channel_id, thread_ts=job.thread_ts, text=f":warning: {err.message}"
        )
        progress.finished = True
        await results_repo.insert_result(
            ctx.pool, replace(base, error_kind=err.kind.value, error=err.message)
        )
        progress.stored = True
        return None

    async def on_text(delta: str) -> None:
        progress.received.append(delta)
        await stream.append(delta)

    try:
        completion = await llm.stream_answer(
            messages=built.messages, sampling=sampling, model=fields.model, on_text=on_text
        )
    except LLMError as err:
        progress.finished = True
        await stream.finish(interrupted=stream.ts is not None)
        await post_notice(
            client, channel=job.channel_id, thread_ts=job.thread_ts, text=f":warning: {err.message}"
        )
        await results_repo.insert_result(
            ctx.pool, replace(base, error_kind=err.kind.value, error=err.message)
        )
        progress.stored = True
        return None

    progress.finished = True
    message_ts = await stream.finish(interrupted=completion.interrupted)
    error = completion.error
    if completion.interrupted and error is not None:
        # the thread is told before the result is stored: once the row exists, the person knows
        await post_notice(
            client,
            channel=job.channel_id,
            thread_ts=job.thread_ts,
            text=f":warning: The answer was cut off: {error.message}",
        )
    result = await results_repo.insert_result(
        ctx.pool,
        replace(
            base,
            answer=completion.text,
            message_ts=message_ts,
            model=completion.model,
            total_ms=completion.total_ms,
            ttft_ms=completion.ttft_ms,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            confidence=completion.confidence,
            proxies=measure(completion.text, cut=completion.cut_off).stored(),
            interrupted=completion.interrupted,
            error_kind=error.kind.value if error else None,
            error=error.message if error else None,
            finish_reason=completion.finish_reason,
            token_limit=completion.token_limit,
        ),
    )
    progress.stored = True
    if not completion.text.strip():
        result = await store_analysis(ctx.pool, result, EMPTY_ANSWER)
    footer_ts = await _post_footer(client, job, result)
    if not completion.text.strip():
        return result
    return await _analyse_and_update(ctx, client, job, result, footer_ts, knowledge)


async def _end_after_failure(
    ctx: Answering,
    client: AsyncWebClient,
    job: AnswerJob,
    stream: AnswerStream,
    progress: _Progress,
) -> None:
    """Whatever broke, each remaining step is tried on its own: one failing (Slack or the
    database may be what broke) does not stop the others."""
    if progress.stored:
        return  # the answer is complete and stored; what failed was the analysis afterwards
    text = "".join(progress.received)
    if not progress.finished:
        try:
            await stream.finish(interrupted=stream.ts is not None or bool(text))
        except Exception:
            log.exception("could not close the interrupted answer")
    await post_notice(
        client,
        channel=job.channel_id,
        thread_ts=job.thread_ts,
        text=f":warning: {INTERNAL_FAILURE_PARTIAL if text else INTERNAL_FAILURE}",
    )
    base = progress.base or NewResult(
        team_id=job.team_id,
        profile_version_id=job.version.id,
        kind=job.kind,
        user_id=job.user_id,
        question=job.question,
        answer="",
        channel_id=job.channel_id,
        thread_ts=job.thread_ts,
    )
    try:
        await results_repo.insert_result(
            ctx.pool,
            replace(
                base,
                answer=text,
                message_ts=stream.ts,
                interrupted=bool(text),
                error_kind=INTERNAL_KIND,
                error=INTERNAL_FAILURE_PARTIAL if text else INTERNAL_FAILURE,
            ),
        )
    except Exception:
        log.exception("could not store the interrupted answer")


async def _post_footer(client: AsyncWebClient, job: AnswerJob, result: TestResult) -> str | None:
    text, blocks = footer(result, FeedbackTally(0, 0))
    try:
        response = await client.chat_postMessage(
            channel=job.channel_id, thread_ts=job.thread_ts, text=text, blocks=blocks
        )
        return str(response["ts"])
    except SlackApiError:
        log.exception("could not post the metrics footer")
        return None


async def _analyse_and_update(
    ctx: Answering,
    client: AsyncWebClient,
    job: AnswerJob,
    result: TestResult,
    footer_ts: str | None,
    knowledge: Sequence[KnowledgeItem],
) -> TestResult:
    assert ctx.llm is not None
    outcome = await analyse(
        ctx.llm,
        fields=job.version.fields,
        question=job.question,
        answer=result.answer,
        knowledge=knowledge,
    )
    updated = await store_analysis(ctx.pool, result, outcome)
    if footer_ts is not None:
        await refresh_footer(ctx.pool, client, updated, channel=job.channel_id, ts=footer_ts)
    return updated


async def refresh_footer(
    pool: asyncpg.Pool, client: AsyncWebClient, result: TestResult, *, channel: str, ts: str
) -> None:
    tally = await results_repo.feedback_tally(pool, team_id=result.team_id, result_id=result.id)
    text, blocks = footer(result, tally)
    try:
        await client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
    except SlackApiError:
        log.exception("could not update the metrics footer")
