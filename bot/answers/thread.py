"""Answering in a thread: prompt from the profile version, streamed answer, stored result,
metrics footer, then the judge's analysis as an update. Used by `/bot test` and follow-ups."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.answers.pipeline import RunContext, answer_and_judge
from bot.answers.streaming import AnswerStream
from bot.blocks.answer import footer
from bot.blocks.common import Block
from bot.domain.profile import ProfileVersion
from bot.domain.results import FeedbackTally, TestResult
from bot.messages import DM_WRITING_STATUS
from bot.model.llm import Completion, LLMError, LLMErrorKind
from bot.persona.conversation import Turn
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
class AnswerJob:
    team_id: str
    channel_id: str
    thread_ts: str
    user_id: str
    kind: str  # "test" or "followup"
    version: ProfileVersion
    turns: Sequence[Turn]  # the conversation so far, ending with the question to answer
    # a DM (Slack's agent view): "is writing…" shows in the thread once the writing starts
    writing_status: bool = False

    @property
    def question(self) -> str:
        return self.turns[-1].content


class AnswerQueue(Protocol):
    """Where an answer goes to be written by a worker instead of by the caller
    (bot.jobs.interactive): the app that acked only queues it."""

    async def put(self, client: AsyncWebClient, job: AnswerJob) -> None: ...


async def post_notice(
    client: AsyncWebClient,
    *,
    channel: str,
    thread_ts: str,
    text: str,
    blocks: list[dict[str, object]] | None = None,
) -> None:
    try:
        await client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=text, blocks=blocks
        )
    except SlackApiError:
        log.exception("could not post a notice in the thread")


@dataclass
class _Progress:
    """How far an answer got, so that a failure anywhere ends it properly."""

    received: list[str] = field(default_factory=list)  # the model's text so far
    base: NewResult | None = None
    finished: bool = False  # the streamed message was closed
    stored: bool = False  # its result row exists


class _ThreadSink:
    """The pipeline's answer going into a Slack thread: streamed as it is written, closed, the
    metrics footer under it, the footer updated once judged. It keeps how far the answer got
    (`progress`), so that a failure anywhere ends it properly."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        client: AsyncWebClient,
        job: AnswerJob,
        stream: AnswerStream,
        progress: _Progress,
    ) -> None:
        self._pool = pool
        self._client = client
        self._job = job
        self._stream = stream
        self._progress = progress
        self._footer_ts: str | None = None

    async def _notice(self, text: str) -> None:
        await post_notice(
            self._client, channel=self._job.channel_id, thread_ts=self._job.thread_ts, text=text
        )

    async def prepared(self, base: NewResult) -> None:
        self._progress.base = base

    async def text(self, delta: str) -> None:
        self._progress.received.append(delta)
        await self._stream.append(delta)

    async def failed(self, error: LLMError) -> None:
        if error.kind is not LLMErrorKind.NOT_CONFIGURED:
            # not configured: nothing was asked, so there is no streamed message to close
            self._progress.finished = True
            await self._stream.finish(interrupted=self._stream.ts is not None)
        await self._notice(f":warning: {error.message}")
        self._progress.finished = True

    async def finished(self, completion: Completion) -> str | None:
        self._progress.finished = True
        message_ts = await self._stream.finish(interrupted=completion.interrupted)
        error = completion.error
        if completion.interrupted and error is not None:
            # the thread is told before the result is stored: once the row exists, the person knows
            await self._notice(f":warning: The answer was cut off: {error.message}")
        return message_ts

    async def stored(self, result: TestResult) -> None:
        self._progress.stored = True

    async def shown(self, result: TestResult) -> None:
        self._footer_ts = await _post_footer(self._client, self._job, result)

    async def judged(self, result: TestResult) -> None:
        if self._footer_ts is not None:
            await refresh_footer(
                self._pool,
                self._client,
                result,
                channel=self._job.channel_id,
                ts=self._footer_ts,
            )


