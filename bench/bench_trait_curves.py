"""Set-vs-perceived curves of the four trait sliders, for comparing prompt wordings (issue #17).

    python -m bench.bench_trait_curves [--base-url URL --model NAME] [--samples 2]
        [--questions 1] [--style concise] [--concurrency 2] [--timeout 300] [--out DIR] [--json]

Without --base-url the fake model (tests/fake_openai.py, whose leanings follow its own cue
words) answers and judges; with it, any OpenAI-compatible server does both (the same model is
its own judge, as a workspace without OPENAI_JUDGE_MODEL has). It runs the same sweep as
`romashka calibrate` (bot/scenarios/calibration.py) without a database: the first N seed
scenario messages, every other field at its default. Per trait it prints the perceived mean at
each setting, Spearman's ρ, dead ranges and one code-measured proxy (the judge-free check),
and with --out writes <trait>.png and curves.json there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import Final

from openai import AsyncOpenAI

from bot.domain.profile import DEFAULT_FIELDS, TRAITS, ResponseStyle
from bot.metrics.calibration import Calibration, calibrate
from bot.metrics.charts import calibration_chart
from bot.model.llm import LLM
from bot.scenarios.calibration import sweep
from storage.scenarios import SEED_SCENARIOS
from tests.fake_openai import FakeOpenAI

# The proxy that follows each trait without any judge (see bot/metrics/proxies.py); empathy has
# none, so its curve rests on the judge alone.
PROXY_OF: Final[dict[str, str | None]] = {
    "formality": "contractions_per_100_words",
    "enthusiasm": "exclamations_per_sentence",
    "technical_depth": "reading_grade",
    "empathy": None,
}
# One message from each seed scenario first, so a small N still mixes kinds of question.
_ORDER: Final = (4, 0, 7, 3, 1, 6, 5, 2, 8)


def questions(count: int) -> list[str]:
    every = [m for s in SEED_SCENARIOS for m in s[2]]
    return [every[i] for i in _ORDER[:count]]


def row(c: Calibration) -> dict[str, object]:
    proxy = PROXY_OF[c.trait]
    return {
        "trait": c.trait,
        "perceived": {
            lv.setting: None if lv.perceived is None else round(lv.perceived.value)
            for lv in c.levels
        },
        "rho": None if c.correlation is None else round(c.correlation.rho, 2),
        "rho_interval": None
        if c.correlation is None
        else [round(c.correlation.low, 2), round(c.correlation.high, 2)],
        "dead_ranges": [f"{a}–{b}" for a, b in c.dead_ranges],
        "proxy": proxy,
        "proxy_by_setting": {
            lv.setting: None
            if proxy is None or lv.proxies.get(proxy) is None
            else round(lv.proxies[proxy] or 0.0, 2)
            for lv in c.levels
        },
        "samples": {lv.setting: lv.samples for lv in c.levels},
    }


async def run(args: argparse.Namespace) -> tuple[dict[str, object], list[Calibration]]:
    asked = questions(args.questions)
    async with AsyncExitStack() as stack:
        if args.base_url:
            base_url, model_name = args.base_url, args.model
        else:
            fake = await stack.enter_async_context(FakeOpenAI())
            base_url, model_name = fake.base_url, "fake-model"
        client = AsyncOpenAI(
            api_key="sk-local", base_url=base_url, timeout=args.timeout, max_retries=1
        )
        llm = LLM(client=client, default_model=model_name, judge_model=None)
        rows = []
        results: list[Calibration] = []
        started = time.perf_counter()
        for trait in args.traits:
            got, lost = await sweep(
                llm,
                fields=replace(DEFAULT_FIELDS, response_style=ResponseStyle(args.style)),
                trait=trait,
                questions=asked,
                samples=args.samples,
                concurrency=args.concurrency,
                context_budget_tokens=args.context,
            )
            result = calibrate(trait, got)
            rows.append({**row(result), "lost": lost})
            results.append(result)
        report: dict[str, object] = {
            "model": model_name,
            "label": args.label,
            "questions": asked,
            "samples": args.samples,
            "style": args.style,
            "wall_s": round(time.perf_counter() - started, 1),
            "traits": rows,
        }
        return report, results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--model", default="local")
    parser.add_argument("--label", default="")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--questions", type=int, default=1, choices=range(1, 10))
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--context", type=int, default=4000)
    # concise (150 tokens) halves a CPU model's time per answer; the default is the profile's
    parser.add_argument(
        "--style",
        default=DEFAULT_FIELDS.response_style.value,
        choices=[s.value for s in ResponseStyle],
    )
    parser.add_argument("--traits", nargs="+", default=list(TRAITS), choices=TRAITS)
    parser.add_argument("--out", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report, results = asyncio.run(run(args))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for result in results:
            title = f"{result.trait} ({args.label or report['model']})"
            (out / f"{result.trait}.png").write_bytes(calibration_chart(result, title=title))
        (out / "curves.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    print(f"{report['model']} {report['label']}: k={args.samples}, wall {report['wall_s']} s")
    for r in report["traits"]:  # type: ignore[attr-defined]
        levels = "/".join("n/a" if v is None else str(v) for v in r["perceived"].values())
        proxy = "/".join("n/a" if v is None else f"{v:g}" for v in r["proxy_by_setting"].values())
        print(
            f"  {r['trait']:<16} perceived {levels:<20} ρ {r['rho']} "
            f"dead {','.join(r['dead_ranges']) or 'none'} lost {r['lost']}"
            + (f"; {r['proxy']} {proxy}" if r["proxy"] else "")
        )


if __name__ == "__main__":
    main()
