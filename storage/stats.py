"""Aggregates for `/bot stats`, the App Home and exports. Every query is scoped by the Slack team id
and does its counting in SQL (one row per version), never by loading answers into Python."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Final, TypeAlias

import asyncpg

from bot.domain.profile import TRAITS
from bot.domain.results import TestResult
from bot.domain.stats import (
    AbSummary,
    ExportedResult,
    ExportedVote,
    HomeProfile,
    RecentTest,
    VersionStats,
)

Conn: TypeAlias = asyncpg.Pool | asyncpg.Connection

KINDS: Final = ("test", "followup", "scenario", "ab")


def _gap_columns() -> str:
    # trait names come from the fixed TRAITS tuple, never from input
    return ",\n".join(
        f"avg((r.analysis #>> '{{traits,{t},perceived}}')::float8 - v.{t}) AS gap_{t}"
        for t in TRAITS
    )


# An A/B answer stays out of every figure and export while its test is answering or open for
# votes: per-version numbers (failures, times, counts) would tell voters which reply is whose.
# It is found by its thread, the test's parent message, from the moment it is stored.
_NOT_BLIND_AB: Final = """
    NOT (r.kind = 'ab' AND EXISTS (
        SELECT 1 FROM ab_tests t
        WHERE t.team_id = r.team_id AND t.channel_id = r.channel_id AND t.parent_ts = r.thread_ts
          AND t.status IN ('answering', 'open')))
"""

_STATS_SQL: Final = f"""
WITH versions AS (
    SELECT id, version, created_at, formality, enthusiasm, technical_depth, empathy
    FROM profile_versions
    WHERE team_id = $1 AND profile_id = $2
),
since AS (SELECT now() - make_interval(days => $3) AS at),
answers AS (
    SELECT r.profile_version_id AS vid,
           count(*) FILTER (WHERE r.kind = 'test') AS n_test,
           count(*) FILTER (WHERE r.kind = 'followup') AS n_followup,
           count(*) FILTER (WHERE r.kind = 'scenario') AS n_scenario,
           count(*) FILTER (WHERE r.kind = 'ab') AS n_ab,
           count(*) FILTER (WHERE r.error_kind IS NOT NULL) AS failed,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY r.total_ms)
               FILTER (WHERE r.error_kind IS NULL) AS median_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY r.total_ms)
               FILTER (WHERE r.error_kind IS NULL) AS p95_ms,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY r.ttft_ms)
               FILTER (WHERE r.error_kind IS NULL) AS median_ttft_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY r.ttft_ms)
               FILTER (WHERE r.error_kind IS NULL) AS p95_ttft_ms,
           avg(r.alignment) AS alignment,
           count(r.alignment) AS aligned,
           {_gap_columns()},
           sum(r.prompt_tokens + r.completion_tokens)
               FILTER (WHERE r.error_kind IS NULL) AS tokens,
           count(r.prompt_tokens + r.completion_tokens)
               FILTER (WHERE r.error_kind IS NULL) AS metered,
           count(*) FILTER (WHERE r.finish_reason = 'length') AS cut_off,
           sum((SELECT count(*) FROM jsonb_each_text(r.judge_outcomes) AS j(judge, outcome)
                WHERE j.outcome <> 'ok')) AS judge_unavailable
    FROM test_results r
    JOIN versions v ON v.id = r.profile_version_id
    WHERE r.team_id = $1 AND r.created_at >= (SELECT at FROM since) AND {_NOT_BLIND_AB}
    GROUP BY r.profile_version_id
),
feedback AS (
    SELECT r.profile_version_id AS vid,
           count(*) FILTER (WHERE f.rating = 1) AS up,
           count(*) FILTER (WHERE f.rating = -1) AS down
    FROM result_feedback f
    JOIN test_results r ON r.team_id = f.team_id AND r.id = f.result_id
    JOIN versions v ON v.id = r.profile_version_id
    WHERE f.team_id = $1 AND r.created_at >= (SELECT at FROM since)
    GROUP BY r.profile_version_id
),
behaviours AS (
    SELECT r.profile_version_id AS vid,
           count(*) FILTER (WHERE (b.verdict ->> 'passed')::boolean) AS passed,
           count(*) AS judged
    FROM test_results r
    JOIN versions v ON v.id = r.profile_version_id
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(r.behaviour_results) = 'array'
             THEN r.behaviour_results ELSE '[]'::jsonb END
    ) AS b(verdict)
    WHERE r.team_id = $1 AND r.kind = 'scenario' AND r.created_at >= (SELECT at FROM since)
      AND jsonb_typeof(b.verdict -> 'passed') = 'boolean'
    GROUP BY r.profile_version_id
),
ab AS (
    SELECT side.vid,
           count(*) FILTER (WHERE side.outcome = 'won') AS won,
           count(*) FILTER (WHERE side.outcome = 'lost') AS lost,
           count(*) FILTER (WHERE side.outcome = 'inconclusive') AS inconclusive
    FROM ab_tests t
    CROSS JOIN LATERAL (
        VALUES
            (t.version_a_id, CASE t.verdict_code
                                 WHEN 'a_preferred' THEN 'won'
                                 WHEN 'b_preferred' THEN 'lost'
                                 ELSE 'inconclusive' END),
            (t.version_b_id, CASE t.verdict_code
                                 WHEN 'b_preferred' THEN 'won'
                                 WHEN 'a_preferred' THEN 'lost'
                                 ELSE 'inconclusive' END)
    ) AS side(vid, outcome)
    WHERE t.team_id = $1 AND t.status = 'closed' AND t.verdict_code IS NOT NULL
      AND t.closed_at >= (SELECT at FROM since)
      AND side.vid IN (SELECT id FROM versions)
    GROUP BY side.vid
)
SELECT v.id, v.version, v.created_at, a.*, f.up, f.down, b.passed, b.judged,
       x.won, x.lost, x.inconclusive
