"""`romashka calibrate`: what each slider does to the answers, measured without Slack (through
the job queue, as a sweep from Slack: bot.jobs.calibration_headless)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot.domain.profile import TRAITS
from bot.errors import UserError
from bot.jobs.calibration_headless import CellsHeld, run_queued
from bot.jobs.context import HeadlessDeps
from bot.jobs.payloads import CALIBRATION_CELL_HEADLESS
from bot.metrics.calibration import Calibration, to_json
from bot.metrics.charts import calibration_chart
from bot.persona.versions import NotAVersionNumber, resolve_version
from bot.scenarios import calibration_report
from bot.scenarios.calibration import SAMPLES_MAX, model_calls, queue_run
from bot.startup.runtime import build_llm, database
from bot.startup.scenarios_cli import CLI_USER, ProgressBar
from bot.startup.settings import CoreSettings
from storage import calibration_runs as runs_repo
from storage import calibrations as calibrations_repo
from storage import scenarios as repo
from storage.errors import NotFound

# EXIT_FAILED: the sweep could not finish (its profile version was deleted meanwhile)
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _write_chart(path: Path, result: Calibration, title: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(calibration_chart(result, title=title))


async def run_calibration(settings: CoreSettings, args: argparse.Namespace) -> int:
    if not 1 <= args.samples <= SAMPLES_MAX:
        print(f"--samples must be from 1 to {SAMPLES_MAX}", file=sys.stderr)
        return EXIT_USAGE
    llm = build_llm(settings)
    if not llm.configured:
        print(
            "The model is not configured: set OPENAI_API_KEY or OPENAI_BASE_URL.", file=sys.stderr
        )
        return EXIT_USAGE
    traits = list(TRAITS) if args.trait == "all" else [args.trait]
    async with database(settings) as pool:
        try:
            version = await resolve_version(pool, team_id=args.team, spec=args.profile)
            await repo.ensure_seeded(pool, team_id=args.team)
            scenarios = (
                await repo.list_scenarios(pool, team_id=args.team)
                if args.scenario.lower() == "all"
                else [await repo.find_scenario(pool, team_id=args.team, name=args.scenario)]
            )
        except NotAVersionNumber as exc:
            print(f"romashka: '{exc.raw}' is not a version number", file=sys.stderr)
            return EXIT_USAGE
        except (NotFound, UserError) as exc:
            print(f"romashka: {exc}", file=sys.stderr)
            return EXIT_USAGE
    questions = list(dict.fromkeys(m for s in scenarios for m in s.messages))
    if not questions:
        print("romashka: no scenario messages to ask", file=sys.stderr)
        return EXIT_USAGE
    calls = model_calls(traits=len(traits), questions=len(questions), samples=args.samples)
    print(
        f"Calibrating {', '.join(traits)} on {version.label}: {len(questions)} messages × "
        f"5 settings × {args.samples} samples = {calls} model calls.",
        file=sys.stderr,
    )
    if calls > args.max_calls and not args.yes:
        print(
            f"romashka: {calls} model calls is above --max-calls {args.max_calls}; "
            "add --yes to run it, or fewer --samples or one --scenario",
            file=sys.stderr,
        )
        return EXIT_USAGE
    scenario = None if args.scenario.lower() == "all" else scenarios[0].name
    async with database(settings) as pool:
        run = await queue_run(
            pool,
            version=version,
            traits=traits,
            questions=questions,
            samples=args.samples,
            scenario=scenario,
            channel_id=None,
            thread_ts=None,
            created_by=CLI_USER,
            entrypoint=CALIBRATION_CELL_HEADLESS,
        )
        progress = ProgressBar(run.total, sys.stderr)
        # through the queue, like a sweep from Slack: this process works on it until it is
        # reported, and any app worker running meanwhile helps
        try:
            ended = await run_queued(
                HeadlessDeps(settings=settings, pool=pool, llm=llm),
                run=run,
                concurrency=args.concurrency or settings.scenario_concurrency,
                on_progress=progress.update,
            )
        except CellsHeld as exc:
            print(
                f"romashka: calibration #{run.id} cannot finish: {exc.held} of its jobs failed "
                "after the queue's retries and are held (`pgq failed` lists them; re-queued, "
                "any worker finishes the sweep)",
                file=sys.stderr,
            )
            return EXIT_FAILED
        if ended.status != "completed":
            print(f"romashka: calibration #{run.id} stopped: {ended.failure}", file=sys.stderr)
            return EXIT_FAILED
        cells = await runs_repo.cells(pool, team_id=run.team_id, run_id=run.id)
        stored = {
            c.trait: c
            for c in await calibrations_repo.of_run(pool, team_id=args.team, run_id=run.id)
        }
    out: list[dict[str, object]] = []
    for trait in traits:
        figures = calibration_report.figures(run, cells, trait)
        result = figures.result
        report = stored[trait].report or {}
        if args.chart:
            await asyncio.to_thread(
                _write_chart,
                Path(args.chart) / f"{trait}.png",
                result,
                f"{trait} on {version.label}",
            )
        if args.format == "json":
            out.append(
                {
                    **to_json(result),
                    "samples_without_levels": figures.no_levels,
                    "samples_missing": figures.failed,
                    "against_last": report.get("against_last"),
                }
            )
        else:
            print("\n".join(calibration_report.figure_lines(figures, indent="  ")))
            print("\n".join(str(line) for line in report.get("lines") or []))
    if args.format == "json":
        print(
            json.dumps(
                {"profile_version": version.label, "model_calls": calls, "traits": out},
                indent=2,
                ensure_ascii=False,
            )
        )
    return EXIT_OK