async def answer(ctx: RunContext, client: AsyncWebClient, job: AnswerJob) -> TestResult | None:
    """Answer in the thread and store the result. Every failure ends in a message in the thread:
    one the model's client reports (a rate limit, a broken or malformed stream) as well as any
    other, which ends the answer like a broken stream (text so far kept and marked interrupted,
    the message closed, the result stored, the thread told)."""
    if job.writing_status:
        await _show_writing(client, job)
    fields = job.version.fields
    stream = AnswerStream(
        client,
        channel=job.channel_id,
        thread_ts=job.thread_ts,
        team_id=job.team_id,
        user_id=job.user_id,
        username=fields.bot_name,
        icon_emoji=fields.avatar_emoji,
        budget=ctx.streams,
    )
    progress = _Progress()
    try:
        return await answer_and_judge(
            ctx,
            version=job.version,
            base=_base(job),
            turns=job.turns,
            sink=_ThreadSink(ctx.pool, client, job, stream, progress),
            detail=True,
        )
    except Exception:
        log.exception("answering in a thread failed")
        await _end_after_failure(ctx, client, job, stream, progress)
        return None


async def _show_writing(client: AsyncWebClient, job: AnswerJob) -> None:
    """The DM's status, which Slack clears when the answer is posted. It decorates the
    conversation: a refusal (a workspace without the agent methods) is logged, not shown."""
    try:
        await client.assistant_threads_setStatus(
            channel_id=job.channel_id, thread_ts=job.thread_ts, status=DM_WRITING_STATUS
        )
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        log.info("Slack refused the writing status (%s)", code)


def _base(job: AnswerJob) -> NewResult:
    return NewResult(
        team_id=job.team_id,
        profile_version_id=job.version.id,
        kind=job.kind,
        user_id=job.user_id,
        question=job.question,
        answer="",
        channel_id=job.channel_id,
        thread_ts=job.thread_ts,
    )


async def _end_after_failure(
    ctx: RunContext,
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
    base = progress.base or _base(job)
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


# what Slack answers blocks it does not take: a workspace (or client) without the
# feedback_buttons element gets today's three buttons instead
_REFUSED_BLOCKS: Final = "invalid_blocks"


async def _with_fallback(
    send: Callable[[str, list[Block]], Awaitable[AsyncSlackResponse]],
    result: TestResult,
    tally: FeedbackTally,
) -> AsyncSlackResponse:
    """Send the footer with Slack's native feedback buttons, or today's buttons when refused."""
    text, blocks = footer(result, tally, native=True)
    try:
        return await send(text, blocks)
    except SlackApiError as exc:
        if exc.response is None or exc.response.get("error") != _REFUSED_BLOCKS:
            raise
        log.info("native feedback buttons refused; using plain buttons")
    text, blocks = footer(result, tally, native=False)
    return await send(text, blocks)


async def _post_footer(client: AsyncWebClient, job: AnswerJob, result: TestResult) -> str | None:
    async def post(text: str, blocks: list[Block]) -> AsyncSlackResponse:
        return await client.chat_postMessage(
            channel=job.channel_id, thread_ts=job.thread_ts, text=text, blocks=blocks
        )

    try:
        response = await _with_fallback(post, result, FeedbackTally(0, 0))
        return str(response["ts"])
    except SlackApiError:
        log.exception("could not post the metrics footer")
        return None


async def refresh_footer(
    pool: asyncpg.Pool, client: AsyncWebClient, result: TestResult, *, channel: str, ts: str
) -> None:
    tally = await results_repo.feedback_tally(pool, team_id=result.team_id, result_id=result.id)

    async def update(text: str, blocks: list[Block]) -> AsyncSlackResponse:
        return await client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)

    try:
        await _with_fallback(update, result, tally)
    except SlackApiError:
        log.exception("could not update the metrics footer")
