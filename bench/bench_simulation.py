"""A simulated conversation's cost: wall time and model calls of one five-turn conversation
without Slack (the CLI path), the same conversation through Slack (signed `/bot scenario run`
until the summary, every turn posted at the channel's pace), and the drift chart's drawing time.

    python -m bench.bench_simulation [--ttft-ms 300] [--token-ms 20] [--judge-ms MS] [--json]

The fake model plays both sides: a scripted customer (recognised by its schema's name) whose
replies take --judge-ms, like every JSON call, and a bot streaming at --ttft-ms / --token-ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

from bench.common import machine, machine_line
from bench.harness import harness
from bot.answers.pipeline import RunContext
from bot.domain.profile import DEFAULT_FIELDS
from bot.model.llm import LLM
from bot.simulation.chart import drift_chart
from bot.simulation.conversation import converse
from bot.simulation.library import SEEDS
from storage import profiles as profiles_repo
from storage import simulations as repo
from tests.slack_driver import TEAM, USER

SCRIPT: Final = [
    ("I was charged twice for order 48213.", "continue"),
    ("When will the refund arrive?", "continue"),
    ("Can you confirm the amount?", "continue"),
    ("And the date, please?", "continue"),
    ("Thanks, that's sorted.", "goal_met"),
]
CHART_DRAWS: Final = 10


def scripted() -> Callable[[dict[str, Any]], str | None]:
    calls = 0

    def hook(body: dict[str, Any]) -> str | None:
        nonlocal calls
        fmt = body.get("response_format") or {}
        if (fmt.get("json_schema") or {}).get("name") != "simulated_customer":
            return None
        message, state = SCRIPT[min(calls, len(SCRIPT) - 1)]
        calls += 1
        return json.dumps({"message": message, "state": state})

    return hook


@asynccontextmanager
async def no_lease(_model: str) -> AsyncIterator[None]:
    yield


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    async with harness(ttft_s=args.ttft_ms / 1000, token_interval_s=args.token_ms / 1000) as h:
        h.model.judge_delay_s = (
            args.judge_ms if args.judge_ms is not None else args.ttft_ms
        ) / 1000
        version = await profiles_repo.create_profile(
            h.pool, team_id=TEAM, name="Bench", fields=DEFAULT_FIELDS, user_id=USER
        )
        await repo.ensure_seeded(h.pool, team_id=TEAM, seeds=SEEDS)
        [simulation, *_] = await repo.list_simulations(h.pool, team_id=TEAM)
        llm = h.driver.deps.llm
        assert isinstance(llm, LLM)
        ctx = RunContext.of(h.pool, llm, h.driver.deps.settings)

        h.model.json_hook = scripted()
        run = await repo.create_run(
            h.pool,
            team_id=TEAM,
            profile_version_id=version.id,
            user_id=USER,
            plan=[simulation.plan_json()],
            repeat=1,
            channel_id=None,
        )
        conversation = await repo.conversation(
            h.pool, team_id=TEAM, run_id=run.id, simulation_id=simulation.id, sample=0
        )
        first = len(h.model.requests)
        started = time.monotonic()
        outcome = await converse(
            ctx,
            simulator_model=llm.judge_model,
            version=version,
            simulation=simulation,
            conversation=conversation,
            user_id=USER,
            lease=no_lease,
        )
        engine_s = time.monotonic() - started
        engine_calls = len(h.model.requests) - first
        if outcome["ending"] != "goal_met":
            raise RuntimeError(f"the conversation ended with {outcome['ending']}")

        h.model.json_hook = scripted()
        first_call = len(h.slack.calls)
        started = time.monotonic()
        await h.driver.command(f"scenario run {simulation.name}")
        await h.slack.wait_for(
            lambda s: any(c.method == "files.completeUploadExternal" for c in s.calls[first_call:]),
            timeout=120,
        )
        slack_s = time.monotonic() - started
        posts = sum(
            1
            for c in h.slack.calls[first_call:]
            if c.method == "chat.postMessage" and c.args.get("thread_ts")
        )

        figures = [
            {"name": simulation.name, "drift": outcome["drift"]},
        ]
        draws = []
        for _ in range(CHART_DRAWS):
            t = time.monotonic()
            drift_chart(figures, title="bench")
            draws.append(time.monotonic() - t)
        pg = await h.pool.fetchval("SHOW server_version")
        return {
            "machine": machine(embedded=h.embedded, postgres_version=str(pg)),
            "turns": outcome["customer_turns"] + outcome["bot_turns"],
            "engine_s": engine_s,
            "engine_model_calls": engine_calls,
            "slack_s": slack_s,
            "thread_posts": posts,
            "chart_median_ms": 1000 * statistics.median(draws),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ttft-ms", type=float, default=300)
    parser.add_argument("--token-ms", type=float, default=20)
    parser.add_argument("--judge-ms", type=float)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(machine_line(report["machine"]))
    print(
        f"one conversation of {report['turns']} turns: engine {report['engine_s']:.2f} s "
        f"({report['engine_model_calls']} model calls); Slack end to end "
        f"{report['slack_s']:.2f} s ({report['thread_posts']} thread posts); drift chart "
        f"{report['chart_median_ms']:.0f} ms (median of {CHART_DRAWS})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
