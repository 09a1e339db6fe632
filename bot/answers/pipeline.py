"""One answer produced without Slack streaming (scenarios, A/B tests): the model's answer, its
style proxies, then the trait analysis and any behaviour verdicts, all stored on one result row."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

import asyncpg

from bot.domain.analysis import Analysis
from bot.domain.knowledge import KnowledgeItem
from bot.domain.profile import ProfileVersion
from bot.domain.results import TestResult
from bot.metrics.proxies import measure
from bot.model import behaviour_judge
from bot.model.behaviour_judge import Judged
from bot.model.judge_call import JudgeOutcome
from bot.model.llm import LLM, Completion, LLMError, LLMErrorKind
from bot.model.trait_judge import EMPTY_ANSWER, AnalysisUnavailable, analyse
from bot.persona.conversation import Turn, build_messages
from bot.persona.knowledge import for_prompt, knowledge_query
from bot.persona.personality import build_system_prompt, sampling_for
from bot.slack.stream_budget import StreamBudget
from storage import results as results_repo
from storage.results import NewResult


class Budgets(Protocol):
    """The settings a RunContext takes its budgets from (the app's settings have them)."""

    @property
    def context_budget_tokens(self) -> int: ...
    @property
    def knowledge_budget_tokens(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RunContext:
    """What answering needs: the pool, the model client (None or unconfigured: the answer
    says so and is stored as failed) and the prompt's budgets. Built by `of`, from settings."""

    pool: asyncpg.Pool
    llm: LLM | None
    context_budget_tokens: int
    knowledge_budget_tokens: int = 2000
    # an interactive answer's lease on the model endpoint's shared budget, by model name: it
    # never waits, and queued batch work yields to it (bot.jobs.budget)
    interactive_lease: Callable[[str], AbstractAsyncContextManager[object]] | None = None
    # the app's budget of streamed answers per workspace; None streams every answer
    streams: StreamBudget | None = None

    @classmethod
    def of(
        cls,
        pool: asyncpg.Pool,
        llm: LLM | None,
        settings: Budgets,
        *,
        streams: StreamBudget | None = None,
    ) -> RunContext:
        """The one way the app builds it: the budgets come from the settings."""
        return cls(
            pool,
            llm,
            settings.context_budget_tokens,
            settings.knowledge_budget_tokens,
            streams=streams,
        )


class Sink(Protocol):
    """Where an answer goes while the pipeline runs, one call per stage. A thread answer
    streams into Slack and gets its footer; a scenario or A/B answer goes nowhere until it is
    stored (`QUIET`)."""

    async def prepared(self, base: NewResult) -> None:
        """The row's identity and prompt facts, before the model is asked."""

    async def text(self, delta: str) -> None:
        """A piece of the answer as it arrives."""

    async def failed(self, error: LLMError) -> None:
        """The model gave no answer (not configured, refused, unreachable); before storing."""

    async def finished(self, completion: Completion) -> str | None:
        """The model is done; before storing. The answer's message ts, if it has one."""

    async def stored(self, result: TestResult) -> None:
        """The answer's row exists."""

    async def shown(self, result: TestResult) -> None:
        """The row as it first shows (an empty answer's already says why it has no analysis)."""

    async def judged(self, result: TestResult) -> None:
        """The judges' analysis is stored with the row."""


class _Quiet:
    async def prepared(self, base: NewResult) -> None:
        return None

    async def text(self, delta: str) -> None:
        return None

    async def failed(self, error: LLMError) -> None:
        return None

    async def finished(self, completion: Completion) -> str | None:
        return None

    async def stored(self, result: TestResult) -> None:
        return None

    async def shown(self, result: TestResult) -> None:
        return None

    async def judged(self, result: TestResult) -> None:
        return None


QUIET: Final[Sink] = _Quiet()


async def answer_and_judge(
    ctx: RunContext,
    *,
    version: ProfileVersion,
    base: NewResult,
    turns: Sequence[Turn] = (),
    behaviours: tuple[str, ...] = (),
    sink: Sink = QUIET,
    detail: bool = False,
    raise_kinds: frozenset[LLMErrorKind] = frozenset(),
) -> TestResult:
    """The one answer pipeline: prompt from the version, model, measure, store, judge.

    `base` carries the row's identity (team, kind, question, links); the rest is measured.
    `turns` is the conversation ending with the question (just the question by default);
    `sink` is where the answer goes as it is written; `detail` asks the trait judge for its
    reasons and suggestions (what Details shows), else levels only. A model error of a kind in
    `raise_kinds` is raised instead of stored (the caller retries: a rate-limited job)."""
    fields = version.fields
    sampling = sampling_for(fields)
    turns = turns or [Turn(role="user", content=base.question)]
    knowledge = await for_prompt(
        ctx.pool,
        team_id=base.team_id,
        version_id=version.id,
        query=knowledge_query(turns),
        budget_tokens=ctx.knowledge_budget_tokens,
    )
    built = build_messages(
        system_prompt=build_system_prompt(fields, knowledge),
        turns=turns,
        context_budget_tokens=ctx.context_budget_tokens,
        reserve_for_answer=sampling.max_tokens,
    )
    base = replace(
        base, dropped_turns=built.dropped_turns, knowledge_given=[i.ref for i in knowledge]
    )
    await sink.prepared(base)
    llm = ctx.llm
    try:
        if llm is None or not llm.configured:
            raise LLMError(LLMErrorKind.NOT_CONFIGURED)
        lease = (
            ctx.interactive_lease(fields.model or llm.default_model)
            if ctx.interactive_lease is not None
            else contextlib.nullcontext()
        )
        async with lease:
            completion = await llm.stream_answer(
                messages=built.messages, sampling=sampling, model=fields.model, on_text=sink.text
            )
    except LLMError as err:
        if err.kind in raise_kinds:
            raise
        await sink.failed(err)
        return await results_repo.insert_result(
            ctx.pool, replace(base, error_kind=err.kind.value, error=err.message)
        )
    message_ts = await sink.finished(completion)
    error = completion.error
    changes: dict[str, Any] = {
        "answer": completion.text,
        "message_ts": message_ts,
        "model": completion.model,
        "total_ms": completion.total_ms,
        "ttft_ms": completion.ttft_ms,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "confidence": completion.confidence,
        "proxies": measure(completion.text, cut=completion.cut_off).stored(),
        "interrupted": completion.interrupted,
        "error_kind": error.kind.value if error else None,
        "error": error.message if error else None,
        "finish_reason": completion.finish_reason,
        "token_limit": completion.token_limit,
    }
    result = await results_repo.insert_result(ctx.pool, replace(base, **changes))
    await sink.stored(result)
    assert llm is not None  # it answered
    return await judge_stored(
        ctx,
        llm,
        version=version,
        result=result,
        behaviours=behaviours,
        knowledge=knowledge,
        sink=sink,
        detail=detail,
    )


def needs_judging(result: TestResult, *, behaviours: tuple[str, ...]) -> bool:
    """A stored answer whose judges' verdicts are not all stored (its job died while judging).
    A message the model gave no answer for (an error before any text) is never judged."""
    if result.error_kind is not None and not result.interrupted:
        return False
    if result.analysis is None and result.analysis_error is None:
        return True
    return bool(behaviours) and result.behaviour_results is None


async def judge_again(
    ctx: RunContext, *, version: ProfileVersion, result: TestResult, behaviours: tuple[str, ...]
) -> TestResult:
    """Judge a stored answer whose judging did not finish: the same judges on the same row,
    so its verdicts are stored once (each judge's write replaces, never adds)."""
    llm = ctx.llm
    if llm is None or not llm.configured:
        return result
    knowledge = await for_prompt(
        ctx.pool,
        team_id=result.team_id,
        version_id=version.id,
        query=knowledge_query([Turn(role="user", content=result.question)]),
        budget_tokens=ctx.knowledge_budget_tokens,
    )
    return await judge_stored(
        ctx, llm, version=version, result=result, behaviours=behaviours, knowledge=knowledge
    )


async def judge_stored(
    ctx: RunContext,
    llm: LLM,
    *,
    version: ProfileVersion,
    result: TestResult,
    behaviours: tuple[str, ...],
    knowledge: Sequence[KnowledgeItem],
    sink: Sink = QUIET,
    detail: bool = False,
) -> TestResult:
    """The judges of a stored answer: the trait analysis and any expected behaviours."""
    answer = result.answer
    # expected behaviours (scenarios) are judged beside the traits; other answers have none
    judging = (
        behaviour_judge.judge(
            llm,
            question=result.question,
            answer=answer,
            behaviours=behaviours,
            knowledge=knowledge,
            cut_off=result.cut_off,
            interrupted=result.interrupted,
            token_limit=result.token_limit,
        )
        if behaviours
        else None
    )
    judged: Judged | None = None
    if not answer.strip():
        # nothing to analyse; expected behaviours are still recorded, as not judged
        if judging is not None:
            judged = await judging
        result = await store_analysis(ctx.pool, result, EMPTY_ANSWER)
        await sink.shown(result)
    else:
        await sink.shown(result)
        analysing = analyse(
            llm,
            fields=version.fields,
            question=result.question,
            answer=answer,
            knowledge=knowledge,
            detail=detail,
        )
        if judging is None:
            analysis = await analysing
        else:
            analysis, judged = await asyncio.gather(analysing, judging)
        result = await store_analysis(ctx.pool, result, analysis)
    if judged is not None:
        result = await results_repo.set_behaviours(
            ctx.pool,
            team_id=result.team_id,
            result_id=result.id,
            verdicts=[v.to_json() for v in judged.verdicts],
            outcome=judged.outcome,
        )
    if answer.strip():
        await sink.judged(result)
    return result


async def store_analysis(
    pool: asyncpg.Pool, result: TestResult, analysis: Analysis | AnalysisUnavailable
) -> TestResult:
    """The trait judge's analysis, or why there is none, with its outcome; for every answer."""
    if isinstance(analysis, Analysis):
        return await results_repo.set_analysis(
            pool,
            team_id=result.team_id,
            result_id=result.id,
            analysis=analysis.to_json(),
            alignment=analysis.alignment,
            analysis_error=None,
            knowledge_used=list(analysis.knowledge_used),
            outcome=JudgeOutcome.OK,
        )
    return await results_repo.set_analysis(
        pool,
        team_id=result.team_id,
        result_id=result.id,
        analysis=None,
        alignment=None,
        analysis_error=analysis.reason,
        outcome=analysis.outcome,
    )
