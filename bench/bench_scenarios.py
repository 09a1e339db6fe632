"""Wall time of a scenario "run all" (9 messages, each answered then judged for traits and
behaviours) against its slowest single message path and against the sequential sum, at several
concurrency limits, with a model of fixed latency.

    python -m bench.bench_scenarios [--repeats N] [--ttft-ms 300] [--token-ms 20]
                                    [--judge-ms MS] [--json]

The goal: run all within 1.3x of its slowest single message. The engine (bot.scenarios.engine) is
measured without Slack at each concurrency; the full Slack path (signed `/bot scenario run all`
until the summary's chat.update) once, at the product default. Judge calls are not streamed, so
the fake's ttft does not reach them; they are given --judge-ms each (default: the ttft). Everything
but Slack and the model is real: PostgreSQL (embedded unless TEST_DATABASE_URL is set), the Bolt
app, slack_sdk and the openai client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from bench.harness import Harness, harness
from bot.answers.pipeline import RunContext
from bot.domain.profile import DEFAULT_FIELDS, ProfileVersion
from bot.model.llm import LLM
from bot.scenarios.engine import DEFAULT_CONCURRENCY, PlanItem, execute, plan_for, plan_json
from bot.startup.settings import Settings
from storage import profiles as profiles_repo
from storage import scenarios as scenarios_repo
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import TEAM, USER

CONCURRENCIES: Final = (1, DEFAULT_CONCURRENCY, 9)
GOAL: Final = 1.3
RUN_TIMEOUT_S: Final = 120.0
PROFILE: Final = "Bench"


def delay_judges(model: FakeOpenAI, seconds: float) -> None:
    """Judges are not streamed, so the fake's ttft does not apply to them: without a delay of
    their own each message path would be the answer alone."""
    model.judge_delay_s = max(0.0, seconds)


@dataclass(frozen=True)
class Env:
    h: Harness
    ctx: RunContext
    version: ProfileVersion
    items: list[PlanItem]
    plan: list[dict[str, Any]]


@dataclass(frozen=True)
class Measured:
    seconds: float
    max_answers_in_flight: int
    model_requests: int


async def run_engine(env: Env, items: Sequence[PlanItem], concurrency: int) -> Measured:
    model = env.h.model
    run = await scenarios_repo.create_run(
        env.ctx.pool,
        team_id=TEAM,
        profile_version_id=env.version.id,
        user_id=USER,
        concurrency=concurrency,
        plan=env.plan,
        channel_id=None,
    )
    model.max_in_flight = 0
    first_request = len(model.requests)
    started = time.monotonic()
    results = await execute(env.ctx, run=run, version=env.version, items=items)
    seconds = time.monotonic() - started
    failed = [r for r in results if r.error_kind or r.analysis_error or not r.behaviour_results]
    if failed:
        raise RuntimeError(f"{len(failed)} message(s) failed or were not judged: {failed[0]}")
    return Measured(seconds, model.max_in_flight, len(model.requests) - first_request)


def _summary_posted(slack: FakeSlack, first_call: int) -> bool:
    calls = slack.calls[first_call:]
    parent = next(
        (c for c in calls if c.method == "chat.postMessage" and not c.args.get("thread_ts")), None
    )
    if parent is None or "ts" not in parent.response:
        return False
    return any(c.args.get("ts") == parent.response["ts"] and _is_summary(c) for c in calls)


def _is_summary(call: Any) -> bool:
    # Progress edits carry blocks too (the Resume button); only the summary has a header.
    return call.method == "chat.update" and any(
        b.get("type") == "header" for b in call.args.get("blocks") or []
    )


async def run_slack(env: Env) -> Measured:
    slack, model = env.h.slack, env.h.model
    first_call, first_request = len(slack.calls), len(model.requests)
    model.max_in_flight = 0
    started = time.monotonic()
    response = await env.h.driver.command("scenario run all")
    if response.status != 200:
        raise RuntimeError(f"/bot scenario run all was refused: {response.status} {response.body}")
    await slack.wait_for(lambda s: _summary_posted(s, first_call), timeout=RUN_TIMEOUT_S)
    done = [c for c in slack.calls[first_call:] if _is_summary(c)]
    return Measured(done[-1].at - started, model.max_in_flight, len(model.requests) - first_request)


async def _setup(h: Harness) -> Env:
    await scenarios_repo.ensure_seeded(h.pool, team_id=TEAM)
    # The workspace's first profile becomes its default, so `/bot scenario run all` uses it too.
    version = await profiles_repo.create_profile(
        h.pool, team_id=TEAM, name=PROFILE, fields=DEFAULT_FIELDS, user_id=USER
    )
    scenarios = await scenarios_repo.list_scenarios(h.pool, team_id=TEAM)
    items = plan_for(scenarios)
    llm = h.driver.deps.llm
    if not isinstance(llm, LLM):
        raise RuntimeError("the harness built no model client")
    settings: Settings = h.driver.deps.settings
    if settings.scenario_concurrency != DEFAULT_CONCURRENCY:
        raise RuntimeError("the Slack path is meant to run at the product's default concurrency")
    return Env(
        h=h,
        ctx=RunContext.of(h.pool, llm, settings),
        version=version,
        items=items,
        plan=plan_json(scenarios),
    )


def _ratio(a: float, b: float) -> float:
    return round(a / b, 2)


async def bench(
    *, repeats: int, ttft_ms: float, token_ms: float, judge_ms: float
) -> dict[str, Any]:
    date = datetime.now(UTC)
    async with harness(ttft_s=ttft_ms / 1000, token_interval_s=token_ms / 1000) as h:
        delay_judges(h.model, judge_ms / 1000)
        env = await _setup(h)
        n = len(env.items)
        # The first run pays for cold connections, prepared statements and lazy imports.
        await run_engine(env, env.items[:1], 1)

        singles: list[list[float]] = [[] for _ in env.items]
        walls: dict[int, list[Measured]] = {c: [] for c in CONCURRENCIES}
        slack_runs: list[Measured] = []
        requests_per_message: int | None = None
        # Repeats interleave the measurements so that drift on a shared machine hits all alike.
        for _ in range(repeats):
            for index, item in enumerate(env.items):
                single = await run_engine(env, [item], 1)
                singles[index].append(single.seconds)
                requests_per_message = single.model_requests
            for c in CONCURRENCIES:
                walls[c].append(await run_engine(env, env.items, c))
        # Once, not per repeat: it is a whole run all at the default limit, seconds apiece, and the
        # default run has to stay near 90 s.
        slack_runs.append(await run_slack(env))

        answer_tokens = await h.pool.fetchval(
            "SELECT max(completion_tokens) FROM test_results WHERE kind = 'scenario'"
        )
        server_version = await h.pool.fetchval("SHOW server_version")

    # What the model alone makes a message wait: the answer's stream, then the two judges side
    # by side. The rest of a single path is the bot's own work (DB writes, run bookkeeping).
    model_floor = (ttft_ms + token_ms * max(0, (answer_tokens or 1) - 1) + judge_ms) / 1000
    single_medians = [statistics.median(s) for s in singles]
    slowest = max(single_medians)
    sequential = sum(single_medians)

    def row(label: str, concurrency: int, runs: list[Measured]) -> dict[str, Any]:
        wall = statistics.median(m.seconds for m in runs)
        return {
            "label": label,
            "concurrency": concurrency,
            "runs": len(runs),
            "wall_s": round(wall, 3),
            "min_s": round(min(m.seconds for m in runs), 3),
            "max_s": round(max(m.seconds for m in runs), 3),
            "vs_slowest": _ratio(wall, slowest),
            "vs_sequential": _ratio(wall, sequential),
            "answers_in_flight": max(m.max_answers_in_flight for m in runs),
            "goal_met": wall / slowest <= GOAL,
        }

    rows = [row("engine", c, walls[c]) for c in CONCURRENCIES]
    rows.append(row("Slack", DEFAULT_CONCURRENCY, slack_runs))
    return {
        "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "repeats": repeats,
        "goal": GOAL,
        "settings": {
            "ttft_ms": ttft_ms,
            "token_ms": token_ms,
            "judge_ms": judge_ms,
            "messages": n,
            "answer_tokens": answer_tokens,
            "model_requests_per_message": requests_per_message,
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgres": "embedded" if h.embedded else "external (TEST_DATABASE_URL)",
            "postgres_version": server_version,
        },
        "single": {
            "per_message_s": [round(s, 3) for s in single_medians],
            "slowest_s": round(slowest, 3),
            "fastest_s": round(min(single_medians), 3),
            "sequential_sum_s": round(sequential, 3),
            "model_floor_s": round(model_floor, 3),
        },
        "rows": rows,
    }


def _num(value: float) -> str:
    return f"{value:g}"


def render(report: dict[str, Any]) -> str:
    s, m, single = report["settings"], report["machine"], report["single"]
    judges = "instant" if not s["judge_ms"] else f"{_num(s['judge_ms'])} ms each"
    lines = [
        f"scenario run all: {s['messages']} messages, median of {report['repeats']} "
        f"(Slack: {report['rows'][-1]['runs']} run), model ttft {_num(s['ttft_ms'])} ms, "
        f"{_num(s['token_ms'])} ms between tokens, {s['answer_tokens']} tokens per answer, "
        f"judges {judges} ({s['model_requests_per_message']} model calls per message)",
        f"{report['date']} · {m['platform']} · {m['cpus']} CPUs · Python {m['python']} · "
        f"PostgreSQL {m['postgres_version']} {m['postgres']}",
        "",
        f"single message path alone: slowest {single['slowest_s']:.3f} s, fastest "
        f"{single['fastest_s']:.3f} s, sequential sum {single['sequential_sum_s']:.3f} s; "
        f"model time per path {single['model_floor_s']:.3f} s",
        "",
        f"{'path':<8}{'concurrency':>12}{'wall s':>9}{'range s':>15}{'/ slowest':>11}"
        f"{'/ sum':>8}{'answers at once':>17}  goal ≤{_num(report['goal'])}x",
    ]
    for r in report["rows"]:
        spread = f"{r['min_s']:.2f}–{r['max_s']:.2f}"
        lines.append(
            f"{r['label']:<8}{r['concurrency']:>12}{r['wall_s']:>9.3f}{spread:>15}"
            f"{r['vs_slowest']:>10.2f}x{r['vs_sequential']:>7.2f}x{r['answers_in_flight']:>17}"
            f"  {'met' if r['goal_met'] else 'not met'}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_scenarios", description=__doc__)
    parser.add_argument("--repeats", type=int, default=2, help="runs per measurement (default 2)")
    parser.add_argument("--ttft-ms", type=float, default=300.0, help="model's time to first token")
    parser.add_argument("--token-ms", type=float, default=20.0, help="time between tokens")
    parser.add_argument(
        "--judge-ms",
        type=float,
        help="latency of each (non-streamed) judge call; default: the same as --ttft-ms",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.judge_ms is None:
        # A whole judge reply cannot come back sooner than a streamed answer's first token.
        args.judge_ms = args.ttft_ms
    if args.repeats < 1 or min(args.ttft_ms, args.token_ms, args.judge_ms) < 0:
        parser.error("--repeats must be at least 1; --ttft-ms, --token-ms, --judge-ms at least 0")
    report = asyncio.run(
        bench(
            repeats=args.repeats,
            ttft_ms=args.ttft_ms,
            token_ms=args.token_ms,
            judge_ms=args.judge_ms,
        )
    )
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
