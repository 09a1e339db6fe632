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


async def traits_cells(
    conn: Conn, *, team_id: str, on_target: float
) -> dict[tuple[bool, bool], int]:
    """Rated, judged answers counted by (judge said on target: alignment ≥ `on_target`, people
    liked it: more 👍 than 👎); answers with as many 👍 as 👎 give no label, and A/B replies are
    left out (they are judged by votes). Counted in SQL: four numbers come back, not a row per
    answer."""
    rows = await conn.fetch(
        """
        WITH rated AS (
            SELECT f.result_id, sum(f.rating) AS net
            FROM result_feedback f
            WHERE f.team_id = $1
            GROUP BY f.result_id
            HAVING sum(f.rating) <> 0
        )
        SELECT r.alignment >= $2 AS on_target, x.net > 0 AS liked, count(*) AS n
        FROM rated x
        JOIN test_results r ON r.team_id = $1 AND r.id = x.result_id
        WHERE r.alignment IS NOT NULL AND r.kind <> 'ab'
        GROUP BY 1, 2
        """,
        team_id,
        on_target,
    )
    return {(bool(r["on_target"]), bool(r["liked"])): int(r["n"]) for r in rows}


async def behaviour_counts(conn: Conn, *, team_id: str) -> tuple[int, int]:
    """(verdicts flagged by at least one person, verdicts of the judge): pass/fail verdicts
    with a judge's score on scenario answers. A flag is only ever stored for such a verdict
    (the button checks), so the flagged ones are counted from the flags alone."""
    verdicts = await conn.fetchval(
        """
        SELECT coalesce(sum(jsonb_array_length(jsonb_path_query_array(
                   r.behaviour_results,
                   '$[*] ? (@.passed.type() == "boolean" && @.score.type() == "number")'))), 0)
        FROM test_results r
        WHERE r.team_id = $1 AND r.kind = 'scenario'
          AND jsonb_typeof(r.behaviour_results) = 'array'
        """,
        team_id,
    )
    flagged = await conn.fetchval(
        """
        SELECT count(*) FROM (
            SELECT DISTINCT result_id, behaviour FROM judge_flags WHERE team_id = $1
        ) f
        """,
        team_id,
    )
    return int(flagged), int(verdicts)
