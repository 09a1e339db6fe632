"""API tokens of a workspace, stored as hashes only. Every query is scoped by the team id,
except the lookup by hash, which is how a request's workspace is found in the first place."""

from __future__ import annotations

from typing import Any

import asyncpg

from bot.domain.release import ApiToken
from storage.errors import ApiTokenNameTaken

_COLUMNS = "id, team_id, name, created_by, created_at, last_used_at"


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=row["id"],
        team_id=row["team_id"],
        name=row["name"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
    )


async def create(
    pool: asyncpg.Pool, *, team_id: str, name: str, token_hash: bytes, user_id: str
) -> ApiToken:
    async with pool.acquire() as con, con.transaction():
        await con.execute(
            "INSERT INTO workspaces (team_id) VALUES ($1) ON CONFLICT (team_id) DO NOTHING",
            team_id,
        )
        try:
            row = await con.fetchrow(
                f"""
                INSERT INTO api_tokens (team_id, name, token_hash, created_by)
                VALUES ($1, $2, $3, $4)
                RETURNING {_COLUMNS}
                """,
                team_id,
                name,
                token_hash,
                user_id,
            )
        except asyncpg.UniqueViolationError:
            raise ApiTokenNameTaken(name) from None
    return _token(row)


async def live_tokens(pool: asyncpg.Pool, *, team_id: str) -> list[ApiToken]:
    rows = await pool.fetch(
        f"""
        SELECT {_COLUMNS} FROM api_tokens
        WHERE team_id = $1 AND revoked_at IS NULL
        ORDER BY lower(name)
        """,
        team_id,
    )
    return [_token(r) for r in rows]


async def revoke(pool: asyncpg.Pool, *, team_id: str, name: str, user_id: str) -> bool:
    """True when a live token of that name was revoked."""
    done: str = await pool.execute(
        """
        UPDATE api_tokens SET revoked_at = now(), revoked_by = $3
        WHERE team_id = $1 AND lower(name) = lower($2) AND revoked_at IS NULL
        """,
        team_id,
        name,
        user_id,
    )
    return done != "UPDATE 0"


async def find_live(pool: asyncpg.Pool, *, token_hash: bytes) -> ApiToken | None:
    """The live token with this hash; its last use is recorded at most once a minute, so a
    bot polling every few seconds does not write a row each time."""
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash,
    )
    if row is None:
        return None
    await pool.execute(
        """
        UPDATE api_tokens SET last_used_at = now()
        WHERE team_id = $1 AND id = $2
          AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
        """,
        row["team_id"],
        row["id"],
    )
    return _token(row)
