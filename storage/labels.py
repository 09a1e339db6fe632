"""Labels pointing at profile versions, and the append-only history of their moves.
Every query is scoped by the Slack team id."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg

from bot.domain.release import Label, LabelMove
from storage.errors import LabelMovedMeanwhile, LabelNotFound, ProfileNotFound, VersionNotFound

Conn: TypeAlias = asyncpg.Pool | asyncpg.Connection


def _label(row: Any) -> Label:
    return Label(
        profile_id=row["profile_id"],
        label=row["label"],
        version=row["version"],
        moved_by=row["moved_by"],
        moved_at=row["moved_at"],
    )


def _move(row: Any) -> LabelMove:
    return LabelMove(
        id=row["id"],
        profile_id=row["profile_id"],
        label=row["label"],
        from_version=row["from_version"],
        to_version=row["to_version"],
        moved_by=row["moved_by"],
        moved_at=row["moved_at"],
        gates=row["gates"],
        override_reason=row["override_reason"],
    )


async def labels_of(pool: Conn, *, team_id: str, profile_id: int) -> list[Label]:
    rows = await pool.fetch(
        """
        SELECT profile_id, label, version, moved_by, moved_at FROM profile_labels
        WHERE team_id = $1 AND profile_id = $2
        ORDER BY label
        """,
        team_id,
        profile_id,
    )
    return [_label(r) for r in rows]


async def labels_in(pool: Conn, *, team_id: str) -> list[Label]:
    rows = await pool.fetch(
        """
        SELECT profile_id, label, version, moved_by, moved_at FROM profile_labels
        WHERE team_id = $1
        ORDER BY profile_id, label
        """,
        team_id,
    )
    return [_label(r) for r in rows]


async def label_version(pool: Conn, *, team_id: str, profile_id: int, label: str) -> int:
    """The version `label` points at; LabelNotFound when the profile has no such label."""
    version: int | None = await pool.fetchval(
        "SELECT version FROM profile_labels WHERE team_id = $1 AND profile_id = $2 AND label = $3",
        team_id,
        profile_id,
        label,
    )
    if version is None:
        raise LabelNotFound(label)
    return version


async def current_label(pool: Conn, *, team_id: str, profile_id: int, label: str) -> int | None:
    found: int | None = await pool.fetchval(
        "SELECT version FROM profile_labels WHERE team_id = $1 AND profile_id = $2 AND label = $3",
        team_id,
        profile_id,
        label,
    )
    return found


async def move_label(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    profile_id: int,
    label: str,
    expected: int | None,
    to_version: int,
    user_id: str,
    gates: str | None = None,
    override_reason: str | None = None,
) -> LabelMove:
    """Point `label` at `to_version` if it still points at `expected` (None: not set yet), and
    record the move. Compare-and-set under the label's row lock: of two people moving the same
    label from the same place, one wins and the other gets LabelMovedMeanwhile."""
    async with pool.acquire() as con, con.transaction():
        exists = await con.fetchval(
            "SELECT true FROM profile_versions WHERE team_id = $1 AND profile_id = $2 "
            "AND version = $3",
            team_id,
            profile_id,
            to_version,
        )
        if not exists:
            name = await con.fetchval(
                "SELECT name FROM profiles WHERE team_id = $1 AND id = $2", team_id, profile_id
            )
            if name is None:
                raise ProfileNotFound(str(profile_id))
            raise VersionNotFound(name, to_version)
        if expected is None:
            done = await con.fetchval(
                """
                INSERT INTO profile_labels (team_id, profile_id, label, version, moved_by)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (team_id, profile_id, label) DO NOTHING
                RETURNING true
                """,
                team_id,
                profile_id,
                label,
                to_version,
                user_id,
            )
        else:
            done = await con.fetchval(
                """
                UPDATE profile_labels SET version = $4, moved_by = $5, moved_at = now()
                WHERE team_id = $1 AND profile_id = $2 AND label = $3 AND version = $6
                RETURNING true
                """,
                team_id,
                profile_id,
                label,
                to_version,
                user_id,
                expected,
            )
        if not done:
            now = await con.fetchval(
                "SELECT version FROM profile_labels "
                "WHERE team_id = $1 AND profile_id = $2 AND label = $3",
                team_id,
                profile_id,
                label,
            )
            raise LabelMovedMeanwhile(label, expected=expected, found=now)
        row = await con.fetchrow(
            """
            INSERT INTO label_moves (team_id, profile_id, label, from_version, to_version,
                                     moved_by, gates, override_reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            RETURNING id, profile_id, label, from_version, to_version, moved_by, moved_at,
                      gates, override_reason
            """,
            team_id,
            profile_id,
            label,
            expected,
            to_version,
            user_id,
            gates,
            override_reason,
        )
        return _move(row)


async def moves(pool: Conn, *, team_id: str, profile_id: int, limit: int) -> list[LabelMove]:
    """The latest moves of a profile's labels, newest first."""
    rows = await pool.fetch(
        """
        SELECT id, profile_id, label, from_version, to_version, moved_by, moved_at, gates,
               override_reason
        FROM label_moves
        WHERE team_id = $1 AND profile_id = $2
        ORDER BY id DESC
        LIMIT $3
        """,
        team_id,
        profile_id,
        limit,
    )
    return [_move(r) for r in rows]
