"""Running scenario messages against one profile version: concurrently, within a limit, each
answer analysed (traits and expected behaviours) as soon as it is ready. Shared by Slack and the
CLI; what to show while it runs is the caller's `on_result` callback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import asyncpg

from bot import behaviours as behaviour_judge
from bot.conversation import Turn, build_messages
from bot.judge import Analysis, analyse
from bot.llm import LLM, LLMError, LLMErrorKind
from bot.personality import build_system_prompt, sampling_for
from bot.proxies import measure
from bot.scenario_summary import overall, per_scenario
from storage import results as results_repo
from storage import scenarios as scenarios_repo
from storage.models import ProfileVersion, Scenario, ScenarioRun, TestResult
from storage.results import NewResult

log = logging.getLogger(__name__)

HEARTBEAT_S: Final = 10.0
DEFAULT_CONCURRENCY: Final = 4


@dataclass(frozen=True, slots=True)
class PlanItem:
    scenario_id: int
    scenario_name: str
    position: int
    message: str
    behaviours: tuple[str, ...]


def plan_for(scenarios: Sequence[Scenario]) -> list[PlanItem]:
    return [
        PlanItem(s.id, s.name, i, message, s.behaviours)
        for s in scenarios
        for i, message in enumerate(s.messages)
    ]


def plan_json(scenarios: Sequence[Scenario]) -> list[dict[str, Any]]:
    return [
        {
            "scenario_id": s.id,
            "name": s.name,
            "messages": list(s.messages),
            "behaviours": list(s.behaviours),
        }
        for s in scenarios
    ]


OnResult = Callable[[PlanItem, TestResult, int, int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RunContext:
    pool: asyncpg.Pool
    llm: LLM
    context_budget_tokens: int


async def _answer_item(
    ctx: RunContext, *, run: ScenarioRun, version: ProfileVersion, item: PlanItem
) -> TestResult:
    fields = version.fields
    sampling = sampling_for(fields)
    built = build_messages(
        system_prompt=build_system_prompt(fields),
        turns=[Turn(role="user", content=item.message)],
        context_budget_tokens=ctx.context_budget_tokens,
        reserve_for_answer=sampling.max_tokens,
    )
    base = NewResult(
        team_id=run.team_id,
        profile_version_id=version.id,
        kind="scenario",
        user_id=run.started_by,
        question=item.message,
        answer="",
        run_id=run.id,
        scenario_id=item.scenario_id,
        scenario_name=item.scenario_name,
        position=item.position,
    )

    async def ignore(_: str) -> None:
        return None

    try:
        completion = await ctx.llm.stream_answer(
            messages=built.messages, sampling=sampling, model=fields.model, on_text=ignore
        )
    except LLMError as err:
        return await results_repo.insert_result(
            ctx.pool, _with(base, error_kind=err.kind.value, error=err.message)
        )
    error = completion.error
    result = await results_repo.insert_result(
        ctx.pool,
        _with(
            base,
            answer=completion.text,
            model=completion.model,
            total_ms=completion.total_ms,
            ttft_ms=completion.ttft_ms,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            confidence=completion.confidence,
            proxies={k: float(v) for k, v in measure(completion.text).as_dict().items()},
            interrupted=completion.interrupted,
            error_kind=error.kind.value if error else None,
            error=error.message if error else None,
        ),
    )
    if not completion.text.strip():
        return result
    analysis, verdicts = await asyncio.gather(
        analyse(ctx.llm, fields=fields, question=item.message, answer=completion.text),
        behaviour_judge.judge(
            ctx.llm, question=item.message, answer=completion.text, behaviours=item.behaviours
        ),
    )
    if isinstance(analysis, Analysis):
        result = await results_repo.set_analysis(
            ctx.pool,
            team_id=run.team_id,
            result_id=result.id,
            analysis=analysis.to_json(),
            alignment=analysis.alignment,
            analysis_error=None,
        )
    else:
        result = await results_repo.set_analysis(
            ctx.pool,
            team_id=run.team_id,
            result_id=result.id,
            analysis=None,
            alignment=None,
            analysis_error=analysis.reason,
        )
    return await results_repo.set_behaviours(
        ctx.pool,
        team_id=run.team_id,
        result_id=result.id,
        verdicts=[v.to_json() for v in verdicts],
    )


def _with(base: NewResult, **changes: Any) -> NewResult:
    return replace(base, **changes)


async def _keep_alive(pool: asyncpg.Pool, run: ScenarioRun) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        try:
            await scenarios_repo.heartbeat(pool, team_id=run.team_id, run_id=run.id)
        except Exception:
            log.warning("scenario run %d: heartbeat failed", run.id)


async def execute(
    ctx: RunContext,
    *,
    run: ScenarioRun,
    version: ProfileVersion,
    items: Sequence[PlanItem],
    on_result: OnResult | None = None,
) -> list[TestResult]:
    """Run every item; one failing item is stored as failed and the others go on."""
    limit = asyncio.Semaphore(run.concurrency)
    done = 0

    async def one(item: PlanItem) -> TestResult:
        nonlocal done
        async with limit:
            try:
                result = await _answer_item(ctx, run=run, version=version, item=item)
            except Exception:
                log.exception("scenario run %d: message %r failed", run.id, item.message[:60])
                err = LLMError(
                    LLMErrorKind.SERVER, "This message could not be run (internal error)."
                )
                result = await results_repo.insert_result(
                    ctx.pool,
                    NewResult(
                        team_id=run.team_id,
                        profile_version_id=version.id,
                        kind="scenario",
                        user_id=run.started_by,
                        question=item.message,
                        answer="",
                        run_id=run.id,
                        scenario_id=item.scenario_id,
                        scenario_name=item.scenario_name,
                        position=item.position,
                        error_kind="internal",
                        error=err.message,
                    ),
                )
        done += 1
        if on_result is not None:
            try:
                await on_result(item, result, done, len(items))
            except Exception:
                log.exception("scenario run %d: reporting a result failed", run.id)
        return result

    beat = asyncio.create_task(_keep_alive(ctx.pool, run))
    try:
        results = list(await asyncio.gather(*(one(i) for i in items)))
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    totals = {
        "overall": overall(results).to_json(),
        "scenarios": {str(sid): f.to_json() for sid, f in per_scenario(results)},
    }
    await scenarios_repo.finish_run(ctx.pool, team_id=run.team_id, run_id=run.id, totals=totals)
    return results
