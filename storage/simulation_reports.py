"""Whether a simulation run waits for its summary: every conversation done, the summary not
claimed (a report that failed released its claim), the run neither stopped nor reported. Kept
apart from storage/simulations.py, whose report claim it mirrors."""

from __future__ import annotations

import asyncpg


async def report_pending(pool: asyncpg.Pool, *, team_id: str, run_id: int, total: int) -> bool:
    pending = await pool.fetchval(
        """
        SELECT true FROM simulation_runs
        WHERE team_id = $1 AND id = $2 AND reported_at IS NULL
          AND status IN ('running', 'completed')
          AND (SELECT count(*) FROM simulation_conversations c
                WHERE c.team_id = $1 AND c.run_id = $2 AND c.done_at IS NOT NULL) >= $3
        """,
        team_id,
        run_id,
        total,
    )
    return bool(pending)
