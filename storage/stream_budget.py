"""The streams budget of a workspace, shared by every process (see bot.slack.stream_budget)."""

from __future__ import annotations

import asyncpg


async def spend(
    pool: asyncpg.Pool, *, team_id: str, per_minute: int, now: float | None = None
) -> bool:
    """GCRA in one statement: True when the workspace may start a stream now. The row's update
    is atomic (ON CONFLICT takes the row lock), so N processes together allow `per_minute`.
    `now`: epoch seconds, the database's clock when None (tests pass their own)."""
    interval = 60.0 / per_minute
    allowed = await pool.fetchval(
        """
        WITH clock AS (
            SELECT coalesce($2::float8, extract(epoch FROM clock_timestamp())::float8) AS now
        )
        INSERT INTO slack_stream_budget AS b (team_id, tat)
        SELECT $1, clock.now + $3 FROM clock
        ON CONFLICT (team_id) DO UPDATE
            SET tat = greatest(b.tat, (SELECT now FROM clock)) + $3
            WHERE greatest(b.tat, (SELECT now FROM clock)) + $3 - (SELECT now FROM clock)
                  <= $4::float8 + 1e-9
        RETURNING true
        """,
        team_id,
        now,
        interval,
        60.0,
    )
    return bool(allowed)
