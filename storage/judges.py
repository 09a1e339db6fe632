"""The labels people gave the judges, and the "judge was wrong" flags. Scoped by team id."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg

Conn: TypeAlias = asyncpg.Pool | asyncpg.Connection


async def toggle_flag(
    conn: Conn,
    *,
    team_id: str,
    result_id: int,
    behaviour: str,
    user_id: str,
    judged_passed: bool,
) -> bool:
    """Flag the verdict as wrong for this person, or take their flag back when there is one;
    True when it is flagged now. One statement each way, so a double click cannot leave two
    rows (the primary key) or lose a flag to a concurrent undo."""
    deleted = await conn.fetchval(
        """
        DELETE FROM judge_flags
        WHERE team_id = $1 AND result_id = $2 AND behaviour = $3 AND user_id = $4
        RETURNING 1
        """,
        team_id,
        result_id,
        behaviour,
        user_id,
    )
    if deleted:
        return False
    await conn.execute(
        """
        INSERT INTO judge_flags (team_id, result_id, behaviour, user_id, judged_passed)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT DO NOTHING
        """,
        team_id,
        result_id,
        behaviour,
        user_id,
        judged_passed,
    )
    # on a conflict a concurrent click of the same person inserted it first: flagged either way
    return True


async def flag_count(conn: Conn, *, team_id: str, result_id: int, behaviour: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM judge_flags WHERE team_id = $1 AND result_id = $2 "
            "AND behaviour = $3",
            team_id,
            result_id,
            behaviour,
        )
    )


async def pairwise_labels(conn: Conn, *, team_id: str) -> list[tuple[str | None, list[str]]]:
    """(judge verdict, votes) per A/B message of closed tests: while a test is open, nothing
    about its votes or judge is counted anywhere."""
    rows = await conn.fetch(
        """
        SELECT m.judge_verdict,
               coalesce(array_agg(v.choice) FILTER (WHERE v.choice IS NOT NULL), '{}') AS votes
        FROM ab_messages m
        JOIN ab_tests t ON t.team_id = m.team_id AND t.id = m.ab_test_id
        LEFT JOIN ab_votes v ON v.team_id = m.team_id AND v.ab_message_id = m.id
        WHERE m.team_id = $1 AND t.status = 'closed'
          AND m.judge_verdict IN ('a', 'b', 'tie')
        GROUP BY m.id, m.judge_verdict
        """,
        team_id,
    )
    return [(r["judge_verdict"], list(r["votes"])) for r in rows]


async def traits_labels(conn: Conn, *, team_id: str) -> list[tuple[float, int, int]]:
    """(alignment, 👍, 👎) per judged answer with at least one rating. A/B replies are left
    out: they are rated by votes, and their ratings would unblind nothing but mean little."""
    rows = await conn.fetch(
        """
        SELECT r.alignment,
               count(*) FILTER (WHERE f.rating = 1) AS up,
               count(*) FILTER (WHERE f.rating = -1) AS down
        FROM result_feedback f
        JOIN test_results r ON r.team_id = f.team_id AND r.id = f.result_id
        WHERE f.team_id = $1 AND r.alignment IS NOT NULL AND r.kind <> 'ab'
        GROUP BY r.id, r.alignment
        """,
        team_id,
    )
    return [(float(r["alignment"]), int(r["up"]), int(r["down"])) for r in rows]


async def behaviour_counts(conn: Conn, *, team_id: str) -> tuple[int, int]:
    """(verdicts flagged by at least one person, judge verdicts posted): pass/fail verdicts
    with a judge's score on scenario answers."""
    row = await conn.fetchrow(
        """
        WITH verdicts AS (
            SELECT r.id, b.verdict ->> 'behaviour' AS behaviour
            FROM test_results r
            CROSS JOIN LATERAL jsonb_array_elements(
                CASE WHEN jsonb_typeof(r.behaviour_results) = 'array'
                     THEN r.behaviour_results ELSE '[]'::jsonb END
            ) AS b(verdict)
            WHERE r.team_id = $1 AND r.kind = 'scenario'
              AND jsonb_typeof(b.verdict -> 'passed') = 'boolean'
              AND jsonb_typeof(b.verdict -> 'score') = 'number'
        )
        SELECT count(*) AS verdicts,
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM judge_flags f
                   WHERE f.team_id = $1 AND f.result_id = verdicts.id
                     AND f.behaviour = verdicts.behaviour)) AS flagged
        FROM verdicts
        """,
        team_id,
    )
    assert row is not None
    return int(row["flagged"]), int(row["verdicts"])
