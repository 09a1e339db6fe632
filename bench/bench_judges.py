"""A 9-message scenario run (the three seed scenarios) against a model that behaves as small local
models do: wall time and the share of expected behaviours judged, against the answers' own time.

    python -m bench.bench_judges [--ttft-ms 300] [--token-ms 20] [--timeout-s 60]
                                 [--concurrency 4] [--base-url URL --model NAME] [--json]

Two runs of the same nine messages at the same concurrency, through the engine
(bot.scenarios.engine) with a real PostgreSQL (embedded unless TEST_DATABASE_URL is set):
- answers alone: each message answered exactly as a run answers it (profile prompt, knowledge,
  streamed), without judging. Its wall time is the answers' own time.
- the run: answered and judged (traits and behaviours), as `/bot scenario run all` does.
Goal: every expected behaviour judged, and the run within 1.5× the answers' own time.

Without --base-url the model is the fake server from tests/, set up as a small model: answers
write until their style's token limit, and the judge writes for as long as its request allows
(an array without maxItems grows until the output limit, or for 4,096 tokens when there is
none). Every token costs --token-ms, answers and judges alike, after --ttft-ms of prompt
processing. With --base-url the run goes to that OpenAI-compatible server (for instance
llama-server with a small GGUF) as the app would send it, model --model.

The client is built as the app builds it: OPENAI_TIMEOUT = --timeout-s, OPENAI_MAX_RETRIES = 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
from openai import AsyncOpenAI

from bench.common import machine, machine_line
from bench.harness import fresh_database
from bot.answers.pipeline import RunContext
from bot.domain.profile import DEFAULT_FIELDS, ProfileVersion
from bot.domain.results import TestResult
from bot.model.llm import LLM, LLMError
from bot.persona.conversation import Turn, build_messages
from bot.persona.knowledge import for_prompt
from bot.persona.personality import build_system_prompt, sampling_for
from bot.scenarios.engine import DEFAULT_CONCURRENCY, PlanItem, execute, plan_for, plan_json
from storage import profiles as profiles_repo
from storage import scenarios as scenarios_repo
from storage.db import create_pool
from tests.fake_openai import FakeOpenAI

GOAL: Final = 1.5
TEAM: Final = "T0BENCH"
USER: Final = "U0BENCH"
CONTEXT_BUDGET: Final = 8000
KNOWLEDGE_BUDGET: Final = 2000


@dataclass(frozen=True)
class Setup:
    ttft_ms: float
    token_ms: float
    timeout_s: float
    concurrency: int
    base_url: str | None
    model: str


@asynccontextmanager
async def _endpoint(setup: Setup) -> AsyncIterator[tuple[str, FakeOpenAI | None]]:
    if setup.base_url is not None:
        yield setup.base_url, None
        return
    async with FakeOpenAI() as fake:
        fake.ttft_s = setup.ttft_ms / 1000
        fake.token_interval_s = setup.token_ms / 1000
        fake.judge_delay_s = setup.ttft_ms / 1000  # the judge's prompt is processed too
        fake.judge_token_s = setup.token_ms / 1000
        fake.ramble_answers = True
        fake.judge_mode = "ramble"
        yield fake.base_url, fake


async def _ignore(_: str) -> None:
    return None


async def answer_only(ctx: RunContext, version: ProfileVersion, item: PlanItem) -> float:
    """One message answered as bot.answers.pipeline answers it, without the judging; its seconds."""
    started = time.monotonic()
    fields = version.fields
    sampling = sampling_for(fields)
    knowledge = await for_prompt(
        ctx.pool,
        team_id=version.team_id,
        version_id=version.id,
        query=item.message,
        budget_tokens=ctx.knowledge_budget_tokens,
    )
    built = build_messages(
        system_prompt=build_system_prompt(fields, knowledge),
        turns=[Turn(role="user", content=item.message)],
        context_budget_tokens=ctx.context_budget_tokens,
        reserve_for_answer=sampling.max_tokens,
    )
    if ctx.llm is None:
        raise RuntimeError("the benchmark built no model client")
    try:
        await ctx.llm.stream_answer(
            messages=built.messages, sampling=sampling, model=fields.model, on_text=_ignore
        )
    except LLMError as err:
        raise RuntimeError(f"an answer failed: {err.kind}") from err
    return time.monotonic() - started


async def answers_alone(
    ctx: RunContext, version: ProfileVersion, items: Sequence[PlanItem], concurrency: int
) -> float:
    limit = asyncio.Semaphore(concurrency)

    async def one(item: PlanItem) -> float:
        async with limit:
            return await answer_only(ctx, version, item)

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in items))
    return time.monotonic() - started


async def judged_run(
    ctx: RunContext,
    version: ProfileVersion,
    items: Sequence[PlanItem],
    plan: list[dict[str, Any]],
    concurrency: int,
) -> tuple[float, list[TestResult]]:
    run = await scenarios_repo.create_run(
        ctx.pool,
        team_id=TEAM,
        profile_version_id=version.id,
        user_id=USER,
        concurrency=concurrency,
        plan=plan,
        channel_id=None,
    )
    started = time.monotonic()
    results = await execute(ctx, run=run, version=version, items=items)
    return time.monotonic() - started, results


def _outcomes(results: Sequence[TestResult]) -> dict[str, dict[str, int]]:
    # judge_outcomes does not exist before this benchmark's change: read it if it is there
    tally: dict[str, Counter[str]] = {"traits": Counter(), "behaviours": Counter()}
    for r in results:
        stored = getattr(r, "judge_outcomes", None) or {}
        for judge in tally:
            if judge in stored:
                tally[judge][str(stored[judge])] += 1
            elif judge == "traits":
                tally[judge]["ok" if r.analysis else "failed"] += 1
    return {k: dict(v) for k, v in tally.items()}


def figures(results: Sequence[TestResult]) -> dict[str, Any]:
    verdicts = [v for r in results for v in (r.behaviour_results or [])]
    judged = [v for v in verdicts if v.get("passed") is not None]
    # finish_reason is not stored before this benchmark's change: None says "not known"
    known = all(hasattr(r, "finish_reason") for r in results)
    cut = sum(1 for r in results if getattr(r, "finish_reason", None) == "length")
    return {
        "messages": len(results),
        "failed": sum(1 for r in results if r.error_kind),
        "verdicts": len(verdicts),
        "judged": len(judged),
        "analysed": sum(1 for r in results if r.analysis),
        "answers_cut": cut if known else None,
        "answer_tokens_median": statistics.median(
            [r.completion_tokens for r in results if r.completion_tokens is not None] or [0]
        ),
        "answer_s_slowest": round(max((r.total_ms or 0) for r in results) / 1000, 2),
        "judge_outcomes": _outcomes(results),
    }


async def bench(setup: Setup) -> dict[str, Any]:
    date = datetime.now(UTC)
    async with fresh_database() as (dsn, embedded), _endpoint(setup) as (base_url, fake):
        pool: asyncpg.Pool = await create_pool(dsn, min_size=1, max_size=setup.concurrency + 4)
        client = AsyncOpenAI(
            api_key="sk-bench", base_url=base_url, timeout=setup.timeout_s, max_retries=2
        )
        try:
            llm = LLM(client=client, default_model=setup.model, judge_model=None)
            ctx = RunContext(pool, llm, CONTEXT_BUDGET, KNOWLEDGE_BUDGET)
            await scenarios_repo.ensure_seeded(pool, team_id=TEAM)
            version = await profiles_repo.create_profile(
                pool, team_id=TEAM, name="Bench", fields=DEFAULT_FIELDS, user_id=USER
            )
            scenarios = await scenarios_repo.list_scenarios(pool, team_id=TEAM)
            items = plan_for(scenarios)
            expected = sum(len(i.behaviours) for i in items)
            # warm-up: connections, prepared statements, lazy imports (and the server's cache)
            await answer_only(ctx, version, items[0])
            alone_s = await answers_alone(ctx, version, items, setup.concurrency)
            run_s, results = await judged_run(
                ctx, version, items, plan_json(scenarios), setup.concurrency
            )
            server_version = await pool.fetchval("SHOW server_version")
        finally:
            await client.close()
            await pool.close()
        requests = len(fake.requests) if fake is not None else None
    found = figures(results)
    ratio = run_s / alone_s
    return {
        "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "model": "fake small model" if setup.base_url is None else f"{setup.model} (real)",
        "settings": {
            "ttft_ms": setup.ttft_ms if setup.base_url is None else None,
            "token_ms": setup.token_ms if setup.base_url is None else None,
            "timeout_s": setup.timeout_s,
            "concurrency": setup.concurrency,
            "messages": len(items),
            "expected_behaviours": expected,
        },
        "machine": machine(embedded=embedded, postgres_version=server_version),
        "answers_alone_s": round(alone_s, 2),
        "run_s": round(run_s, 2),
        "vs_answers": round(ratio, 2),
        "judged_share": round(found["judged"] / expected, 3) if expected else None,
        "model_requests": requests,
        "figures": found,
        "goal": GOAL,
        "goal_met": found["judged"] == expected and ratio <= GOAL,
        "summary": [
            {
                "figure": f"9-message run vs answers alone ({'fake' if fake else setup.model})",
                "value": f"{run_s:.1f} s vs {alone_s:.1f} s = {ratio:.2f}×",
                "goal": f"≤ {GOAL:g}×",
                "met": ratio <= GOAL,
            },
            {
                "figure": "expected behaviours judged",
                "value": f"{found['judged']}/{expected}",
                "goal": "all",
                "met": found["judged"] == expected,
            },
        ],
    }


def render(report: dict[str, Any]) -> str:
    s, f = report["settings"], report["figures"]
    pace = (
        f"{s['ttft_ms']:g} ms to first token, {s['token_ms']:g} ms a token"
        if s["ttft_ms"] is not None
        else "real server"
    )
    lines = [
        f"scenario run of {s['messages']} messages, {s['concurrency']} at once, "
        f"{report['model']} ({pace}), timeout {s['timeout_s']:g} s",
        f"{report['date']} · {machine_line(report['machine'])}",
        "",
        f"answers alone:  {report['answers_alone_s']:.1f} s",
        f"run (judged):   {report['run_s']:.1f} s = {report['vs_answers']:.2f}× the answers' "
        f"own time (goal ≤ {report['goal']:g}×)",
        f"behaviours judged: {f['judged']}/{s['expected_behaviours']}; messages analysed "
        f"(alignment): {f['analysed']}/{f['messages']}; failed: {f['failed']}",
        f"answers cut at their limit: {f['answers_cut']}; median answer "
        f"{f['answer_tokens_median']} tokens; slowest answer {f['answer_s_slowest']} s",
        f"judge outcomes: {json.dumps(f['judge_outcomes'])}",
        f"goal {'met' if report['goal_met'] else 'NOT met'}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_judges", description=__doc__)
    parser.add_argument("--ttft-ms", type=float, default=300.0, help="fake: prompt processing")
    parser.add_argument("--token-ms", type=float, default=20.0, help="fake: time per token")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="OPENAI_TIMEOUT (60)")
    parser.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="messages at once (4)"
    )
    parser.add_argument("--base-url", help="a real OpenAI-compatible server instead of the fake")
    parser.add_argument("--model", default="fake-model", help="model name to ask for")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if min(args.ttft_ms, args.token_ms) < 0 or args.timeout_s <= 0 or args.concurrency < 1:
        parser.error("times must be positive and --concurrency at least 1")
    setup = Setup(
        args.ttft_ms, args.token_ms, args.timeout_s, args.concurrency, args.base_url, args.model
    )
    report = asyncio.run(bench(setup))
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
