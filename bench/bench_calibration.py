"""Wall time and model calls of a full four-trait calibration (the seed's 9 messages, 5 settings,
k samples each) against the fake model with a fixed latency per call, at a concurrency limit.

    python -m bench.bench_calibration [--samples 3] [--latency-ms 300] [--concurrency 4] [--json]
        [--queued postgresql://postgres@127.0.0.1:5432/postgres]

The model is the only thing a calibration waits for, so the floor is calls × latency /
concurrency; the figure to watch is how close the sweep comes to it. By default the sweep runs
in this process (`sweep`); with `--queued ADMIN_DSN` it runs as `romashka calibrate` does: a
fresh database is made and migrated, the sweep's cells are queued as jobs and this process's
headless worker answers them (each cell stored, the model budget leased per call, the report
stored), so the two figures show what the queue costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from openai import AsyncOpenAI

from bot.domain.profile import DEFAULT_FIELDS, TRAITS
from bot.jobs.calibration_headless import run_queued
from bot.jobs.context import HeadlessDeps
from bot.jobs.payloads import CALIBRATION_CELL_HEADLESS
from bot.metrics.calibration import calibrate
from bot.model.llm import LLM
from bot.scenarios.calibration import model_calls, queue_run, sweep
from bot.startup.runtime import database
from bot.startup.settings import CoreSettings
from storage import calibrations as calibrations_repo
from storage import profiles as profiles_repo
from storage.scenarios import SEED_SCENARIOS
from tests.fake_openai import FakeOpenAI


async def _queued(
    admin_dsn: str, llm: LLM, model: FakeOpenAI, *, samples: int, concurrency: int
) -> dict[str, float | None]:
    name = f"romashka_bench_cal_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{name}"))
    try:
        settings = CoreSettings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=dsn,
            openai_base_url=model.base_url,  # type: ignore[arg-type]
            scenario_concurrency=concurrency,
        )
        async with database(settings) as pool:
            version = await profiles_repo.create_profile(
                pool, team_id="TBENCH", name="Bench", fields=DEFAULT_FIELDS, user_id="U"
            )
            started = time.perf_counter()
            run = await queue_run(
                pool,
                version=version,
                traits=TRAITS,
                questions=list(dict.fromkeys(m for s in SEED_SCENARIOS for m in s[2])),
                samples=samples,
                scenario=None,
                channel_id=None,
                thread_ts=None,
                created_by="bench",
                entrypoint=CALIBRATION_CELL_HEADLESS,
            )
            ended = await run_queued(
                HeadlessDeps(settings=settings, pool=pool, llm=llm),
                run=run,
                concurrency=concurrency,
            )
            assert ended.status == "completed", ended.failure
            wall = time.perf_counter() - started
            stored = await calibrations_repo.of_run(pool, team_id="TBENCH", run_id=run.id)
        rhos: dict[str, float | None] = {
            c.trait: None
            if c.result.get("correlation") is None
            else round(float(c.result["correlation"]["rho"]), 2)
            for c in stored
        }
        return {"wall_s": wall, **rhos}
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def bench(
    *, samples: int, latency_s: float, concurrency: int, queued: str | None = None
) -> dict[str, object]:
    questions = list(dict.fromkeys(m for s in SEED_SCENARIOS for m in s[2]))
    async with FakeOpenAI() as model:
        model.ttft_s = latency_s
        model.judge_delay_s = latency_s
        client = AsyncOpenAI(api_key="sk-bench", base_url=model.base_url, timeout=60.0)
        llm = LLM(client=client, default_model="fake-model", judge_model=None)
        if queued is not None:
            queued_rho = await _queued(queued, llm, model, samples=samples, concurrency=concurrency)
            wall = float(queued_rho.pop("wall_s") or 0.0)
            calls = model_calls(traits=len(TRAITS), questions=len(questions), samples=samples)
            return {
                "mode": "queued (headless worker, one job per cell)",
                "samples": samples,
                "latency_ms": latency_s * 1000,
                "concurrency": concurrency,
                "model_calls_planned": calls,
                "model_calls_made": len(model.requests),
                "max_in_flight": model.max_in_flight,
                "wall_s": round(wall, 2),
                "floor_s": round(calls * latency_s / concurrency, 2),
                "rho": queued_rho,
            }
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
            "mode": "in process",
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
    parser.add_argument("--queued", metavar="ADMIN_DSN", help="run through the job queue")
    args = parser.parse_args()
    result = asyncio.run(
        bench(
            samples=args.samples,
            latency_s=args.latency_ms / 1000,
            concurrency=args.concurrency,
            queued=args.queued,
        )
    )
    print(
        json.dumps(result, indent=2)
        if args.json
        else "\n".join(f"{k}: {v}" for k, v in result.items())
    )


if __name__ == "__main__":
    main()
