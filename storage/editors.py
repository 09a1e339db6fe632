"""Editors added by other editors. Every query is scoped by the Slack team id."""

from __future__ import annotations

import asyncpg


async def is_editor(pool: asyncpg.Pool, *, team_id: str, user_id: str) -> bool:
    found = await pool.fetchval(
        "SELECT true FROM editors WHERE team_id = $1 AND user_id = $2", team_id, user_id
    )
    return bool(found)


async def add(pool: asyncpg.Pool, *, team_id: str, user_id: str, added_by: str) -> bool:
    """True when added, False when already an editor."""
    async with pool.acquire() as con, con.transaction():
        await con.execute(
            "INSERT INTO workspaces (team_id) VALUES ($1) ON CONFLICT (team_id) DO NOTHING",
            team_id,
        )
        added = await con.fetchval(
            """
            INSERT INTO editors (team_id, user_id, added_by) VALUES ($1, $2, $3)
            ON CONFLICT DO NOTHING RETURNING true
            """,
            team_id,
            user_id,
            added_by,
        )
    return bool(added)


async def remove(pool: asyncpg.Pool, *, team_id: str, user_id: str) -> bool:
    done: str = await pool.execute(
        "DELETE FROM editors WHERE team_id = $1 AND user_id = $2", team_id, user_id
    )
    return done != "DELETE 0"


async def list_editors(pool: asyncpg.Pool, *, team_id: str) -> list[tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT user_id, added_by FROM editors WHERE team_id = $1 ORDER BY added_at", team_id
    )
    return [(r["user_id"], r["added_by"]) for r in rows]
