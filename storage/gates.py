"""Promotion gates per label, the evidence they look at (scenario runs, closed A/B tests), and
where promotion notices go. Every query is scoped by the Slack team id."""

from __future__ import annotations

import asyncpg

from bot.domain.release import AbEvidence, Gate, ScenarioEvidence


async def gate_for(pool: asyncpg.Pool, *, team_id: str, label: str) -> Gate | None:
    row = await pool.fetchrow(
        """
        SELECT g.label, g.scenario_id, s.name AS scenario_name, g.require_ab
        FROM label_gates g
        LEFT JOIN scenarios s
          ON s.team_id = g.team_id AND s.id = g.scenario_id AND s.deleted_at IS NULL
        WHERE g.team_id = $1 AND g.label = $2
        """,
        team_id,
        label,
    )
    if row is None:
        return None
    return Gate(row["label"], row["scenario_id"], row["scenario_name"], row["require_ab"])


async def set_gate(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    label: str,
    scenario_id: int | None,
    require_ab: bool,
    user_id: str,
) -> None:
    """Replace the label's gates; none at all removes the row (promotion is free again)."""
    async with pool.acquire() as con, con.transaction():
        if scenario_id is None and not require_ab:
            await con.execute(
                "DELETE FROM label_gates WHERE team_id = $1 AND label = $2", team_id, label
            )
            return
        await _workspace(con, team_id=team_id)
        await con.execute(
            """
            INSERT INTO label_gates (team_id, label, scenario_id, require_ab, set_by)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (team_id, label) DO UPDATE
            SET scenario_id = EXCLUDED.scenario_id, require_ab = EXCLUDED.require_ab,
                set_by = EXCLUDED.set_by, set_at = now()
            """,
            team_id,
            label,
            scenario_id,
            require_ab,
            user_id,
        )


async def latest_scenario_run(
    pool: asyncpg.Pool, *, team_id: str, version_id: int, scenario_id: int
) -> ScenarioEvidence | None:
    """The scenario's figures in the latest completed run of that version that ran it."""
    row = await pool.fetchrow(
        """
        SELECT id, totals -> 'scenarios' -> $3::text AS figures
        FROM scenario_runs
        WHERE team_id = $1 AND profile_version_id = $2 AND status = 'completed'
          AND totals -> 'scenarios' ? $3::text
        ORDER BY finished_at DESC, id DESC
        LIMIT 1
        """,
        team_id,
        version_id,
        str(scenario_id),
    )
    if row is None:
        return None
    return ScenarioEvidence(run_id=row["id"], figures=dict(row["figures"]))


async def closed_ab_tests(
    pool: asyncpg.Pool, *, team_id: str, candidate_id: int, against_id: int
) -> list[AbEvidence]:
    """Closed A/B tests between the two versions (either side), newest first."""
    rows = await pool.fetch(
        """
        SELECT id, version_a_id = $2 AS candidate_is_a, verdict_code
        FROM ab_tests
        WHERE team_id = $1 AND status = 'closed'
          AND ((version_a_id = $2 AND version_b_id = $3)
               OR (version_a_id = $3 AND version_b_id = $2))
        ORDER BY closed_at DESC NULLS LAST, id DESC
        """,
        team_id,
        candidate_id,
        against_id,
    )
    return [AbEvidence(r["id"], r["candidate_is_a"], r["verdict_code"]) for r in rows]


async def notice_channel(pool: asyncpg.Pool, *, team_id: str) -> str | None:
    channel: str | None = await pool.fetchval(
        "SELECT channel_id FROM promotion_channels WHERE team_id = $1", team_id
    )
    return channel


async def set_notice_channel(
    pool: asyncpg.Pool, *, team_id: str, channel_id: str | None, user_id: str
) -> None:
    if channel_id is None:
        await pool.execute("DELETE FROM promotion_channels WHERE team_id = $1", team_id)
        return
    await _workspace(pool, team_id=team_id)
    await pool.execute(
        """
        INSERT INTO promotion_channels (team_id, channel_id, set_by) VALUES ($1, $2, $3)
        ON CONFLICT (team_id) DO UPDATE
        SET channel_id = EXCLUDED.channel_id, set_by = EXCLUDED.set_by, set_at = now()
        """,
        team_id,
        channel_id,
        user_id,
    )


async def _workspace(con: asyncpg.Pool | asyncpg.Connection, *, team_id: str) -> None:
    await con.execute(
        "INSERT INTO workspaces (team_id) VALUES ($1) ON CONFLICT (team_id) DO NOTHING", team_id
    )
