"""Running scenario messages against one profile version: concurrently, within a limit, each
answer analysed (traits and expected behaviours) as soon as it is ready. Shared by Slack and the
CLI; what to show while it runs is the caller's `on_result` callback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, TypeVar

import asyncpg

from bot.answers.pipeline import RunContext, answer_and_judge
from bot.domain.profile import ProfileVersion
from bot.domain.results import TestResult
from bot.domain.scenarios import Scenario, ScenarioRun
from bot.scenarios.figures import overall, per_scenario
from storage import results as results_repo
from storage import scenarios as scenarios_repo
from storage.results import NewResult
from storage.scenarios import RunTakenOver

T = TypeVar("T")

log = logging.getLogger(__name__)

HEARTBEAT_S: Final = 10.0
INTERNAL_ERROR: Final = "This message could not be run (internal error)."
DEFAULT_CONCURRENCY: Final = 4


@dataclass(frozen=True, slots=True)
class PlanItem:
    scenario_id: int
    scenario_name: str
    position: int
    message: str
    behaviours: tuple[str, ...]
    sample: int = 0


def _items(
    scenario_id: int, name: str, messages: Sequence[str], behaviours: tuple[str, ...], repeat: int
) -> list[PlanItem]:
    # Sample s of message i is stored at position s·n + i: one result per run item stays
    # unique (the index of migration 0011) and a resume finds what is missing unchanged.
    n = len(messages)
    return [
        PlanItem(scenario_id, name, sample * n + i, message, behaviours, sample)
        for sample in range(repeat)
        for i, message in enumerate(messages)
    ]


def plan_for(scenarios: Sequence[Scenario], *, repeat: int = 1) -> list[PlanItem]:
    return [
        item for s in scenarios for item in _items(s.id, s.name, s.messages, s.behaviours, repeat)
    ]


def model_calls(items: Sequence[PlanItem]) -> int:
    """What a run will cost, said before it runs: each answer, its trait judge and, where the
    scenario expects behaviours, the behaviour judge."""
    return sum(2 + (1 if item.behaviours else 0) for item in items)


def plan_json(scenarios: Sequence[Scenario], *, repeat: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "scenario_id": s.id,
            "name": s.name,
            "messages": list(s.messages),
            "behaviours": list(s.behaviours),
            "repeat": repeat,
        }
        for s in scenarios
    ]


def plan_from_json(plan: Sequence[dict[str, Any]]) -> list[PlanItem]:
    """The items a stored run planned, even if its scenarios were edited or deleted since."""
    return [
        item
        for p in plan
        for item in _items(
            int(p["scenario_id"]),
            str(p["name"]),
            [str(m) for m in p["messages"]],
            tuple(str(b) for b in p["behaviours"]),
            int(p.get("repeat", 1)),
        )
    ]


OnResult = Callable[[PlanItem, TestResult, int, int], Awaitable[None]]


def base_result(run: ScenarioRun, version: ProfileVersion, item: PlanItem) -> NewResult:
    return NewResult(
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
        run_attempt=run.attempt,
    )


async def _persistently(write: Callable[[], Awaitable[None]]) -> None:
    """A few tries: right after a database restart the pool's first connections are dead ones,
    and a run's end must not be lost to one of them."""
    for attempt in range(3):
        try:
            await write()
            return
        except RunTakenOver:
            raise
        except Exception:  # any driver state after a restart: broken pipe, reset, bad state
            if attempt == 2:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))


async def _mark_interrupted(pool: asyncpg.Pool, run: ScenarioRun) -> None:
    try:
        await _persistently(
            lambda: scenarios_repo.mark_interrupted(
                pool, team_id=run.team_id, run_id=run.id, attempt=run.attempt
            )
        )
    except Exception:
        log.warning("scenario run %d: could not mark it interrupted; the sweeper will", run.id)


async def _keep_alive(pool: asyncpg.Pool, run: ScenarioRun) -> None:
    """Beats until cancelled; ends with RunTakenOver when a resume took the run over."""
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        try:
            await scenarios_repo.heartbeat(
                pool, team_id=run.team_id, run_id=run.id, attempt=run.attempt
            )
        except RunTakenOver:
            raise
        except Exception:
            log.warning("scenario run %d: heartbeat failed", run.id)


async def _until_first_failure(
    work: Sequence[asyncio.Task[T]], watch: asyncio.Task[None]
) -> list[T]:
    """Every task's result; on the first failure (or when `watch` ends with one) the others are
    cancelled, so no message goes on being answered for a run that stopped."""
    pending: set[asyncio.Task[Any]] = {*work, watch}
    try:
        while True:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = None if task.cancelled() else task.exception()
                if failure is not None:
                    raise failure
            if all(t.done() for t in work):
                return [t.result() for t in work]
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def execute(
    ctx: RunContext,
    *,
    run: ScenarioRun,
    version: ProfileVersion,
    items: Sequence[PlanItem],
    on_result: OnResult | None = None,
) -> list[TestResult]:
    """Run every item; one failing item is stored as failed and the others go on. Raises
    RunTakenOver, having stopped every item, when a resume took the run over meanwhile."""
    limit = asyncio.Semaphore(run.concurrency)
    done = 0

    async def one(item: PlanItem) -> TestResult:
        nonlocal done
        async with limit:
            base = base_result(run, version, item)
            try:
                result = await answer_and_judge(
                    ctx, version=version, base=base, behaviours=item.behaviours
                )
            except RunTakenOver:
                raise
            except Exception:
                log.exception("scenario run %d: message %r failed", run.id, item.message[:60])
                result = await results_repo.insert_result(
                    ctx.pool, replace(base, error_kind="internal", error=INTERNAL_ERROR)
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
        results = await _until_first_failure([asyncio.create_task(one(i)) for i in items], beat)
    except RunTakenOver:
        log.info("scenario run %d was resumed elsewhere; this attempt stops", run.id)
        raise
    except asyncio.CancelledError:
        # shutting down mid-run: say so now rather than waiting for the sweeper
        await asyncio.shield(_mark_interrupted(ctx.pool, run))
        raise
    except Exception:
        # e.g. the database went away mid-run: the run must not stay "running" forever
        log.exception("scenario run %d stopped", run.id)
        await _mark_interrupted(ctx.pool, run)
        raise
    totals = {
        "overall": overall(results).to_json(),
        "scenarios": {str(sid): f.to_json() for sid, f in per_scenario(results)},
    }
    try:
        await _persistently(
            lambda: scenarios_repo.finish_run(
                ctx.pool, team_id=run.team_id, run_id=run.id, totals=totals, attempt=run.attempt
            )
        )
    except RunTakenOver:
        raise
    except Exception:
        log.exception("scenario run %d: could not record its end", run.id)
        await _mark_interrupted(ctx.pool, run)
        raise
    return results
