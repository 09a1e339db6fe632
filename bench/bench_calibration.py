"""Wall time and model calls of a full four-trait calibration (the seed's 9 messages, 5 settings,
k samples each) against the fake model with a fixed latency per call, at a concurrency limit.

    python -m bench.bench_calibration [--samples 3] [--latency-ms 300] [--concurrency 4] [--json]

The model is the only thing a calibration waits for (nothing is stored), so the floor is
calls × latency / concurrency; the figure to watch is how close the sweep comes to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from openai import AsyncOpenAI

from bot.domain.profile import DEFAULT_FIELDS, TRAITS
from bot.metrics.calibration import calibrate
from bot.model.llm import LLM
from bot.scenarios.calibration import model_calls, sweep
from storage.scenarios import SEED_SCENARIOS
from tests.fake_openai import FakeOpenAI


async def bench(*, samples: int, latency_s: float, concurrency: int) -> dict[str, object]:
    questions = [m for s in SEED_SCENARIOS for m in s[2]]
    async with FakeOpenAI() as model:
        model.ttft_s = latency_s
        model.judge_delay_s = latency_s
        client = AsyncOpenAI(api_key="sk-bench", base_url=model.base_url, timeout=60.0)
        llm = LLM(client=client, default_model="fake-model", judge_model=None)
        started = time.perf_counter()
        rhos = {}
        for trait in TRAITS:
            got, _ = await sweep(
                llm,
                fields=DEFAULT_FIELDS,
                trait=trait,
                questions=questions,
                samples=samples,
                concurrency=concurrency,
                context_budget_tokens=8000,
            )
            c = calibrate(trait, got).correlation
            rhos[trait] = None if c is None else round(c.rho, 2)
        wall = time.perf_counter() - started
        calls = model_calls(traits=len(TRAITS), questions=len(questions), samples=samples)
        return {
            "samples": samples,
            "latency_ms": latency_s * 1000,
            "concurrency": concurrency,
            "model_calls_planned": calls,
            "model_calls_made": len(model.requests),
            "max_in_flight": model.max_in_flight,
            "wall_s": round(wall, 2),
            # each sample is an answer then a judge call, in sequence
            "floor_s": round(calls * latency_s / concurrency, 2),
            "rho": rhos,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(
        bench(samples=args.samples, latency_s=args.latency_ms / 1000, concurrency=args.concurrency)
    )
    print(
        json.dumps(result, indent=2)
        if args.json
        else "\n".join(f"{k}: {v}" for k, v in result.items())
    )


if __name__ == "__main__":
    main()
