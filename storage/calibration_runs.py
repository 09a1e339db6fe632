"""Calibration runs and their cells (one row per answer of a sweep, stored once by its job), the
report's compare-and-set, and the run's progress as the queue holds it. Scoped by team id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import asyncpg

from bot.domain.calibration_runs import CalibrationRun, Cell, CellKey, CellOutcome
from storage import progress_claims
from storage.errors import NotFound
from storage.jobs import StoppedRun, cancel_queued, stop_and_count
from storage.progress_claims import ProgressTable

Conn: TypeAlias = asyncpg.Pool | asyncpg.Connection


class CalibrationRunNotFound(NotFound):
    def __init__(self, run_id: int) -> None:
        super().__init__(f"no calibration run with id {run_id}")
        self.run_id = run_id


# one cell's row in calibration_cells or calibration_answers: $1 team, $2 run, $3 to $6 its key
# (_key_args); a constant, the only text put into those queries
_CELL_KEY: Final = (
    "team_id = $1 AND run_id = $2 AND trait = $3 AND level = $4"
    " AND question_idx = $5 AND sample = $6"
)


def _key_args(team_id: str, run_id: int, key: CellKey) -> tuple[str, int, str, int, int, int]:
    return (team_id, run_id, key.trait, key.level, key.question_idx, key.sample)


def cell_prefix(*, team_id: str, run_id: int) -> str:
    """What every cell job of the run has its dedupe key start with."""
    return f"calibration-cell:{team_id}:{run_id}:"


_RUN_COLUMNS = """
    id, team_id, profile_id, profile_version_id, label, traits, levels, questions, samples,
    scenario, cost, channel_id, thread_ts, status, failure, created_by, created_at
