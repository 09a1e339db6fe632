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
    conn: Conn,
    *,
    team_id: str,
    profile_id: int,
    trait: str,
    scenario: str,
    before_id: int | None = None,
) -> StoredCalibration | None:
    """The newest of the profile, trait and scenario (older than `before_id` if given)."""
    row = await conn.fetchrow(
        """
        SELECT c.id, p.name || ' v' || v.version AS label, c.inputs_hash, c.samples, c.result,
               c.created_at
        FROM calibrations c
        JOIN profile_versions v ON v.team_id = c.team_id AND v.id = c.profile_version_id
        JOIN profiles p ON p.team_id = v.team_id AND p.id = v.profile_id
        WHERE c.team_id = $1 AND c.profile_id = $2 AND c.trait = $3 AND c.scenario = $4
          AND ($5::bigint IS NULL OR c.id < $5)
        ORDER BY c.id DESC
        LIMIT 1
        """,
        team_id,
        profile_id,
        trait,
        scenario,
        before_id,
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
    run_id: int | None = None,
) -> int:
    """The new row's id; for a run's trait stored already (its report done again), that
    row's id, nothing stored a second time."""
    stored = await conn.fetchval(
        """
        INSERT INTO calibrations (team_id, profile_id, profile_version_id, trait, scenario,
                                  samples, lost, inputs_hash, result, calibration_run_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (team_id, calibration_run_id, trait) DO NOTHING
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
        run_id,
    )
    if stored is not None:
        return int(stored)
    return int(
        await conn.fetchval(
            """
            SELECT id FROM calibrations
            WHERE team_id = $1 AND calibration_run_id = $2 AND trait = $3
            """,
            team_id,
            run_id,
            trait,
        )
    )


async def set_report(
    conn: Conn, *, team_id: str, calibration_id: int, report: dict[str, Any]
) -> None:
    """The lines comparing it with the one before, as shown (the same on every retry: the one
    before is found by id)."""
    await conn.execute(
        "UPDATE calibrations SET report = $3 WHERE team_id = $1 AND id = $2",
        team_id,
        calibration_id,
        report,
    )


async def claim_post(conn: Conn, *, team_id: str, calibration_id: int, chart: bool) -> bool:
    """True once per calibration (its figures, or with `chart` its chart): the caller posts it
    now. A job that dies after the claim leaves it unposted rather than posted twice."""
    column = "chart_posted_at" if chart else "posted_at"
    claimed = await conn.fetchval(
        f"""
        UPDATE calibrations SET {column} = now()
        WHERE team_id = $1 AND id = $2 AND {column} IS NULL
        RETURNING true
        """,
        team_id,
        calibration_id,
    )
    return bool(claimed)


@dataclass(frozen=True, slots=True)
class RunCalibration:
    """One trait's calibration as a run stored it, with its comparison."""

    id: int
    trait: str
    lost: int
    result: dict[str, Any]
    report: dict[str, Any] | None


async def of_run(conn: Conn, *, team_id: str, run_id: int) -> list[RunCalibration]:
    rows = await conn.fetch(
        """
        SELECT id, trait, lost, result, report FROM calibrations
        WHERE team_id = $1 AND calibration_run_id = $2
        ORDER BY id
        """,
        team_id,
        run_id,
    )
    return [
        RunCalibration(
            id=int(r["id"]),
            trait=str(r["trait"]),
            lost=int(r["lost"]),
            result=dict(r["result"]),
            report=None if r["report"] is None else dict(r["report"]),
        )
        for r in rows
    ]
