"""Stored calibrations: one row per swept trait, and the last one of a profile, trait and
scenario to compare a new one with. Scoped by team id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg

Conn: TypeAlias = asyncpg.Pool | asyncpg.Connection


@dataclass(frozen=True, slots=True)
class StoredCalibration:
    id: int
    version_label: str
    inputs_hash: str
    samples: int
    result: dict[str, Any]
    created_at: datetime


async def last(
    conn: Conn, *, team_id: str, profile_id: int, trait: str, scenario: str
) -> StoredCalibration | None:
    row = await conn.fetchrow(
        """
        SELECT c.id, p.name || ' v' || v.version AS label, c.inputs_hash, c.samples, c.result,
               c.created_at
        FROM calibrations c
        JOIN profile_versions v ON v.team_id = c.team_id AND v.id = c.profile_version_id
        JOIN profiles p ON p.team_id = v.team_id AND p.id = v.profile_id
        WHERE c.team_id = $1 AND c.profile_id = $2 AND c.trait = $3 AND c.scenario = $4
        ORDER BY c.id DESC
        LIMIT 1
        """,
        team_id,
        profile_id,
        trait,
        scenario,
    )
    if row is None:
        return None
    return StoredCalibration(
        id=int(row["id"]),
        version_label=str(row["label"]),
        inputs_hash=str(row["inputs_hash"]),
        samples=int(row["samples"]),
        result=dict(row["result"]),
        created_at=row["created_at"],
    )


async def save(
    conn: Conn,
    *,
    team_id: str,
    profile_id: int,
    version_id: int,
    trait: str,
    scenario: str,
    samples: int,
    lost: int,
    inputs_hash: str,
    result: dict[str, Any],
) -> int:
    return int(
        await conn.fetchval(
            """
            INSERT INTO calibrations (team_id, profile_id, profile_version_id, trait, scenario,
                                      samples, lost, inputs_hash, result)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            RETURNING id
            """,
            team_id,
            profile_id,
            version_id,
            trait,
            scenario,
            samples,
            lost,
            inputs_hash,
            result,
        )
    )