"""


def _run(row: Any) -> CalibrationRun:
    return CalibrationRun(
        id=int(row["id"]),
        team_id=str(row["team_id"]),
        profile_id=int(row["profile_id"]),
        profile_version_id=int(row["profile_version_id"]),
        label=str(row["label"]),
        traits=tuple(row["traits"]),
        levels=tuple(int(x) for x in row["levels"]),
        questions=tuple(row["questions"]),
        samples=int(row["samples"]),
        scenario=row["scenario"],
        cost=str(row["cost"]),
        channel_id=row["channel_id"],
        thread_ts=row["thread_ts"],
        status=str(row["status"]),
        failure=row["failure"],
        created_by=str(row["created_by"]),
        created_at=row["created_at"],
    )


async def create_run(
    con: asyncpg.Connection,
    *,
    team_id: str,
    profile_id: int,
    version_id: int,
    label: str,
    traits: Sequence[str],
    levels: Sequence[int],
    questions: Sequence[str],
    samples: int,
    scenario: str | None,
    cost: str,
    channel_id: str | None,
    thread_ts: str | None,
    created_by: str,
) -> CalibrationRun:
    """Inside the caller's transaction, which queues the run's cell jobs too."""
    row = await con.fetchrow(
        f"""
        INSERT INTO calibration_runs (team_id, profile_id, profile_version_id, label, traits,
                                      levels, questions, samples, scenario, cost, channel_id,
                                      thread_ts, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        RETURNING {_RUN_COLUMNS}
        """,
        team_id,
        profile_id,
        version_id,
        label,
        list(traits),
        list(levels),
        list(questions),
        samples,
        scenario,
        cost,
        channel_id,
        thread_ts,
        created_by,
    )
    assert row is not None
    return _run(row)


async def get_run(conn: Conn, *, team_id: str, run_id: int) -> CalibrationRun:
    row = await conn.fetchrow(
        f"SELECT {_RUN_COLUMNS} FROM calibration_runs WHERE team_id = $1 AND id = $2",
        team_id,
        run_id,
    )
    if row is None:
        raise CalibrationRunNotFound(run_id)
    return _run(row)


async def has_cell(conn: Conn, *, team_id: str, run_id: int, key: CellKey) -> bool:
    found = await conn.fetchval(
        f"""
        SELECT true FROM calibration_cells
        WHERE {_CELL_KEY}
        """,
        *_key_args(team_id, run_id, key),
    )
    return bool(found)


async def store_cell(
    conn: Conn,
    *,
    team_id: str,
    run_id: int,
    key: CellKey,
    outcome: CellOutcome,
    answer: str | None = None,
    perceived: Mapping[str, int] | None = None,
    proxies: Mapping[str, float | None] | None = None,
    error: str | None = None,
) -> bool:
    """Once per cell: False when it was stored already (a retried or doubled job). Its
    pending answer (`store_answer`) goes in the same statement."""
    stored = await conn.fetchval(
        f"""
        WITH answered AS (
            DELETE FROM calibration_answers
            WHERE {_CELL_KEY}
        )
        INSERT INTO calibration_cells (team_id, run_id, trait, level, question_idx, sample,
                                       outcome, answer, perceived, proxies, error)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT DO NOTHING
        RETURNING true
        """,
        *_key_args(team_id, run_id, key),
        outcome.value,
        answer,
        None if perceived is None else dict(perceived),
        None if proxies is None else dict(proxies),
        error,
    )
    return bool(stored)


@dataclass(frozen=True, slots=True)
class PendingAnswer:
    text: str
    cut_off: bool


async def store_answer(
    conn: Conn, *, team_id: str, run_id: int, key: CellKey, answer: PendingAnswer
) -> PendingAnswer:
    """The cell's answer, kept until the cell is stored: its judge may answer 429, and the
    retry judges this answer. When two runs of the job answered at once, the first stored
    wins and both judge it."""
    row = await conn.fetchrow(
        f"""
        WITH added AS (
            INSERT INTO calibration_answers (team_id, run_id, trait, level, question_idx,
                                             sample, answer, cut_off)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT DO NOTHING
            RETURNING answer, cut_off
        )
        SELECT answer, cut_off FROM added
        UNION ALL
        SELECT answer, cut_off FROM calibration_answers
        WHERE {_CELL_KEY}
        """,
        *_key_args(team_id, run_id, key),
        answer.text,
        answer.cut_off,
    )
    if row is None:
        # a concurrent insert not yet visible to this statement's snapshot: ours stands in
        return answer
    return PendingAnswer(str(row["answer"]), bool(row["cut_off"]))


async def pending_answer(
    conn: Conn, *, team_id: str, run_id: int, key: CellKey
) -> PendingAnswer | None:
    row = await conn.fetchrow(
        f"""
        SELECT answer, cut_off FROM calibration_answers
        WHERE {_CELL_KEY}
        """,
        *_key_args(team_id, run_id, key),
    )
    return None if row is None else PendingAnswer(str(row["answer"]), bool(row["cut_off"]))


async def cells(conn: Conn, *, team_id: str, run_id: int) -> list[Cell]:
    rows = await conn.fetch(
        """
        SELECT trait, level, question_idx, sample, outcome, perceived, proxies, error
        FROM calibration_cells
        WHERE team_id = $1 AND run_id = $2
        ORDER BY trait, level, question_idx, sample
        """,
        team_id,
        run_id,
    )
    out = []
    for r in rows:
        perceived, proxies = r["perceived"], r["proxies"]
        out.append(
            Cell(
                key=CellKey(r["trait"], int(r["level"]), int(r["question_idx"]), int(r["sample"])),
                outcome=CellOutcome(r["outcome"]),
                perceived=None
                if perceived is None
                else {str(k): int(v) for k, v in perceived.items()},
                proxies=None if proxies is None else {str(k): v for k, v in proxies.items()},
                error=r["error"],
            )
        )
    return out


async def claim_report(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, total: int, reporter: str
) -> bool:
    """Compare-and-set: every cell is stored and nobody reported the run yet. Each job runs
    this after its own cell committed, so the job storing the last cell sees them all. The
    same `reporter` (that job run again: its worker died half-way through the report) claims
    it again; what it stored and posted already is found by its keys and claims."""
    claimed = await pool.fetchval(
        """
        UPDATE calibration_runs SET reported_at = now(), reporter = $4
        WHERE team_id = $1 AND id = $2 AND status = 'running'
          AND (reported_at IS NULL OR reporter = $4)
          AND (SELECT count(*) FROM calibration_cells c
                WHERE c.team_id = $1 AND c.run_id = $2) >= $3
        RETURNING true
        """,
        team_id,
        run_id,
        total,
        reporter,
    )
    return bool(claimed)


async def release_report(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> None:
    """The claimed report could not be finished: a retry of the job claims it again (what it
    stored and posted already is found by its keys and claims, not done twice)."""
    await pool.execute(
        "UPDATE calibration_runs SET reported_at = NULL"
        " WHERE team_id = $1 AND id = $2 AND status = 'running'",
        team_id,
        run_id,
    )


async def finish_run(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> None:
    await pool.execute(
        """
        UPDATE calibration_runs SET status = 'completed', finished_at = now()
        WHERE team_id = $1 AND id = $2 AND status = 'running'
        """,
        team_id,
        run_id,
    )


async def fail_run(pool: asyncpg.Pool, *, team_id: str, run_id: int, failure: str) -> bool:
    """Compare-and-set: the running run fails with `failure` and its queued cells are deleted;
    True for exactly one caller, which says so."""
    async with pool.acquire() as con, con.transaction():
        failed = await con.fetchval(
            """
            UPDATE calibration_runs
            SET status = 'failed', failure = $3, finished_at = now(), reported_at = now()
            WHERE team_id = $1 AND id = $2 AND status = 'running'
            RETURNING true
            """,
            team_id,
            run_id,
            failure,
        )
        if failed:
            await cancel_queued(con, prefix=cell_prefix(team_id=team_id, run_id=run_id))
    return bool(failed)


async def stop_run(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, user_id: str, total: int
) -> StoppedRun | None:
    """Compare-and-set: a running sweep nobody is reporting yet becomes stopped by `user_id`,
    and its cell jobs no worker has picked are deleted in the same transaction (a picked cell
    finishes and is stored; nothing reports the sweep). `done`: the cells stored when it
    stopped. None when it had finished, failed, been stopped or claimed for its report."""
    return await stop_and_count(
        pool,
        stop="""
            UPDATE calibration_runs
            SET status = 'stopped', stopped_by = $3, finished_at = now()
            WHERE team_id = $1 AND id = $2 AND status = 'running' AND reported_at IS NULL
            RETURNING channel_id, thread_ts AS parent_ts
            """,
        done="SELECT count(*) FROM calibration_cells WHERE team_id = $1 AND run_id = $2",
        team_id=team_id,
        run_id=run_id,
        user_id=user_id,
        prefix=cell_prefix(team_id=team_id, run_id=run_id),
        total=total,
    )


async def claim_progress(pool: asyncpg.Pool, *, team_id: str, run_id: int, every_s: float) -> bool:
    """True when nobody showed the run's progress in the last `every_s` seconds: this caller
    does it now (all processes together about once a second)."""
    return await progress_claims.claim(
        pool, table=ProgressTable.CALIBRATION_RUNS, team_id=team_id, row_id=run_id, every_s=every_s
    )


@dataclass(frozen=True, slots=True)
class CellProgress:
    """A run's cells: stored (of which without levels, and failed), being answered, waiting,
    and jobs the queue holds as failed (their failure could not even be stored)."""

    done: int
    no_levels: int
    failed: int
    running: int
    waiting: int
    total: int
    held: int = 0


async def progress(pool: asyncpg.Pool, *, team_id: str, run_id: int, total: int) -> CellProgress:
    row = await pool.fetchrow(
        """
        SELECT
            (SELECT count(*) FROM calibration_cells
              WHERE team_id = $1 AND run_id = $2) AS done,
            (SELECT count(*) FROM calibration_cells
              WHERE team_id = $1 AND run_id = $2 AND outcome = 'no_levels') AS no_levels,
            (SELECT count(*) FROM calibration_cells
              WHERE team_id = $1 AND run_id = $2 AND outcome = 'failed') AS failed,
            (SELECT count(*) FROM pgqueuer
              WHERE left(dedupe_key, length($3)) = $3 AND status = 'picked') AS running,
            (SELECT count(*) FROM pgqueuer
              WHERE left(dedupe_key, length($3)) = $3 AND status = 'queued') AS waiting,
            (SELECT count(*) FROM pgqueuer
              WHERE left(dedupe_key, length($3)) = $3 AND status = 'failed') AS held
        """,
        team_id,
        run_id,
        cell_prefix(team_id=team_id, run_id=run_id),
    )
    assert row is not None
    return CellProgress(
        done=int(row["done"]),
        no_levels=int(row["no_levels"]),
        failed=int(row["failed"]),
        running=int(row["running"]),
        waiting=int(row["waiting"]),
        total=total,
        held=int(row["held"]),
    )


# first half of the advisory-lock key of a calibration run's parent message
_PARENT_LOCK: Final = 0x43414C  # "CAL"


@asynccontextmanager
async def parent_lock(pool: asyncpg.Pool, *, run_id: int, wait: bool) -> AsyncIterator[bool]:
    """Held while a process edits a run's parent message, so a progress edit in flight never
    lands after the final one. Yields False (without waiting) when another holds it."""
    async with pool.acquire() as con, con.transaction():
        if wait:
            await con.execute("SELECT pg_advisory_xact_lock($1, $2)", _PARENT_LOCK, run_id)
            yield True
        else:
            got = await con.fetchval(
                "SELECT pg_try_advisory_xact_lock($1, $2)", _PARENT_LOCK, run_id
            )
            yield bool(got)


async def in_progress(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> bool:
    """Running and not reported yet: its parent may still show progress."""
    return bool(
        await pool.fetchval(
            "SELECT status = 'running' AND reported_at IS NULL FROM calibration_runs"
            " WHERE team_id = $1 AND id = $2",
            team_id,
            run_id,
        )
    )
