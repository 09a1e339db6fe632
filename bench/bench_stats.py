"""How long `/bot stats` and the App Home tab take to assemble in a busy workspace: 100,000 stored
answers over 1,000 versions (20 profiles × 50), bulk-loaded with COPY into a fresh database.

    python -m bench.bench_stats [--runs N] [--results N] [--json]

"Assembly" is the app's own code path (queries, figures, Block Kit) without Slack's HTTP call;
"signed" is the whole path through a signed request to what the fake Slack receives.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import asyncpg

from bench.harness import Harness, harness
from bot import home_tab as home
from bot.ab import leaderboard
from bot.domain.profile import TRAITS
from bot.domain.verdict import Outcome
from bot.metrics import judge_report
from commands import stats as stats_command
from commands.parse import parse
from commands.request import SlashRequest
from storage import stats as stats_repo
from tests.slack_driver import CHANNEL, TEAM, USER

PROFILES: Final = 20
VERSIONS_PER_PROFILE: Final = 50
SPAN_DAYS: Final = 180
# the benchmarked profile gets this share of all answers: the heavy case, not the average one
SUPPORT_SHARE: Final = 0.3
AB_TESTS: Final = 300
AB_RECENT_VERSIONS: Final = 5  # A/B tests pit each profile's latest versions against each other
SEED: Final = 20261124


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


async def generate(pool: asyncpg.Pool, *, results: int) -> dict[str, int]:
    """Bulk-load a workspace; returns row counts."""
    async with pool.acquire() as con:
        # COPY is binary and the pool's jsonb codec is text-only: asyncpg's own codec, which
        # takes JSON text, is used for the load and the pool's is put back afterwards
        await con.reset_type_codec("jsonb", schema="pg_catalog")
        try:
            async with con.transaction():
                await _load(con, random.Random(SEED), results=results)
        finally:
            await con.set_type_codec(
                "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
            )
    await pool.execute("ANALYZE")
    counts = {}
    for table in ("profiles", "profile_versions", "test_results", "result_feedback",
                  "ab_tests", "ab_votes"):  # fmt: skip
        counts[table] = int(await pool.fetchval(f"SELECT count(*) FROM {table}"))
    return counts


async def _load(con: asyncpg.Connection, rng: random.Random, *, results: int) -> None:
    now = datetime.now(UTC)
    start = now - timedelta(days=SPAN_DAYS)
    step = timedelta(days=SPAN_DAYS / VERSIONS_PER_PROFILE)
    await con.execute("INSERT INTO workspaces (team_id, scenarios_seeded) VALUES ($1, true)", TEAM)
    names = ["Support"] + [f"Profile{n:02d}" for n in range(1, PROFILES)]
    await con.copy_records_to_table(
        "profiles",
        records=[(TEAM, n, VERSIONS_PER_PROFILE, USER, start) for n in names],
        columns=["team_id", "name", "current_version", "created_by", "created_at"],
    )
    profile_ids = {
        r["name"]: r["id"]
        for r in await con.fetch("SELECT id, name FROM profiles WHERE team_id = $1", TEAM)
    }
    await con.execute(
        "UPDATE workspaces SET default_profile_id = $2 WHERE team_id = $1",
        TEAM,
        profile_ids["Support"],
    )
    versions = []
    for name, pid in profile_ids.items():
        for v in range(1, VERSIONS_PER_PROFILE + 1):
            traits = [rng.randrange(0, 101) for _ in TRAITS]
            versions.append(
                (TEAM, pid, v, f"{name} bot", ":robot_face:", *traits, "conversational",
                 "", USER, start + (v - 1) * step)
            )  # fmt: skip
    await con.copy_records_to_table(
        "profile_versions",
        records=versions,
        columns=[
            "team_id", "profile_id", "version", "bot_name", "avatar_emoji", *TRAITS,
            "response_style", "custom_instructions", "created_by", "created_at",
        ],
    )  # fmt: skip
    rows = await con.fetch(
        f"SELECT id, profile_id, version, {', '.join(TRAITS)} FROM profile_versions"
        " WHERE team_id = $1",
        TEAM,
    )
    by_profile: dict[int, list[Any]] = {}
    for r in rows:
        by_profile.setdefault(r["profile_id"], []).append(r)
    for vs in by_profile.values():
        vs.sort(key=lambda r: r["version"])
    support = by_profile[profile_ids["Support"]]
    others = [v for pid, vs in by_profile.items() if pid != profile_ids["Support"] for v in vs]

    records = []
    kinds = ["test"] * 12 + ["followup"] * 3 + ["scenario"] * 4 + ["ab"]
    for _ in range(results):
        version = rng.choice(support) if rng.random() < SUPPORT_SHARE else rng.choice(others)
        born = start + (version["version"] - 1) * step
        created = born + timedelta(seconds=rng.uniform(0, step.total_seconds()))
        kind = rng.choice(kinds)
        failed = rng.random() < 0.02
        perceived = {t: max(0, min(100, version[t] + rng.randint(-25, 25))) for t in TRAITS}
        gap = sum(abs(perceived[t] - version[t]) for t in TRAITS) / len(TRAITS)
        analysed = not failed and rng.random() < 0.9
        behaviours = (
            [
                {"behaviour": b, "score": s, "passed": s >= 70, "reason": "…"}
                for b in ("polite", "accurate", "brief")
                for s in [rng.randint(30, 100)]
            ]
            if kind == "scenario" and not failed
            else None
        )
        ttft = rng.lognormvariate(math.log(400), 0.4)
        records.append(
            (
                TEAM, version["id"], kind, CHANNEL, USER, "How do I cancel my subscription?",
                "" if failed else "You can cancel from Settings → Billing at any time.",
                "gpt-4o-mini", ttft + rng.lognormvariate(math.log(1500), 0.5), ttft,
                None if failed else rng.randint(300, 900),
                None if failed else rng.randint(40, 300),
                json.dumps({"traits": {t: {"target": version[t], "perceived": p}
                                       for t, p in perceived.items()}})
                if analysed else None,
                round(100 - gap, 1) if analysed else None,
                "timeout" if failed else None,
                json.dumps(behaviours) if behaviours else None,
                created,
            )
        )  # fmt: skip
    await con.copy_records_to_table(
        "test_results",
        records=records,
        columns=[
            "team_id", "profile_version_id", "kind", "channel_id", "user_id", "question",
            "answer", "model", "total_ms", "ttft_ms", "prompt_tokens", "completion_tokens",
            "analysis", "alignment", "error_kind", "behaviour_results", "created_at",
        ],
    )  # fmt: skip
    # a fifth of answers are rated by one to three people
    await con.execute(
        """
        INSERT INTO result_feedback (team_id, result_id, user_id, rating)
        SELECT r.team_id, r.id, 'U' || u, CASE WHEN random() < 0.7 THEN 1 ELSE -1 END
        FROM test_results r, generate_series(1, 1 + (r.id % 3)::int) AS u
        WHERE r.team_id = $1 AND r.id % 5 = 0
        """,
        TEAM,
    )
    pairs = [vs[-AB_RECENT_VERSIONS:] for vs in by_profile.values()]
    ab_rows = []
    for _ in range(AB_TESTS):
        a, b = rng.sample(rng.choice(pairs), 2)
        started = now - timedelta(days=rng.uniform(0, 60))
        closed = rng.random() < 0.9
        code = rng.choice(list(Outcome)).value if closed else None
        verdict = {"per_person": {"outcome": code}} if closed else None
        ab_rows.append(
            (TEAM, a["id"], b["id"], USER, started, CHANNEL,
             "closed" if closed else "open", USER if closed else None,
             started + timedelta(hours=2) if closed else None,
             json.dumps(verdict) if verdict else None, code)
        )  # fmt: skip
    await con.copy_records_to_table(
        "ab_tests",
        records=ab_rows,
        columns=[
            "team_id", "version_a_id", "version_b_id", "started_by", "started_at",
            "channel_id", "status", "closed_by", "closed_at", "verdict", "verdict_code",
        ],
    )  # fmt: skip
    await con.execute(
        """
        INSERT INTO ab_messages (team_id, ab_test_id, position, message, a_first)
        SELECT t.team_id, t.id, p, 'Where is my order?', random() < 0.5
        FROM ab_tests t, generate_series(0, 2) AS p WHERE t.team_id = $1
        """,
        TEAM,
    )
    await con.execute(
        """
        INSERT INTO ab_votes (team_id, ab_message_id, user_id, choice)
        SELECT m.team_id, m.id, 'U' || u,
               (ARRAY['a', 'b', 'b', 'tie', 'both_bad'])[1 + floor(random() * 5)::int]
        FROM ab_messages m, generate_series(1, 3) AS u WHERE m.team_id = $1
        """,
        TEAM,
    )


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    await call()  # warm-up: first-use costs (prepared statements, imports) are not the figure
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def signed_stats(h: Harness, text: str) -> float:
    before = len(h.slack.responses)
    started = time.monotonic()
    await h.driver.command(text)
    await h.slack.wait_responses(before + 1, timeout=30)
    return (h.slack.responses[before].at - started) * 1000


async def signed_home(h: Harness) -> float:
    before = len(h.slack.of("views.publish"))
    started = time.monotonic()
    await h.driver.event({"type": "app_home_opened", "user": USER, "channel": "D1", "tab": "home"})
    await h.slack.wait_calls("views.publish", before + 1, timeout=30)
    return (h.slack.of("views.publish")[before].at - started) * 1000


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    async with harness() as h:
        t0 = time.perf_counter()
        counts = await generate(h.pool, results=args.results)
        load_s = time.perf_counter() - t0
        deps = h.driver.deps
        client = h.driver.app.client

        def stats_call(text: str) -> Callable[[], Awaitable[object]]:
            req = SlashRequest(TEAM, CHANNEL, USER, "trigger", None, text)
            return lambda: stats_command.run(deps, client, req, parse(text))

        in_period = int(
            await h.pool.fetchval(
                """
                SELECT count(*) FROM test_results r
                JOIN profile_versions v ON v.id = r.profile_version_id
                JOIN profiles p ON p.id = v.profile_id
                WHERE p.name = 'Support' AND r.created_at >= now() - interval '30 days'
                """
            )
        )
        figures: dict[str, list[float]] = {}
        figures["stats Support (30 days), assembly"] = await timed(
            args.runs, stats_call("stats Support")
        )
        figures["stats Support --days 365, assembly"] = await timed(
            args.runs, stats_call("stats Support --days 365")
        )
        # the first Home opening after new votes fits the leaderboard; later ones reuse it
        fingerprint = await stats_repo.votes_fingerprint(h.pool, team_id=TEAM)
        started = time.perf_counter()
        await leaderboard.refresh_leaderboard(deps.pool, team_id=TEAM, fingerprint=fingerprint)
        figures["leaderboard fit after new votes (once, off the loop)"] = [
            (time.perf_counter() - started) * 1000
        ]
        figures["Home view, assembly"] = await timed(
            args.runs, lambda: home.build_view(deps.pool, team_id=TEAM)
        )

        # the judges' agreement is kept a minute per process (bot/metrics/judge_report.py):
        # the figures above mostly reuse it; this is the cost of reading it afresh
        async def judges_fresh() -> object:
            judge_report.clear()
            return await judge_report.every(deps.pool, team_id=TEAM)

        figures["judges' agreement, read fresh (3 judges)"] = await timed(args.runs, judges_fresh)
        figures["stats Support, signed command → reply"] = [
            await signed_stats(h, "stats Support") for _ in range(args.runs)
        ]
        figures["Home, signed event → views.publish"] = [
            await signed_home(h) for _ in range(args.runs)
        ]
        return {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, PostgreSQL "
            + str(await h.pool.fetchval("SHOW server_version")),
            "database": "embedded" if h.embedded else "TEST_DATABASE_URL",
            "rows": counts,
            "support_answers_last_30_days": in_period,
            "load_s": round(load_s, 1),
            "runs": args.runs,
            "figures": {
                k: {
                    "median_ms": round(statistics.median(v), 1),
                    "p95_ms": round(_pct(v, 0.95), 1),
                    "n": len(v),
                }
                for k, v in figures.items()
            },
        }


def print_table(out: dict[str, Any]) -> None:
    print(f"{out['date']} · {out['machine']} · {out['database']} database")
    rows = ", ".join(f"{k} {v:,}" for k, v in out["rows"].items())
    print(f"rows: {rows}; loaded in {out['load_s']} s")
    print(f"Support: {out['support_answers_last_30_days']:,} answers in the last 30 days")
    print()
    print(f"| {'figure':<52} | {'median ms':>9} | {'p95 ms':>8} | {'runs':>4} |")
    print(f"|{'-' * 54}|{'-' * 10}:|{'-' * 9}:|{'-' * 5}:|")
    for name, f in out["figures"].items():
        print(f"| {name:<52} | {f['median_ms']:>9.1f} | {f['p95_ms']:>8.1f} | {f['n']:>4} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print_table(out)


if __name__ == "__main__":
    main()
