"""Storage-layer latency with a long history, and the A/B vote insert rate.

    python -m bench.bench_db [--versions 10000] [--calls 200] [--votes 2000] [--users 100]
                             [--concurrency 20] [--pool 10] [--json]

A fresh migrated database (embedded PostgreSQL unless TEST_DATABASE_URL is set). One profile gets
`--versions` versions: the first SAVES through `storage.profiles.save_version` (timed, so the
real per-save cost is known, knowledge copy included), the rest in one `copy_records_to_table`
into profile_versions followed by one UPDATE of profiles.current_version, then ANALYZE (as
autovacuum would soon do on a real server). Then each read is called `--calls` times in a row
through the pool, after 20 unmeasured calls: the current version, the first, a middle and the
last-but-one history page (10 a page), and resolving the profile by name and by channel default.

Votes: an A/B test with 20 messages opened for voting; `--users` people each vote once on every
message (so `--votes` = users x 20 distinct votes), in random order, through `storage.ab.vote`
from `--concurrency` workers sharing a pool of `--pool` connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg

from bench.common import machine, machine_line, percentile
from bench.harness import fresh_database
from bot.domain.profile import DEFAULT_FIELDS, ResponseStyle
from storage import ab as ab_repo
from storage import profiles as profiles_repo
from storage.db import create_pool
from tests.slack_driver import CHANNEL, TEAM, USER

PROFILE: Final = "Bench"
SAVES: Final = 100
WARMUP_CALLS: Final = 20
AB_MESSAGES: Final = 20
PAGE: Final = 10
STYLES: Final = tuple(ResponseStyle)
CHOICES: Final[tuple[ab_repo.Choice, ...]] = ("a", "b", "tie", "both_bad")

_COPY_COLUMNS: Final = (
    "team_id",
    "profile_id",
    "version",
    "bot_name",
    "avatar_emoji",
    "formality",
    "enthusiasm",
    "technical_depth",
    "empathy",
    "response_style",
    "custom_instructions",
    "model",
    "note",
    "created_by",
)


def _ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 50), 3),
        "p95_ms": round(percentile(values, 95), 3),
        "max_ms": round(max(values), 3),
    }


async def _timed(call: Callable[[], Awaitable[object]], calls: int) -> dict[str, float]:
    for _ in range(WARMUP_CALLS):
        # the first calls prepare the statement on each connection they land on
        await call()
    ms = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        ms.append((time.perf_counter() - started) * 1000)
    return _ms(ms)


def _version_row(profile_id: int, version: int) -> tuple[Any, ...]:
    # Fields vary so that the history page has something to diff, like real edits would.
    return (
        TEAM,
        profile_id,
        version,
        f"Bench bot {version % 7}",
        ":robot_face:",
        version % 101,
        (version * 7) % 101,
        (version * 13) % 101,
        (version * 29) % 101,
        STYLES[version % len(STYLES)].value,
        f"Edit number {version}.",
        None,
        f"bulk {version}",
        USER,
    )


async def build_history(pool: asyncpg.Pool, versions: int) -> dict[str, Any]:
    first = await profiles_repo.create_profile(
        pool, team_id=TEAM, name=PROFILE, fields=DEFAULT_FIELDS, user_id=USER
    )
    profile_id = first.profile_id
    saves = min(SAVES, versions - 1)
    save_ms = []
    for n in range(saves):
        fields = replace(DEFAULT_FIELDS, formality=n % 101, custom_instructions=f"Save {n}.")
        started = time.perf_counter()
        await profiles_repo.save_version(
            pool, team_id=TEAM, profile_id=profile_id, fields=fields, user_id=USER, note="save"
        )
        save_ms.append((time.perf_counter() - started) * 1000)

    bulk = versions - 1 - saves
    started = time.perf_counter()
    if bulk:
        async with pool.acquire() as con, con.transaction():
            await con.copy_records_to_table(
                "profile_versions",
                records=(_version_row(profile_id, v) for v in range(saves + 2, versions + 1)),
                columns=_COPY_COLUMNS,
            )
            await con.execute(
                "UPDATE profiles SET current_version = $3 WHERE team_id = $1 AND id = $2",
                TEAM,
                profile_id,
                versions,
            )
    bulk_s = time.perf_counter() - started
    await pool.execute("ANALYZE profiles, profile_versions")
    current = await profiles_repo.current_version(pool, team_id=TEAM, profile_id=profile_id)
    if current.version != versions:
        raise RuntimeError(f"expected version {versions}, found {current.version}")
    return {
        "profile_id": profile_id,
        "version_a_id": first.id,
        "saves": saves,
        "save_p50_ms": round(statistics.median(save_ms), 2) if save_ms else None,
        "save_p95_ms": round(percentile(save_ms, 95), 2) if save_ms else None,
        "bulk_rows": bulk,
        "bulk_s": round(bulk_s, 3),
    }


async def time_reads(pool: asyncpg.Pool, profile_id: int, versions: int, calls: int) -> Any:
    def history(before: int | None) -> Callable[[], Awaitable[object]]:
        return lambda: profiles_repo.history(
            pool, team_id=TEAM, profile_id=profile_id, before_version=before, limit=PAGE
        )

    reads: dict[str, Callable[[], Awaitable[object]]] = {
        "current_version": lambda: profiles_repo.current_version(
            pool, team_id=TEAM, profile_id=profile_id
        ),
        "history_first_page": history(None),
        "history_middle_page": history(versions // 2),
        # the page `More` reaches last: versions 11..2 (and 1 for the diff)
        "history_deep_page": history(PAGE + 2),
        "resolve_by_name": lambda: profiles_repo.resolve_profile(
            pool, team_id=TEAM, channel_id=CHANNEL, name=PROFILE.lower()
        ),
        "resolve_default": lambda: profiles_repo.resolve_profile(
            pool, team_id=TEAM, channel_id=CHANNEL, name=None
        ),
    }
    return {name: await _timed(call, calls) for name, call in reads.items()}


async def vote_rate(
    pool: asyncpg.Pool, *, version_a_id: int, version_b_id: int, users: int, concurrency: int
) -> dict[str, Any]:
    rng = random.Random(20261124)  # the same order and choices on every run
    test, messages = await ab_repo.create(
        pool,
        team_id=TEAM,
        version_a_id=version_a_id,
        version_b_id=version_b_id,
        user_id=USER,
        channel_id=CHANNEL,
        messages=[(f"Customer message {i}", rng.random() < 0.5) for i in range(AB_MESSAGES)],
    )
    await ab_repo.open_voting(pool, team_id=TEAM, ab_id=test.id)
    ballots = [(m.id, f"UV{u:05d}", rng.choice(CHOICES)) for u in range(users) for m in messages]
    rng.shuffle(ballots)
    queue: asyncio.Queue[tuple[int, str, ab_repo.Choice]] = asyncio.Queue()
    for ballot in ballots:
        queue.put_nowait(ballot)
    ms: list[float] = []
    refused = 0

    async def worker() -> None:
        nonlocal refused
        while not queue.empty():
            message_id, user_id, choice = queue.get_nowait()
            started = time.perf_counter()
            outcome = await ab_repo.vote(
                pool, team_id=TEAM, message_id=message_id, user_id=user_id, choice=choice
            )
            ms.append((time.perf_counter() - started) * 1000)
            refused += not outcome.recorded

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    stored = await pool.fetchval(
        """
        SELECT count(*) FROM ab_votes v JOIN ab_messages m ON m.id = v.ab_message_id
        WHERE m.ab_test_id = $1
        """,
        test.id,
    )
    if refused or stored != len(ballots):
        raise RuntimeError(f"{refused} votes refused, {stored} of {len(ballots)} stored")
    return {
        "votes": len(ballots),
        "users": users,
        "messages": AB_MESSAGES,
        "concurrency": concurrency,
        "wall_s": round(wall, 3),
        "votes_per_s": round(len(ballots) / wall),
        **_ms(ms),
    }


async def bench(
    *, versions: int, calls: int, users: int, concurrency: int, pool_size: int
) -> dict[str, Any]:
    date = datetime.now(UTC)
    async with fresh_database() as (dsn, embedded):
        pool = await create_pool(dsn, min_size=pool_size, max_size=pool_size)
        try:
            built = await build_history(pool, versions)
            reads = await time_reads(pool, built["profile_id"], versions, calls)
            second = await profiles_repo.current_version(
                pool, team_id=TEAM, profile_id=built["profile_id"]
            )
            votes = await vote_rate(
                pool,
                version_a_id=built["version_a_id"],
                version_b_id=second.id,
                users=users,
                concurrency=concurrency,
            )
            server = {
                name: await pool.fetchval(f"SHOW {name}")
                for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
            }
        finally:
            await pool.close()
    return {
        "date": date.strftime("%Y-%m-%d %H:%M UTC"),
        "settings": {
            "versions": versions,
            "calls": calls,
            "page": PAGE,
            "pool": pool_size,
        },
        "machine": {
            **machine(embedded=embedded, postgres_version=server["server_version"]),
            "postgres_settings": {k: v for k, v in server.items() if k != "server_version"},
        },
        "history": built,
        "reads": reads,
        "votes": votes,
    }


READ_LABELS: Final = {
    "current_version": "current version (current_version)",
    "history_first_page": "history, first page",
    "history_middle_page": "history, middle page",
    "history_deep_page": "history, last page",
    "resolve_by_name": "resolve profile by name",
    "resolve_default": "resolve channel/default profile",
}


def render(report: dict[str, Any]) -> str:
    s, h, v = report["settings"], report["history"], report["votes"]
    pg = report["machine"]["postgres_settings"]
    lines = [
        f"storage: one profile with {s['versions']:,} versions, {s['calls']} calls per read "
        f"(+{WARMUP_CALLS} warm-up), pool of {s['pool']}",
        f"{report['date']} · {machine_line(report['machine'])} (fsync {pg['fsync']}, "
        f"synchronous_commit {pg['synchronous_commit']})",
        "",
        f"built: {h['saves']} save_version calls (p50 {h['save_p50_ms']} ms, p95 "
        f"{h['save_p95_ms']} ms each), then {h['bulk_rows']:,} rows by COPY in {h['bulk_s']:.2f} s",
        "",
        f"{'read':<38}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}",
    ]
    for key, r in report["reads"].items():
        lines.append(
            f"{READ_LABELS[key]:<38}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}{r['max_ms']:>9.2f}"
        )
    lines += [
        "",
        f"votes: {v['votes']:,} ({v['users']} people x {v['messages']} messages) from "
        f"{v['concurrency']} workers in {v['wall_s']:.2f} s = {v['votes_per_s']:,} votes/s; "
        f"per vote p50 {v['p50_ms']:.2f} ms, p95 {v['p95_ms']:.2f} ms",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_db", description=__doc__)
    parser.add_argument("--versions", type=int, default=10_000, help="versions of the profile")
    parser.add_argument("--calls", type=int, default=200, help="measured calls per read")
    parser.add_argument("--users", type=int, default=100, help="voters, each on all 20 messages")
    parser.add_argument("--concurrency", type=int, default=20, help="concurrent voters")
    parser.add_argument("--pool", type=int, default=10, help="connection pool size")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if min(args.calls, args.users, args.concurrency, args.pool) < 1 or args.versions < PAGE + 2:
        parser.error(f"--versions must be at least {PAGE + 2}; the others at least 1")
    report = asyncio.run(
        bench(
            versions=args.versions,
            calls=args.calls,
            users=args.users,
            concurrency=args.concurrency,
            pool_size=args.pool,
        )
    )
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
