"""One answer produced without Slack streaming (scenarios, A/B tests): the model's answer, its
style proxies, then the trait analysis and any behaviour verdicts, all stored on one result row."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

import asyncpg

from bot import behaviours as behaviour_judge
from bot.conversation import Turn, build_messages
from bot.domain.analysis import Analysis
from bot.domain.profile import ProfileVersion
from bot.domain.results import TestResult
from bot.judge import EMPTY_ANSWER, AnalysisUnavailable, analyse
from bot.judge_call import JudgeOutcome
from bot.knowledge import for_prompt
from bot.llm import LLM, LLMError
from bot.personality import build_system_prompt, sampling_for
from bot.proxies import measure
from bot.settings import CoreSettings
from storage import results as results_repo
from storage.results import NewResult


@dataclass(frozen=True, slots=True)
class RunContext:
    pool: asyncpg.Pool
    llm: LLM
    context_budget_tokens: int
    knowledge_budget_tokens: int = 2000

    @classmethod
    def of(cls, pool: asyncpg.Pool, llm: LLM, settings: CoreSettings) -> RunContext:
        """The one way the app builds it: the budgets come from the settings."""
        return cls(pool, llm, settings.context_budget_tokens, settings.knowledge_budget_tokens)


async def _ignore(_: str) -> None:
    return None


async def answer_and_judge(
    ctx: RunContext,
    *,
    version: ProfileVersion,
    base: NewResult,
    behaviours: tuple[str, ...] = (),
) -> TestResult:
    """`base` carries the row's identity (team, kind, question, links); the rest is measured."""
    fields = version.fields
    sampling = sampling_for(fields)
    knowledge = await for_prompt(
        ctx.pool,
        team_id=base.team_id,
        version_id=version.id,
        query=base.question,
        budget_tokens=ctx.knowledge_budget_tokens,
    )
    base = replace(base, knowledge_given=[i.ref for i in knowledge])
    built = build_messages(
        system_prompt=build_system_prompt(fields, knowledge),
        turns=[Turn(role="user", content=base.question)],
        context_budget_tokens=ctx.context_budget_tokens,
        reserve_for_answer=sampling.max_tokens,
    )
    try:
        completion = await ctx.llm.stream_answer(
            messages=built.messages, sampling=sampling, model=fields.model, on_text=_ignore
        )
    except LLMError as err:
        return await results_repo.insert_result(
            ctx.pool, replace(base, error_kind=err.kind.value, error=err.message)
        )
    error = completion.error
    changes: dict[str, Any] = {
        "answer": completion.text,
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
    judging = behaviour_judge.judge(
        ctx.llm,
        question=base.question,
        answer=completion.text,
        behaviours=behaviours,
        knowledge=knowledge,
        cut_off=completion.cut_off,
        interrupted=completion.interrupted,
        token_limit=completion.token_limit,
    )
    if not completion.text.strip():
        # nothing to analyse; expected behaviours are still recorded, as not judged
        judged = await judging
        result = await store_analysis(ctx.pool, result, EMPTY_ANSWER)
    else:
        analysis, judged = await asyncio.gather(
            analyse(
                ctx.llm,
                fields=fields,
                question=base.question,
                answer=completion.text,
                knowledge=knowledge,
                # scenario and A/B answers show alignment only, never reasons or suggestions
                detail=False,
            ),
            judging,
        )
        result = await store_analysis(ctx.pool, result, analysis)
    if behaviours:
        result = await results_repo.set_behaviours(
            ctx.pool,
            team_id=base.team_id,
            result_id=result.id,
            verdicts=[v.to_json() for v in judged.verdicts],
            outcome=judged.outcome,
        )
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
