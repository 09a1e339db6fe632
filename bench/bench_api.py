"""The read API's latency, as the live bot meets it: a full answer (200) and a poll that finds
nothing new (304), over HTTP to the real aiohttp server with real PostgreSQL.

    python -m bench.bench_api [--calls 500] [--concurrency 1] [--json]

A fresh migrated database (embedded PostgreSQL unless TEST_DATABASE_URL is set), one profile
with the seed's example knowledge at `production`, and one API token. The server is the read API
alone (`bot.api.api_app`, as Socket Mode serves it on API_PORT; in HTTP mode the same routes share
the app's server), on 127.0.0.1, with the rate limit raised out of the way. Each kind of request
is sent `--calls` times after 20 unmeasured ones, from `--concurrency` clients at once; times are
measured by the client around each request (connection kept alive).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, Final

import aiohttp
from aiohttp import web

from bench.common import machine, machine_line, percentile
from bench.harness import fresh_database
from bot.domain.profile import DEFAULT_FIELDS
from bot.release import api
from bot.release.api_tokens import new_secret, token_hash
from bot.startup.deps import Deps
from bot.startup.settings import Settings
from storage import api_tokens as tokens_repo
from storage import labels as labels_repo
from storage import profiles as profiles_repo
from storage.db import create_pool

TEAM: Final = "TBENCH"
WARMUP: Final = 20
PATH: Final = "/v1/profiles/Support?label=production"


async def _measure(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], *, calls: int, workers: int
) -> tuple[list[float], int, set[int]]:
    times: list[float] = []
    statuses: set[int] = set()
    size = 0

    async def one() -> None:
        nonlocal size
        start = time.perf_counter()
        async with session.get(url, headers=headers) as response:
            body = await response.read()
        times.append((time.perf_counter() - start) * 1000)
        statuses.add(response.status)
        size = len(body)

    for _ in range(WARMUP):
        await one()
    times.clear()
    per_worker = calls // workers

    async def worker() -> None:
        for _ in range(per_worker):
            await one()

    await asyncio.gather(*(worker() for _ in range(workers)))
    return times, size, statuses


def _figures(times: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(times, 50), 2),
        "p95_ms": round(percentile(times, 95), 2),
        "max_ms": round(max(times), 2),
    }


async def run(calls: int, concurrency: int) -> dict[str, Any]:
    async with fresh_database() as (dsn, embedded):
        pool = await create_pool(dsn, min_size=1, max_size=10)
        try:
            version = await profiles_repo.create_profile(
                pool, team_id=TEAM, name="Support", fields=DEFAULT_FIELDS, user_id="U"
            )
            await labels_repo.move_label(
                pool,
                team_id=TEAM,
                profile_id=version.profile_id,
                label="production",
                expected=None,
                to_version=1,
                user_id="U",
            )
            secret = new_secret()
            await tokens_repo.create(
                pool, team_id=TEAM, name="bench", token_hash=token_hash(secret), user_id="U"
            )
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                slack_bot_token="xoxb-bench",  # type: ignore[arg-type]
                slack_signing_secret="bench-secret",  # type: ignore[arg-type]
                database_url=dsn,
                api_rate_limit_per_minute=100_000,
            )
            runner = web.AppRunner(api.api_app(Deps(settings=settings, pool=pool)))
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            url = f"http://127.0.0.1:{port}{PATH}"
            auth = {"Authorization": f"Bearer {secret}"}
            try:
                async with aiohttp.ClientSession() as session:
                    async with session.get(url, headers=auth) as response:
                        etag = response.headers["ETag"]
                    full, full_size, full_statuses = await _measure(
                        session, url, auth, calls=calls, workers=concurrency
                    )
                    polled, poll_size, poll_statuses = await _measure(
                        session,
                        url,
                        {**auth, "If-None-Match": etag},
                        calls=calls,
                        workers=concurrency,
                    )
            finally:
                await runner.cleanup()
            server_version = await pool.fetchval("SHOW server_version")
        finally:
            await pool.close()
    assert full_statuses == {200} and poll_statuses == {304}, (full_statuses, poll_statuses)
    return {
        "machine": machine(embedded=embedded, postgres_version=str(server_version)),
        "calls": calls,
        "concurrency": concurrency,
        "full_200": {**_figures(full), "body_bytes": full_size},
        "poll_304": {**_figures(polled), "body_bytes": poll_size},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_api", description=__doc__)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.calls, args.concurrency))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(machine_line(result["machine"]))
    for name in ("full_200", "poll_304"):
        f = result[name]
        print(
            f"{name}: p50 {f['p50_ms']} ms · p95 {f['p95_ms']} ms · max {f['max_ms']} ms · "
            f"{f['body_bytes']} bytes ({args.calls} calls, {args.concurrency} at once)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
