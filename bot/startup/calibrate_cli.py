"""`romashka calibrate`: what each slider does to the answers, measured without Slack."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot.domain.profile import TRAITS
from bot.errors import UserError
from bot.metrics.calibration import Calibration, calibrate, summary_lines, to_json
from bot.metrics.charts import calibration_chart
from bot.persona.versions import NotAVersionNumber, resolve_version
from bot.scenarios import calibration_history
from bot.scenarios.calibration import SAMPLES_MAX, model_calls, sweep
from bot.startup.runtime import build_llm, database
from bot.startup.settings import CoreSettings
from storage import scenarios as repo
from storage.errors import NotFound

EXIT_OK, EXIT_USAGE = 0, 2


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
    out: list[dict[str, object]] = []
    scenario = None if args.scenario.lower() == "all" else scenarios[0].name
    for trait in traits:
        samples, lost = await sweep(
            llm,
            fields=version.fields,
            trait=trait,
            questions=questions,
            samples=args.samples,
            concurrency=args.concurrency or settings.scenario_concurrency,
            context_budget_tokens=settings.context_budget_tokens,
        )
        result = calibrate(trait, samples)
        async with database(settings) as pool:
            recorded = await calibration_history.record(
                pool,
                team_id=args.team,
                version=version,
                scenario=scenario,
                questions=questions,
                samples=args.samples,
                lost=lost,
                result=result,
            )
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
                    "samples_without_levels": lost,
                    "against_last": recorded.to_json(),
                }
            )
        else:
            print("\n".join(summary_lines(result)))
            if lost:
                print(f"  ({lost} samples gave no levels: model error or no judge verdict)")
            print("\n".join(recorded.lines))
    if args.format == "json":
        print(
            json.dumps(
                {"profile_version": version.label, "model_calls": calls, "traits": out},
                indent=2,
                ensure_ascii=False,
            )
        )
    return EXIT_OK