FROM versions v
LEFT JOIN answers a ON a.vid = v.id
LEFT JOIN feedback f ON f.vid = v.id
LEFT JOIN behaviours b ON b.vid = v.id
LEFT JOIN ab x ON x.vid = v.id
WHERE a.vid IS NOT NULL OR x.vid IS NOT NULL
ORDER BY v.version DESC
"""


def _version_stats(row: Any) -> VersionStats:
    return VersionStats(
        version_id=row["id"],
        version=row["version"],
        created_at=row["created_at"],
        answers={k: row[f"n_{k}"] or 0 for k in KINDS},
        failed=row["failed"] or 0,
        median_ms=row["median_ms"],
        p95_ms=row["p95_ms"],
        median_ttft_ms=row["median_ttft_ms"],
        p95_ttft_ms=row["p95_ttft_ms"],
        alignment=row["alignment"],
        aligned=row["aligned"] or 0,
        trait_gaps={t: row[f"gap_{t}"] for t in TRAITS},
        thumbs_up=row["up"] or 0,
        thumbs_down=row["down"] or 0,
        behaviours_passed=row["passed"] or 0,
        behaviours_judged=row["judged"] or 0,
        ab_won=row["won"] or 0,
        ab_lost=row["lost"] or 0,
        ab_inconclusive=row["inconclusive"] or 0,
        tokens=row["tokens"],
        metered=row["metered"] or 0,
        cut_off=row["cut_off"] or 0,
        judge_unavailable=row["judge_unavailable"] or 0,
    )


async def version_stats(
    pool: Conn, *, team_id: str, profile_id: int, days: int
) -> list[VersionStats]:
    """Every version of the profile used in the last `days` days (it answered, or a closed A/B
    test it took part in), newest version first. Figures cover answers given in the period."""
    rows = await pool.fetch(_STATS_SQL, team_id, profile_id, days)
    return [_version_stats(r) for r in rows]


# ---- App Home ------------------------------------------------------------------------------------


async def home_profiles(pool: Conn, *, team_id: str, limit: int) -> tuple[list[HomeProfile], int]:
    """Up to `limit` profiles at their current version (the default first, then by name), and
    how many the workspace has in all."""
    rows = await pool.fetch(
        """
        SELECT p.id, p.name, v.version, v.bot_name, v.avatar_emoji, v.formality, v.enthusiasm,
               v.technical_depth, v.empathy, v.response_style,
               (w.default_profile_id IS NOT DISTINCT FROM p.id) AS is_default,
               count(*) OVER () AS total
        FROM profiles p
        JOIN workspaces w ON w.team_id = p.team_id
        JOIN profile_versions v
          ON v.team_id = p.team_id AND v.profile_id = p.id AND v.version = p.current_version
        WHERE p.team_id = $1
        ORDER BY is_default DESC, lower(p.name)
        LIMIT $2
        """,
        team_id,
        limit,
    )
    profiles = [
        HomeProfile(
            profile_id=r["id"],
            name=r["name"],
            version=r["version"],
            bot_name=r["bot_name"],
            avatar_emoji=r["avatar_emoji"],
            traits={t: r[t] for t in TRAITS},
            response_style=r["response_style"],
            is_default=r["is_default"],
        )
        for r in rows
    ]
    # the window count is taken before LIMIT applies, so it is the workspace's full count
    total: int = rows[0]["total"] if rows else 0
    return profiles, total


async def recent_tests(pool: Conn, *, team_id: str, limit: int) -> list[RecentTest]:
    rows = await pool.fetch(
        """
        SELECT r.id, p.name || ' v' || v.version AS label, r.question, r.alignment, r.total_ms,
               r.error_kind, r.user_id, r.created_at
        FROM test_results r
        JOIN profile_versions v ON v.team_id = r.team_id AND v.id = r.profile_version_id
        JOIN profiles p ON p.team_id = v.team_id AND p.id = v.profile_id
        WHERE r.team_id = $1 AND r.kind = 'test'
        ORDER BY r.created_at DESC, r.id DESC
        LIMIT $2
        """,
        team_id,
        limit,
    )
    return [
        RecentTest(
            result_id=r["id"],
            label=r["label"],
            question=r["question"],
            alignment=r["alignment"],
            total_ms=r["total_ms"],
            error_kind=r["error_kind"],
            user_id=r["user_id"],
            created_at=r["created_at"],
        )
        for r in rows
    ]


# tests that need someone: still running, or stuck until cancelled
NOT_ENDED: Final = ("answering", "open", "failed", "interrupted")


def _kappa(verdict: Any, key: str) -> tuple[float | None, int]:
    found = (verdict or {}).get(key) if isinstance(verdict, dict) else None
    if not isinstance(found, dict):
        return None, 0
    value = found.get("value")
    items = found.get("items")
    return (
        float(value) if isinstance(value, int | float) else None,
        int(items) if isinstance(items, int) else 0,
    )


async def recent_ab_tests(pool: Conn, *, team_id: str, limit: int) -> list[AbSummary]:
    """Tests that have not ended first (answering, open, then stuck), then the most recently
    ended (closed or cancelled)."""
    rows = await pool.fetch(
        """
        WITH picked AS (
            (SELECT * FROM ab_tests WHERE team_id = $1 AND status = ANY($3::text[])
             ORDER BY started_at DESC LIMIT $2)
            UNION ALL
            (SELECT * FROM ab_tests WHERE team_id = $1 AND NOT status = ANY($3::text[])
             ORDER BY closed_at DESC NULLS LAST LIMIT $2)
        )
        SELECT t.id, t.status, t.started_at, t.closed_at, t.verdict_code, t.failure_reason,
               t.verdict,
               pa.name || ' v' || va.version AS label_a,
               pb.name || ' v' || vb.version AS label_b,
               (SELECT count(*) FROM ab_messages m
                JOIN ab_votes x ON x.team_id = m.team_id AND x.ab_message_id = m.id
                WHERE m.team_id = t.team_id AND m.ab_test_id = t.id) AS votes
        FROM picked t
        JOIN profile_versions va ON va.team_id = t.team_id AND va.id = t.version_a_id
        JOIN profiles pa ON pa.team_id = va.team_id AND pa.id = va.profile_id
        JOIN profile_versions vb ON vb.team_id = t.team_id AND vb.id = t.version_b_id
        JOIN profiles pb ON pb.team_id = vb.team_id AND pb.id = vb.profile_id
        ORDER BY (NOT t.status = ANY($3::text[])), array_position($3::text[], t.status),
                 COALESCE(t.closed_at, t.started_at) DESC
        LIMIT $2
        """,
        team_id,
        limit,
        list(NOT_ENDED),
    )
    out = []
    for r in rows:
        voters, voters_items = _kappa(r["verdict"], "voters_kappa")
        judge, judge_items = _kappa(r["verdict"], "judge_kappa")
        out.append(
            AbSummary(
                ab_id=r["id"],
                label_a=r["label_a"],
                label_b=r["label_b"],
                status=r["status"],
                started_at=r["started_at"],
                closed_at=r["closed_at"],
                verdict_code=r["verdict_code"],
                failure_reason=r["failure_reason"],
                votes=r["votes"],
                voters_kappa=voters,
                voters_kappa_items=voters_items,
                judge_kappa=judge,
                judge_kappa_items=judge_items,
            )
        )
    return out


NO_VOTES: Final = "0:-"


async def votes_fingerprint(pool: Conn, *, team_id: str) -> str:
    """Changes whenever the votes the leaderboard counts change: those of closed tests, which
    change only when a test closes (or is deleted)."""
    row = await pool.fetchrow(
        """
        SELECT count(*) AS n, max(t.closed_at) AS latest
        FROM ab_votes v
        JOIN ab_messages m ON m.team_id = v.team_id AND m.id = v.ab_message_id
        JOIN ab_tests t ON t.team_id = m.team_id AND t.id = m.ab_test_id
        WHERE v.team_id = $1 AND t.status = 'closed'
        """,
        team_id,
    )
    if row["latest"] is None:
        return NO_VOTES
    return f"{row['n']}:{row['latest'].isoformat()}"


async def cached_leaderboard(
    pool: Conn, *, team_id: str
) -> tuple[str, list[dict[str, Any]]] | None:
    row = await pool.fetchrow(
        "SELECT fingerprint, ranked FROM leaderboard_cache WHERE team_id = $1", team_id
    )
    if row is None:
        return None
    return row["fingerprint"], list(row["ranked"])


async def store_leaderboard(
    pool: Conn, *, team_id: str, fingerprint: str, ranked: list[dict[str, Any]]
) -> None:
    await pool.execute(
        """
        INSERT INTO leaderboard_cache (team_id, fingerprint, ranked) VALUES ($1, $2, $3)
        ON CONFLICT (team_id) DO UPDATE
        SET fingerprint = EXCLUDED.fingerprint, ranked = EXCLUDED.ranked, computed_at = now()
        """,
        team_id,
        fingerprint,
        ranked,
    )


# ---- exports -------------------------------------------------------------------------------------

# Every stored field of an answer: the row type mirrors the table (a test checks they agree), so
# a column added with its field is exported without touching this module.
RESULT_COLUMNS: Final = tuple(f.name for f in fields(TestResult))


async def export_results(
    pool: Conn, *, team_id: str, profile_id: int | None, days: int
) -> list[ExportedResult]:
    """Every answer of the last `days` days, oldest first; one profile's, or the workspace's.
    A/B answers of tests still answering or open are left out until voting ends."""
    columns = ", ".join(f"r.{c}" for c in RESULT_COLUMNS)
    rows = await pool.fetch(
        f"""
        SELECT p.name AS profile_name, v.version AS profile_version, {columns}
        FROM test_results r
        JOIN profile_versions v ON v.team_id = r.team_id AND v.id = r.profile_version_id
        JOIN profiles p ON p.team_id = v.team_id AND p.id = v.profile_id
        WHERE r.team_id = $1 AND ($2::bigint IS NULL OR v.profile_id = $2)
          AND r.created_at >= now() - make_interval(days => $3) AND {_NOT_BLIND_AB}
        ORDER BY r.created_at, r.id
        """,
        team_id,
        profile_id,
        days,
    )
    return [
        ExportedResult(
            profile_name=r["profile_name"],
            version=r["profile_version"],
            result=TestResult(**{c: r[c] for c in RESULT_COLUMNS}),
        )
        for r in rows
    ]


async def export_votes(
    pool: Conn, *, team_id: str, profile_id: int | None, days: int
) -> list[ExportedVote]:
    """Every A/B vote cast or changed in the last `days` days, in tests involving the profile
    (either side) or any test of the workspace, once voting has ended: votes of a test still
    open (and its judge's opinions) would tell which reply is which."""
    rows = await pool.fetch(
        """
        SELECT t.id AS ab_test_id, t.status, t.started_at, t.closed_at,
               pa.name || ' v' || va.version AS version_a,
               pb.name || ' v' || vb.version AS version_b,
               m.position, m.message, m.a_first, m.judge_verdict,
               x.user_id, x.choice, x.voted_at
        FROM ab_votes x
        JOIN ab_messages m ON m.team_id = x.team_id AND m.id = x.ab_message_id
        JOIN ab_tests t ON t.team_id = m.team_id AND t.id = m.ab_test_id
        JOIN profile_versions va ON va.team_id = t.team_id AND va.id = t.version_a_id
        JOIN profiles pa ON pa.team_id = va.team_id AND pa.id = va.profile_id
        JOIN profile_versions vb ON vb.team_id = t.team_id AND vb.id = t.version_b_id
        JOIN profiles pb ON pb.team_id = vb.team_id AND pb.id = vb.profile_id
        WHERE x.team_id = $1 AND x.voted_at >= now() - make_interval(days => $3)
          AND ($2::bigint IS NULL OR va.profile_id = $2 OR vb.profile_id = $2)
          AND t.status NOT IN ('answering', 'open')
        ORDER BY t.id, m.position, x.user_id
        """,
        team_id,
        profile_id,
        days,
    )
    return [ExportedVote(**dict(r)) for r in rows]


async def running_ab_tests(pool: Conn, *, team_id: str, profile_id: int | None) -> list[int]:
    """Ids of the tests (involving the profile, or any) whose answers and votes an export
    leaves out because they are still answering or open for votes."""
    rows = await pool.fetch(
        """
        SELECT t.id FROM ab_tests t
        JOIN profile_versions va ON va.team_id = t.team_id AND va.id = t.version_a_id
        JOIN profile_versions vb ON vb.team_id = t.team_id AND vb.id = t.version_b_id
        WHERE t.team_id = $1 AND t.status IN ('answering', 'open')
          AND ($2::bigint IS NULL OR va.profile_id = $2 OR vb.profile_id = $2)
        ORDER BY t.id
        """,
        team_id,
        profile_id,
    )
    return [int(r["id"]) for r in rows]
