"""The job queue: its overhead per job (enqueue → the handler starts), and scenario runs of 9 and
200 messages through it (Slack path: signed `/bot scenario run all`, the in-process worker, the
fake model with a concurrency limit answering 429 beyond it).

    python -m bench.bench_queue [--jobs 200] [--limit 4] [--ttft-ms 300] [--big 200] [--json]

For each run: when every message was answered and stored, when the summary was posted, and the
bound the issue sets: the larger of the slowest single message and what the endpoint's limit
allows (ceil(messages / limit) rounds of one message each). Thread posts are paced by Slack's
limit (ten at once, then one a second per channel), which bounds the summary of a big run.

The A/B case: `/bot ab` with --ab-pairs messages (at most 20), one job per pair; seconds until
voting opened, against the larger of what the endpoint's limit allows (a pair takes two answer
slots: ceil(pairs / (limit / 2)) rounds of one pair alone) and the channel's post pace.

The kill case: a --kill-messages run (50) answered by two `romashka worker` processes and no
worker in the app; one is killed with SIGKILL once half the messages are stored. Wall time to
the run's completion, results lost and duplicated (expected 0 / 0), thread posts lost and
duplicated, and the recovery delay: from the kill until another worker picked the first and the
last of the jobs the dead one held (PgQueuer hands a job on once its heartbeat is
JOB_HEARTBEAT_TIMEOUT_S old; --kill-heartbeat-s sets it for both workers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pgqueuer import Job, Queries, QueueManager
from pgqueuer.adapters.drivers.asyncpg import AsyncpgPoolDriver

from bench.harness import Harness, harness
from bot.domain.profile import DEFAULT_FIELDS
from storage import profiles as profiles_repo
from storage import scenarios as scenarios_repo
from tests.slack_driver import SIGNING_SECRET, TEAM, USER

NOOP: Final = "bench_noop"
RUN_TIMEOUT_S: Final = 900.0
MESSAGES_PER_SCENARIO: Final = 20  # the most a scenario holds


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


async def queue_overhead(h: Harness, *, jobs: int) -> dict[str, float]:
    """Jobs enqueued one at a time, 20 ms apart, each handler noting when it started."""
    started: dict[int, float] = {}
    enqueued: dict[int, float] = {}
    all_started = asyncio.Event()
    qm = QueueManager(Queries(AsyncpgPoolDriver(h.pool)))

    @qm.entrypoint(NOOP)
    async def noop(job: Job) -> None:
        started[int(job.payload or b"0")] = time.monotonic()
        if len(started) == jobs:
            all_started.set()

    runner = asyncio.create_task(
        qm.run(batch_size=5, max_concurrent_tasks=10, dequeue_timeout=timedelta(seconds=5))
    )
    queries = Queries(AsyncpgPoolDriver(h.pool))
    await asyncio.sleep(0.5)  # the worker listens
    for i in range(jobs):
        enqueued[i] = time.monotonic()
        await queries.enqueue(NOOP, str(i).encode())
        await asyncio.sleep(0.02)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_started.wait(), timeout=30)
    qm.shutdown.set()
    await asyncio.wait_for(runner, timeout=30)
    waits = [(started[i] - enqueued[i]) * 1000 for i in started]
    return {
        "jobs": jobs,
        "started": len(started),
        "median_ms": round(statistics.median(waits), 1),
        "p95_ms": round(_pct(waits, 0.95), 1),
        "max_ms": round(max(waits), 1),
    }


async def run_all(h: Harness, *, limit: int) -> dict[str, Any]:
    """`/bot scenario run all`; seconds until every result is done and until the summary."""
    first = len(h.slack.calls)
    h.model.answer_limit = limit
    h.model.rejected = 0
    h.model.max_in_flight = 0
    before = await h.pool.fetchval("SELECT coalesce(max(id), 0) FROM scenario_runs")
    t0 = time.monotonic()
    db_t0 = await h.pool.fetchval("SELECT now()")
    response = await h.driver.command("scenario run all")
    if response.status != 200:
        raise RuntimeError(f"/bot scenario run all was refused: {response.status}")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        row = await h.pool.fetchrow(
            "SELECT id, status FROM scenario_runs WHERE id > $1 ORDER BY id LIMIT 1", before
        )
        if row is not None and row["status"] == "completed":
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the run did not complete")
        await asyncio.sleep(0.05)
    summary_s = time.monotonic() - t0
    stats = await h.pool.fetchrow(
        """
        SELECT count(*) AS n, count(*) FILTER (WHERE error_kind IS NOT NULL) AS failed,
               count(DISTINCT (scenario_id, position)) AS distinct_items,
               extract(epoch FROM max(done_at) - $2)::float8 AS answered_s
        FROM test_results WHERE run_id = $1
        """,
        row["id"],
        db_t0,
    )
    posts = sum(
        1
        for c in h.slack.calls[first:]
        if c.method == "chat.postMessage" and c.args.get("thread_ts")
    )
    return {
        "messages": stats["n"],
        "distinct": stats["distinct_items"],
        "failed": stats["failed"],
        "answered_s": round(stats["answered_s"], 2),
        "summary_s": round(summary_s, 2),
        "thread_posts": posts,
        "rejected_429": h.model.rejected,
        "answers_in_flight": h.model.max_in_flight,
    }


async def single_message(h: Harness) -> float:
    """One message alone (a one-message scenario), answered and judged, through the queue."""
    scenario = await scenarios_repo.create_scenario(
        h.pool,
        team_id=TEAM,
        name="Bench single",
        description="",
        messages=["What are your opening hours?"],
        behaviours=["helpful"],
        user_id=USER,
    )
    before = await h.pool.fetchval("SELECT coalesce(max(id), 0) FROM scenario_runs")
    t0 = await h.pool.fetchval("SELECT now()")
    await h.driver.command("scenario run Bench single")
    while True:
        seconds = await h.pool.fetchval(
            """
            SELECT extract(epoch FROM max(t.done_at) - $2)::float8
            FROM scenario_runs r JOIN test_results t ON t.run_id = r.id
            WHERE r.id > $1 AND r.status = 'completed'
            """,
            before,
            t0,
        )
        if seconds is not None:
            break
        await asyncio.sleep(0.05)
    await scenarios_repo.delete_scenario(h.pool, team_id=TEAM, scenario_id=scenario.id)
    return float(seconds)


async def ab_test(h: Harness, *, pairs: int, limit: int) -> dict[str, Any]:
    """`/bot ab` of two versions on `pairs` messages; seconds until voting opened."""
    first = len(h.slack.calls)
    h.model.answer_limit = limit
    h.model.rejected = 0
    before = await h.pool.fetchval("SELECT coalesce(max(id), 0) FROM ab_tests")
    questions = " ".join(f'"Question {i + 1}: where is my order?"' for i in range(pairs))
    t0 = time.monotonic()
    response = await h.driver.command(f"ab BenchAB@1 BenchAB@2 {questions}")
    if response.status != 200:
        raise RuntimeError(f"/bot ab was refused: {response.status}")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        row = await h.pool.fetchrow(
            "SELECT id, status FROM ab_tests WHERE id > $1 ORDER BY id LIMIT 1", before
        )
        if row is not None and row["status"] not in ("answering",):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the A/B test did not open")
        await asyncio.sleep(0.05)
    open_s = time.monotonic() - t0
    stats = await h.pool.fetchrow(
        """
        SELECT count(*) AS n, count(*) FILTER (WHERE failure IS NOT NULL) AS failed,
               count(DISTINCT result_a_id) + count(DISTINCT result_b_id) AS sides
        FROM ab_messages WHERE ab_test_id = $1
        """,
        row["id"],
    )
    stored = await h.pool.fetchval(
        "SELECT count(*) FROM test_results WHERE kind = 'ab' AND thread_ts = "
        "(SELECT parent_ts FROM ab_tests WHERE id = $1)",
        row["id"],
    )
    posts = sum(
        1
        for c in h.slack.calls[first:]
        if c.method == "chat.postMessage" and c.args.get("thread_ts")
    )
    return {
        "status": row["status"],
        "pairs": stats["n"],
        "failed": stats["failed"],
        "sides_linked": stats["sides"],
        "answers_stored": stored,
        "open_s": round(open_s, 2),
        "thread_posts": posts,
        "rejected_429": h.model.rejected,
    }


def _worker_env(h: Harness, *, heartbeat_s: float, ceiling: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": "xoxb-bench-worker",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": h.slack.api_url,
            "DATABASE_URL": str(h.driver.deps.settings.database_url),
            "OPENAI_BASE_URL": h.model.base_url,
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_TIMEOUT": "60",
            "SCENARIO_CONCURRENCY": str(ceiling),
            "JOB_HEARTBEAT_TIMEOUT_S": f"{heartbeat_s:g}",
        }
    )
    return env


async def _start_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "worker",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _seed_messages(h: Harness, *, total: int, prefix: str) -> None:
    for k in range(math.ceil(total / MESSAGES_PER_SCENARIO)):
        count = min(MESSAGES_PER_SCENARIO, total - k * MESSAGES_PER_SCENARIO)
        await scenarios_repo.create_scenario(
            h.pool,
            team_id=TEAM,
            name=f"{prefix} {k + 1}",
            description="",
            messages=[
                f"Question {k + 1}.{i + 1}: how do I reset my password?" for i in range(count)
            ],
            behaviours=["helpful", "empathetic"],
            user_id=USER,
        )


async def kill_case(
    *, messages: int, limit: int, ceiling: int, ttft_ms: float, heartbeat_s: float
) -> dict[str, Any]:
    """`/bot scenario run all` over `messages` messages on two `romashka worker` processes;
    one is SIGKILLed once half the results are stored."""
    async with harness(
        ttft_s=ttft_ms / 1000, token_interval_s=0.02, scenario_concurrency=ceiling, worker=False
    ) as h:
        h.model.judge_delay_s = ttft_ms / 1000
        h.model.answer_limit = limit
        await profiles_repo.create_profile(
            h.pool, team_id=TEAM, name="Bench", fields=DEFAULT_FIELDS, user_id=USER
        )
        # the run holds these messages alone (not the seed scenarios a first run would add)
        await scenarios_repo.ensure_seeded(h.pool, team_id=TEAM)
        for s in await scenarios_repo.list_scenarios(h.pool, team_id=TEAM):
            await scenarios_repo.delete_scenario(h.pool, team_id=TEAM, scenario_id=s.id)
        await _seed_messages(h, total=messages, prefix="Kill")
        env = _worker_env(h, heartbeat_s=heartbeat_s, ceiling=ceiling)
        workers = [await _start_worker(env), await _start_worker(env)]
        try:
            t0 = time.monotonic()
            response = await h.driver.command("scenario run all")
            if response.status != 200:
                raise RuntimeError(f"/bot scenario run all was refused: {response.status}")
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while await h.pool.fetchval("SELECT count(*) FROM test_results") < messages // 2:
                if time.monotonic() > deadline:
                    raise RuntimeError("the workers did not answer half the run")
                await asyncio.sleep(0.02)
            victim = workers[0]
            os.kill(victim.pid, signal.SIGKILL)
            await victim.wait()
            killed_at = await h.pool.fetchval("SELECT clock_timestamp()")
            kill_s = time.monotonic() - t0
            stored_at_kill = await h.pool.fetchval("SELECT count(*) FROM test_results")
            held = await h.pool.fetch(
                "SELECT id, heartbeat, entrypoint FROM pgqueuer WHERE status = 'picked'"
            )
            # the survivor beats every half timeout: a held job whose heartbeat has not moved
            # after more than that (and is still picked by the same worker) was the dead one's
            await asyncio.sleep(heartbeat_s * 0.6)
            orphans = [
                r["id"]
                for r in await h.pool.fetch(
                    """
                    SELECT q.id FROM pgqueuer q JOIN unnest($1::bigint[], $2::timestamptz[])
                        AS s(id, beat) ON s.id = q.id
                    WHERE q.status = 'picked' AND q.heartbeat = s.beat
                    """,
                    [r["id"] for r in held],
                    [r["heartbeat"] for r in held],
                )
            ]
            repicked: dict[int, float] = {}
            beats = {r["id"]: r["heartbeat"] for r in held}
            while len(repicked) < len(orphans):
                if time.monotonic() > deadline:
                    raise RuntimeError("the dead worker's jobs were not picked again")
                rows = await h.pool.fetch(
                    "SELECT id, status, heartbeat, clock_timestamp() - $2::timestamptz AS since"
                    " FROM pgqueuer WHERE id = ANY($1::bigint[])",
                    orphans,
                    killed_at,
                )
                seen = {r["id"]: r for r in rows}
                for job in orphans:
                    row = seen.get(job)
                    moved = (
                        row is None or row["heartbeat"] != beats[job] or row["status"] != "picked"
                    )
                    if moved and job not in repicked:
                        # now − kill: the poll's 20 ms is the resolution
                        since = (
                            row["since"].total_seconds()
                            if row is not None
                            else time.monotonic() - t0 - kill_s
                        )
                        repicked[job] = since
                await asyncio.sleep(0.02)
            while True:
                run = await h.pool.fetchrow("SELECT id, status, parent_ts FROM scenario_runs")
                if run is not None and run["status"] == "completed":
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the run did not complete after the kill")
                await asyncio.sleep(0.05)
            wall_s = time.monotonic() - t0
            while await h.pool.fetchval(
                "SELECT count(*) FROM pgqueuer WHERE status <> 'failed'"
            ):  # thread posts trail the run at Slack's pace
                if time.monotonic() > deadline:
                    raise RuntimeError("the thread posts did not finish")
                await asyncio.sleep(0.05)
            posted_s = time.monotonic() - t0
        finally:
            for proc in workers:
                await _stop(proc)
        stats = await h.pool.fetchrow(
            """
            SELECT count(*) AS n, count(DISTINCT (scenario_id, position)) AS distinct_items,
                   count(*) FILTER (WHERE error_kind IS NOT NULL) AS failed
            FROM test_results WHERE run_id = $1
            """,
            run["id"],
        )
        posts = [
            json.dumps(c.args["blocks"][0], sort_keys=True)
            for c in h.slack.of("chat.postMessage")
            if c.args.get("thread_ts") == run["parent_ts"] and c.response.get("ok")
        ]
    return {
        "messages": messages,
        "heartbeat_timeout_s": heartbeat_s,
        "killed_after_s": round(kill_s, 2),
        "stored_at_kill": stored_at_kill,
        "jobs_held_by_the_dead_worker": len(orphans),
        "recovery_first_s": round(min(repicked.values()), 2) if repicked else None,
        "recovery_last_s": round(max(repicked.values()), 2) if repicked else None,
        "wall_s": round(wall_s, 2),
        "posted_s": round(posted_s, 2),
        "stored": stats["n"],
        "lost": messages - stats["distinct_items"],
        "duplicated": stats["n"] - stats["distinct_items"],
        "failed": stats["failed"],
        "posts_lost": messages - len(set(posts)),
        "posts_duplicated": len(posts) - len(set(posts)),
    }


async def bench(
    *,
    jobs: int,
    limit: int,
    ceiling: int,
    ttft_ms: float,
    big: int,
    ab_pairs: int = 20,
    kill_messages: int = 50,
    kill_heartbeat_s: float = 10.0,
) -> dict[str, Any]:
    date = datetime.now(UTC)
    async with harness(
        ttft_s=ttft_ms / 1000, token_interval_s=0.02, scenario_concurrency=ceiling
    ) as h:
        h.model.judge_delay_s = ttft_ms / 1000
        overhead = await queue_overhead(h, jobs=jobs)
        await scenarios_repo.ensure_seeded(h.pool, team_id=TEAM)
        await profiles_repo.create_profile(
            h.pool, team_id=TEAM, name="Bench", fields=DEFAULT_FIELDS, user_id=USER
        )
        single_s = statistics.median([await single_message(h) for _ in range(3)])
        runs = {"9": await run_all(h, limit=limit)}
        for s in await scenarios_repo.list_scenarios(h.pool, team_id=TEAM):
            await scenarios_repo.delete_scenario(h.pool, team_id=TEAM, scenario_id=s.id)
        for k in range(math.ceil(big / MESSAGES_PER_SCENARIO)):
            count = min(MESSAGES_PER_SCENARIO, big - k * MESSAGES_PER_SCENARIO)
            await scenarios_repo.create_scenario(
                h.pool,
                team_id=TEAM,
                name=f"Bench {k + 1}",
                description="",
                messages=[
                    f"Question {k + 1}.{i + 1}: how do I reset my password?" for i in range(count)
                ],
                behaviours=["helpful", "empathetic"],
                user_id=USER,
            )
        runs[str(big)] = await run_all(h, limit=limit)
        version = await profiles_repo.create_profile(
            h.pool, team_id=TEAM, name="BenchAB", fields=DEFAULT_FIELDS, user_id=USER
        )
        await profiles_repo.save_version(
            h.pool,
            team_id=TEAM,
            profile_id=version.profile_id,
            fields=replace(DEFAULT_FIELDS, bot_name="Bench B"),
            user_id=USER,
        )
        single_pair = await ab_test(h, pairs=1, limit=limit)
        ab = await ab_test(h, pairs=ab_pairs, limit=limit)
        server_version = await h.pool.fetchval("SHOW server_version")
    killed = (
        await kill_case(
            messages=kill_messages,
            limit=limit,
            ceiling=ceiling,
            ttft_ms=ttft_ms,
            heartbeat_s=kill_heartbeat_s,
        )
        if kill_messages
        else None
    )
    for n, r in runs.items():
        bound = max(single_s, math.ceil(int(n) / limit) * single_s)
        r["bound_s"] = round(bound, 2)
        r["answered_vs_bound"] = round(r["answered_s"] / bound, 2)
    # a pair holds two of the endpoint's slots; posts: ten at once, then one a second
    answering = math.ceil(ab_pairs / max(1, limit // 2)) * single_pair["open_s"]
    pacing = max(0, ab_pairs - 10) * 1.0
    ab["single_pair_s"] = single_pair["open_s"]
    ab["bound_s"] = round(max(answering, pacing, single_pair["open_s"]), 2)
    ab["open_vs_bound"] = round(ab["open_s"] / ab["bound_s"], 2)
    return {
        "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "settings": {
            "scenario_concurrency": ceiling,
            "endpoint_limit": limit,
            "ttft_ms": ttft_ms,
            "single_message_s": round(single_s, 2),
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgres": "embedded" if h.embedded else "external (TEST_DATABASE_URL)",
            "postgres_version": server_version,
        },
        "queue_overhead": overhead,
        "runs": runs,
        "ab": ab,
        "kill": killed,
    }


def kill_line(k: dict[str, Any]) -> str:
    return (
        f"kill -9: {k['messages']} messages on two `romashka worker`, one SIGKILLed after "
        f"{k['killed_after_s']} s ({k['stored_at_kill']} stored, "
        f"{k['jobs_held_by_the_dead_worker']} jobs held): completed in {k['wall_s']} s "
        f"(posts done {k['posted_s']} s); results lost {k['lost']}, duplicated "
        f"{k['duplicated']}, failed {k['failed']}; posts lost {k['posts_lost']}, duplicated "
        f"{k['posts_duplicated']}; held jobs picked again {k['recovery_first_s']}–"
        f"{k['recovery_last_s']} s after the kill "
        f"(JOB_HEARTBEAT_TIMEOUT_S {k['heartbeat_timeout_s']:g})"
    )


def render(report: dict[str, Any]) -> str:
    o = report["queue_overhead"]
    lines = [
        f"bench_queue — {report['date']} — {report['machine']['platform']}, "
        f"{report['machine']['cpus']} CPUs, PostgreSQL {report['machine']['postgres_version']}",
        f"queue overhead (enqueue → start), {o['started']}/{o['jobs']} jobs: "
        f"median {o['median_ms']} ms, p95 {o['p95_ms']} ms, max {o['max_ms']} ms",
        f"endpoint limit {report['settings']['endpoint_limit']} answers at once (429 beyond), "
        f"SCENARIO_CONCURRENCY {report['settings']['scenario_concurrency']}; "
        f"one message alone {report['settings']['single_message_s']} s",
        "messages | answered s | bound s | ratio | summary s | thread posts | 429s | failed | dup",
    ]
    for n, r in report["runs"].items():
        lines.append(
            f"{n:>8} | {r['answered_s']:>10} | {r['bound_s']:>7} | {r['answered_vs_bound']:>5} | "
            f"{r['summary_s']:>9} | {r['thread_posts']:>12} | {r['rejected_429']:>4} | "
            f"{r['failed']:>6} | {r['messages'] - r['distinct']:>3}"
        )
    ab = report["ab"]
    lines.append(
        f"A/B {ab['pairs']} pairs: voting {ab['status']} after {ab['open_s']} s "
        f"(bound {ab['bound_s']} s, ratio {ab['open_vs_bound']}; one pair alone "
        f"{ab['single_pair_s']} s); {ab['thread_posts']} thread posts, {ab['rejected_429']} 429s, "
        f"{ab['failed']} failed, {ab['answers_stored']} answers stored for "
        f"{ab['sides_linked']} sides"
    )
    k = report.get("kill")
    if k:
        lines.append(kill_line(k))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_queue", description=__doc__)
    parser.add_argument("--jobs", type=int, default=200, help="jobs for the overhead measure")
    parser.add_argument("--limit", type=int, default=4, help="the fake endpoint's concurrency")
    parser.add_argument(
        "--ceiling",
        type=int,
        default=4,
        help="SCENARIO_CONCURRENCY (the shared budget's ceiling); above --limit, 429s follow",
    )
    parser.add_argument("--ttft-ms", type=float, default=300.0, help="model's time to first token")
    parser.add_argument("--big", type=int, default=200, help="messages of the big run")
    parser.add_argument("--ab-pairs", type=int, default=20, help="pairs of the A/B test (≤ 20)")
    parser.add_argument(
        "--kill-messages", type=int, default=50, help="messages of the kill -9 case (0: skip)"
    )
    parser.add_argument(
        "--kill-heartbeat-s",
        type=float,
        default=10.0,
        help="JOB_HEARTBEAT_TIMEOUT_S of the kill case's two workers",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--kill-only", action="store_true", help="run the kill -9 case alone (about a minute)"
    )
    args = parser.parse_args(argv)
    if args.kill_only:
        date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        killed = asyncio.run(
            kill_case(
                messages=args.kill_messages or 50,
                limit=args.limit,
                ceiling=args.ceiling,
                ttft_ms=args.ttft_ms,
                heartbeat_s=args.kill_heartbeat_s,
            )
        )
        only = {"date": date, "kill": killed}
        print(json.dumps(only, indent=2) if args.json else f"{date}\n{kill_line(killed)}")
        return 0
    report = asyncio.run(
        bench(
            jobs=args.jobs,
            limit=args.limit,
            ceiling=args.ceiling,
            ttft_ms=args.ttft_ms,
            big=args.big,
            ab_pairs=args.ab_pairs,
            kill_messages=args.kill_messages,
            kill_heartbeat_s=args.kill_heartbeat_s,
        )
    )
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
