"""Editors: added by other editors, the workspace's first editor, and whoever installed the app.
Every query is scoped by the Slack team id."""

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


async def claim_first(pool: asyncpg.Pool, *, team_id: str, user_id: str) -> bool:
    """Make the person the workspace's first editor when it has neither an editor nor a profile
    yet; True when they became it. Two people at once: the workspace row's lock lets one in,
    and the other then finds an editor."""
    async with pool.acquire() as con, con.transaction():
        await con.execute(
            "INSERT INTO workspaces (team_id) VALUES ($1) ON CONFLICT (team_id) DO NOTHING",
            team_id,
        )
        await con.execute("SELECT 1 FROM workspaces WHERE team_id = $1 FOR UPDATE", team_id)
        claimed = await con.fetchval(
            """
            INSERT INTO editors (team_id, user_id, added_by)
            SELECT $1, $2, $2
            WHERE NOT EXISTS (SELECT 1 FROM editors WHERE team_id = $1)
              AND NOT EXISTS (SELECT 1 FROM profiles WHERE team_id = $1)
            RETURNING true
            """,
            team_id,
            user_id,
        )
    return bool(claimed)


async def add_installer(con: asyncpg.Connection, *, team_id: str, user_id: str) -> None:
    """Whoever installs the app through OAuth edits in that workspace (inside the install's
    transaction). A reinstall also cancels a pending deletion after an earlier uninstall."""
    await con.execute(
        """
        INSERT INTO workspaces (team_id) VALUES ($1)
        ON CONFLICT (team_id) DO UPDATE SET uninstalled_at = NULL
        """,
        team_id,
    )
    await con.execute(
        """
        INSERT INTO editors (team_id, user_id, added_by) VALUES ($1, $2, $2)
        ON CONFLICT DO NOTHING
        """,
        team_id,
        user_id,
    )
