"""Whole-workspace operations: purge, and the retention sweep after an uninstall."""

from __future__ import annotations

import asyncpg


async def ensure(pool: asyncpg.Pool | asyncpg.Connection, *, team_id: str) -> None:
    await pool.execute(
        "INSERT INTO workspaces (team_id) VALUES ($1) ON CONFLICT (team_id) DO NOTHING", team_id
    )


async def purge(pool: asyncpg.Pool, *, team_id: str) -> bool:
    """Delete the workspace and, by cascade, every profile, version, result, vote, scenario and
    knowledge item of it. True when there was anything to delete."""
    done: str = await pool.execute("DELETE FROM workspaces WHERE team_id = $1", team_id)
    return done != "DELETE 0"


async def mark_uninstalled(pool: asyncpg.Pool, *, team_id: str) -> None:
    await pool.execute(
        """
        INSERT INTO workspaces (team_id, uninstalled_at) VALUES ($1, now())
        ON CONFLICT (team_id) DO UPDATE SET uninstalled_at = now()
        """,
        team_id,
    )


async def mark_in_use(pool: asyncpg.Pool | asyncpg.Connection, *, team_id: str) -> bool:
    """A reinstall, or any use of the app, cancels the retention sweep. True when it did."""
    done: str = await pool.execute(
        """
        UPDATE workspaces SET uninstalled_at = NULL
        WHERE team_id = $1 AND uninstalled_at IS NOT NULL
        """,
        team_id,
    )
    return done == "UPDATE 1"


async def sweep_uninstalled(pool: asyncpg.Pool, *, older_than_days: int) -> list[str]:
    """Purge workspaces that uninstalled the app more than `older_than_days` ago. One that has a
    bot token again was reinstalled through OAuth, whatever its timestamp says, and is kept."""
    rows = await pool.fetch(
        """
        DELETE FROM workspaces w
        WHERE w.uninstalled_at IS NOT NULL
          AND w.uninstalled_at < now() - make_interval(days => $1)
          AND NOT EXISTS (
              SELECT 1 FROM slack_bots b WHERE w.team_id IN (b.team_id, b.enterprise_id)
          )
        RETURNING w.team_id
        """,
        older_than_days,
    )
    return [r["team_id"] for r in rows]
