"""`romashka scenarios run <simulation | simulations>`: simulated conversations without Slack,
for a team's own CI. The same conversation code as the job; conversations run at once up to
`--concurrency`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from bot.answers.pipeline import RunContext
from bot.domain.profile import ProfileVersion
from bot.domain.simulation import Simulation
from bot.model.llm import LLM
from bot.simulation import report
from bot.simulation.conversation import converse
from bot.simulation.figures import simulation_figures, summary_json
from bot.startup.settings import CoreSettings
from storage import simulations as repo

CLI_USER = "cli"


async def run(
    pool: asyncpg.Pool,
    llm: LLM,
    settings: CoreSettings,
    args: argparse.Namespace,
    *,
    version: ProfileVersion,
    simulations: Sequence[Simulation],
) -> int:
    """The exit code: 0 passed, 1 below a gate."""
    sim_run = await repo.create_run(
        pool,
        team_id=version.team_id,
        profile_version_id=version.id,
        user_id=CLI_USER,
        plan=[s.plan_json() for s in simulations],
        repeat=args.repeat,
        channel_id=None,
    )
    limit = asyncio.Semaphore(args.concurrency or settings.scenario_concurrency)
    ctx = RunContext.of(pool, llm, settings)
    model = settings.simulator_model or llm.judge_model

    @asynccontextmanager
    async def no_lease(_model: str) -> AsyncIterator[None]:
        yield

    async def one(simulation: Simulation, sample: int) -> dict[str, Any]:
        async with limit:
            conversation = await repo.conversation(
                pool,
                team_id=version.team_id,
                run_id=sim_run.id,
                simulation_id=simulation.id,
                sample=sample,
            )
            outcome = await converse(
                ctx,
                simulator_model=model,
                version=version,
                simulation=simulation,
                conversation=conversation,
                user_id=CLI_USER,
                lease=no_lease,
                temperature=settings.simulator_temperature,
            )
            return {"simulation_id": simulation.id, "sample": sample, **outcome}

    rows = await asyncio.gather(
        *(one(s, sample) for s in simulations for sample in range(args.repeat))
    )
    figures = [
        simulation_figures(
            s,
            [(r["ending"], r["fault"], r) for r in rows if r["simulation_id"] == s.id],
        )
        for s in simulations
    ]
    data = summary_json(figures)
    await repo.finish_run(pool, team_id=version.team_id, run_id=sim_run.id, summary=data)
    problems = report.failures(
        data,
        min_pass_rate=args.min_pass_rate,
        min_alignment=args.min_alignment,
        strict=args.strict,
    )
    if args.format == "json":
        print(report.as_json(sim_run.id, version.label, data, problems))
    elif args.format == "junit":
        print(report.junit(version.label, data, rows))
    else:
        print(report.table(version.label, sim_run.id, data, problems))
    if problems:
        print("romashka: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0
