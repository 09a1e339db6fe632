"""`romashka scenarios run`: the scenario engine without Slack, for a team's own CI."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

import asyncpg

from bot.domain.profile import ProfileVersion
from bot.domain.scenarios import REPEAT_MAX, Scenario
from bot.errors import UserError
from bot.jobs.context import HeadlessDeps
from bot.jobs.headless import RunNotCompleted, run_queued
from bot.persona.versions import NotAVersionNumber, resolve_version
from bot.scenarios.engine import plan_for, plan_json
from bot.scenarios.figures import overall
from bot.scenarios.report import Thresholds, as_json, junit, table
from bot.simulation import cli as simulation_cli
from bot.simulation import library as simulation_library
from bot.startup.runtime import build_llm, database
from bot.startup.settings import CoreSettings
from storage import results as results_repo
from storage import scenarios as repo
from storage.errors import NotFound

EXIT_OK, EXIT_BELOW, EXIT_USAGE = 0, 1, 2
CLI_USER = "cli"


class ProgressBar:
    """A one-line bar on a terminal; silent when stderr is a file or a CI log."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.enabled = stream.isatty()

    async def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        filled = round(self.WIDTH * done / total)
        bar = "█" * filled + "░" * (self.WIDTH - filled)
        end = "\n" if done == total else ""
        self.stream.write(f"\r{bar} {done}/{total} answered{end}")
        self.stream.flush()


async def _version(pool: asyncpg.Pool, team: str, spec: str) -> ProfileVersion:
    try:
        return await resolve_version(pool, team_id=team, spec=spec)
    except NotAVersionNumber as exc:
        # a terminal shows the spec as typed, without Slack's code marks
        raise UserError(f"'{exc.raw}' is not a version number; write {exc.name}@3") from None


async def _scenarios(pool: asyncpg.Pool, team: str, name: str) -> list[Scenario]:
    await repo.ensure_seeded(pool, team_id=team)
    if name.lower() == "all":
        return await repo.list_scenarios(pool, team_id=team)
    return [await repo.find_scenario(pool, team_id=team, name=name)]


async def run_scenarios(settings: CoreSettings, args: argparse.Namespace) -> int:
    if args.min_pass_rate is not None and not 0 <= args.min_pass_rate <= 1:
        print("--min-pass-rate is a fraction from 0 to 1, e.g. 0.8", file=sys.stderr)
        return EXIT_USAGE
    if not 1 <= args.repeat <= REPEAT_MAX:
        print(f"--repeat must be from 1 to {REPEAT_MAX}", file=sys.stderr)
        return EXIT_USAGE
    if args.concurrency is not None and not 1 <= args.concurrency <= 64:
        print("--concurrency must be from 1 to 64", file=sys.stderr)
        return EXIT_USAGE
    llm = build_llm(settings)
    if not llm.configured:
        print(
            "The model is not configured: set OPENAI_API_KEY or OPENAI_BASE_URL.", file=sys.stderr
        )
        return EXIT_USAGE
    async with database(settings) as pool:
        try:
            version = await _version(pool, args.team, args.profile)
            simulations = await simulation_library.chosen(
                pool, team_id=args.team, name=args.scenario
            )
            if simulations:
                # simulated customers (issue #18): the same gates and formats
                return await simulation_cli.run(
                    pool, llm, settings, args, version=version, simulations=simulations
                )
            scenarios = await _scenarios(pool, args.team, args.scenario)
        except (NotFound, UserError) as exc:
            print(f"romashka: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if not scenarios:
            print("romashka: this workspace has no scenarios", file=sys.stderr)
            return EXIT_USAGE
        items = plan_for(scenarios, repeat=args.repeat)
        run = await repo.create_run(
            pool,
            team_id=args.team,
            profile_version_id=version.id,
            user_id=CLI_USER,
            concurrency=args.concurrency or settings.scenario_concurrency,
            plan=plan_json(scenarios, repeat=args.repeat),
            channel_id=None,
        )
        progress = ProgressBar(len(items), sys.stderr)
        try:
            # through the queue, like a Slack run: this process works on it until it is
            # completed, and any app worker running meanwhile helps
            await run_queued(
                HeadlessDeps(settings=settings, pool=pool, llm=llm),
                run=run,
                items=items,
                concurrency=args.concurrency or settings.scenario_concurrency,
                on_progress=progress.update,
            )
        except RunNotCompleted as exc:
            # someone resumed or stopped the run from Slack meanwhile
            print(
                f"romashka: run #{run.id} was {exc.status} elsewhere; not judged here",
                file=sys.stderr,
            )
            return EXIT_BELOW
        stored = await results_repo.run_results(pool, team_id=args.team, run_id=run.id)
    # in plan order, as the run was asked
    order: dict[tuple[int | None, int | None], int] = {
        (i.scenario_id, i.position): n for n, i in enumerate(items)
    }
    results = sorted(stored, key=lambda r: order.get((r.scenario_id, r.position), len(order)))
    problems = Thresholds(args.min_pass_rate, args.min_alignment, strict=args.strict).failures(
        overall(results)
    )
    if args.format == "json":
        print(as_json(run.id, version.label, results, problems))
    elif args.format == "junit":
        print(junit(version.label, results))
    else:
        print(table(version.label, results, problems))
    if problems:
        print("romashka: " + "; ".join(problems), file=sys.stderr)
        return EXIT_BELOW
    return EXIT_OK
