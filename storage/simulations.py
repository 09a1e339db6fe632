"""Simulation scenarios, their runs, conversations and turns. Every query is scoped by the
Slack team id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from bot.domain.simulation import (
    Conversation,
    Persona,
    Simulation,
    SimulationRun,
    StoredTurn,
)
from storage import post_claims, progress_claims
from storage.errors import NotFound, StorageError
from storage.jobs import StoppedRun, stop_and_count
from storage.post_claims import ClaimTable
from storage.progress_claims import ProgressTable

_SIM_COLUMNS: Final = "id, team_id, name, persona, goal, behaviours, turn_limit, updated_at"
_RUN_COLUMNS: Final = (
    "id, team_id, profile_version_id, started_by, status, plan, repeat, channel_id, parent_ts,"
    " summary"
)
_CONV_COLUMNS: Final = (
    "id, run_id, simulation_id, sample, ending, fault, outcome, done_at IS NOT NULL AS done,"
    " seed, seed_honoured"
)


class SimulationNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"simulation {name!r} not found")
        self.name = name


class SimulationNameTaken(StorageError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a simulation named {name!r} already exists")
        self.name = name


class SimulationRunNotFound(NotFound):
    def __init__(self, run_id: int) -> None:
        super().__init__(f"no simulation run {run_id}")
        self.run_id = run_id


def _simulation(row: Any) -> Simulation:
    return Simulation(
        id=row["id"],
        team_id=row["team_id"],
        name=row["name"],
        persona=Persona.from_json(dict(row["persona"])),
        goal=row["goal"],
        behaviours=tuple(row["behaviours"]),
        turn_limit=row["turn_limit"],
        updated_at=row["updated_at"],
    )


def _conversation(row: Any) -> Conversation:
    return Conversation(**dict(row))


async def seed_simulations(
    con: asyncpg.Connection, *, team_id: str, seeds: Sequence[Simulation]
) -> None:
    """The workspace's seed simulations, exactly once even when two requests race (the
    workspace row is locked). Call inside a transaction."""
    await con.execute(
        "INSERT INTO workspaces (team_id) VALUES ($1) ON CONFLICT (team_id) DO NOTHING", team_id
    )
    seeded = await con.fetchval(
        "SELECT simulations_seeded FROM workspaces WHERE team_id = $1 FOR UPDATE", team_id
    )
    if seeded:
        return
    await con.executemany(
        """
        INSERT INTO simulation_scenarios (team_id, name, persona, goal, behaviours, turn_limit,
                                          created_by, updated_by)
        VALUES ($1, $2, $3, $4, $5, $6, 'seed', 'seed')
        ON CONFLICT DO NOTHING
        """,
        [
            (team_id, s.name, s.persona.to_json(), s.goal, list(s.behaviours), s.turn_limit)
            for s in seeds
        ],
    )
    await con.execute("UPDATE workspaces SET simulations_seeded = true WHERE team_id = $1", team_id)


async def ensure_seeded(pool: asyncpg.Pool, *, team_id: str, seeds: Sequence[Simulation]) -> None:
    async with pool.acquire() as con, con.transaction():
        await seed_simulations(con, team_id=team_id, seeds=seeds)


async def list_simulations(pool: asyncpg.Pool, *, team_id: str) -> list[Simulation]:
    rows = await pool.fetch(
        f"SELECT {_SIM_COLUMNS} FROM simulation_scenarios"
        " WHERE team_id = $1 AND deleted_at IS NULL ORDER BY id",
        team_id,
    )
    return [_simulation(r) for r in rows]


async def find_simulation(pool: asyncpg.Pool, *, team_id: str, name: str) -> Simulation:
    row = await pool.fetchrow(
        f"SELECT {_SIM_COLUMNS} FROM simulation_scenarios"
        " WHERE team_id = $1 AND lower(name) = lower($2) AND deleted_at IS NULL",
        team_id,
        name.strip(),
    )
    if row is None:
        raise SimulationNotFound(name)
    return _simulation(row)


async def create_simulation(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    name: str,
    persona: Persona,
    goal: str,
    behaviours: list[str],
    turn_limit: int,
    user_id: str,
) -> Simulation:
    try:
        row = await pool.fetchrow(
            f"""
            INSERT INTO simulation_scenarios (team_id, name, persona, goal, behaviours,
                                              turn_limit, created_by, updated_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
            RETURNING {_SIM_COLUMNS}
            """,
            team_id,
            name,
            persona.to_json(),
            goal,
            behaviours,
            turn_limit,
            user_id,
        )
    except asyncpg.UniqueViolationError:
        raise SimulationNameTaken(name) from None
    return _simulation(row)


async def delete_simulation(pool: asyncpg.Pool, *, team_id: str, simulation_id: int) -> None:
    done = await pool.execute(
        "UPDATE simulation_scenarios SET deleted_at = now()"
        " WHERE team_id = $1 AND id = $2 AND deleted_at IS NULL",
        team_id,
        simulation_id,
    )
    if done == "UPDATE 0":
        raise SimulationNotFound(str(simulation_id))


# ---- runs --------------------------------------------------------------------------------------


def _run(row: Any) -> SimulationRun:
    return SimulationRun(**dict(row))


async def create_run(
    pool: asyncpg.Pool | asyncpg.Connection,
    *,
    team_id: str,
    profile_version_id: int,
    user_id: str,
    plan: list[dict[str, Any]],
    repeat: int,
    channel_id: str | None,
) -> SimulationRun:
    row = await pool.fetchrow(
        f"""
        INSERT INTO simulation_runs (team_id, profile_version_id, started_by, plan, repeat,
                                     channel_id)
        VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING {_RUN_COLUMNS}
        """,
        team_id,
        profile_version_id,
        user_id,
        plan,
        repeat,
        channel_id,
    )
    return _run(row)


async def set_parent(
    pool: asyncpg.Pool | asyncpg.Connection, *, team_id: str, run_id: int, parent_ts: str
) -> None:
    await pool.execute(
        "UPDATE simulation_runs SET parent_ts = $3 WHERE team_id = $1 AND id = $2",
        team_id,
        run_id,
        parent_ts,
    )


async def get_run(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> SimulationRun:
    row = await pool.fetchrow(
        f"SELECT {_RUN_COLUMNS} FROM simulation_runs WHERE team_id = $1 AND id = $2",
        team_id,
        run_id,
    )
    if row is None:
        raise SimulationRunNotFound(run_id)
    return _run(row)


async def conversation(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, simulation_id: int, sample: int
) -> Conversation:
    """The conversation's row, created by the first job that gets here (unique key)."""
    row = await pool.fetchrow(
        f"""
        WITH made AS (
            INSERT INTO simulation_conversations (team_id, run_id, simulation_id, sample)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (team_id, run_id, simulation_id, sample) DO NOTHING
            RETURNING {_CONV_COLUMNS}
        )
        SELECT * FROM made
        UNION ALL
        SELECT {_CONV_COLUMNS} FROM simulation_conversations
        WHERE team_id = $1 AND run_id = $2 AND simulation_id = $3 AND sample = $4
        LIMIT 1
        """,
        team_id,
        run_id,
        simulation_id,
        sample,
    )
    assert row is not None
    return _conversation(row)


async def conversations(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> list[Conversation]:
    rows = await pool.fetch(
        f"SELECT {_CONV_COLUMNS} FROM simulation_conversations"
        " WHERE team_id = $1 AND run_id = $2 ORDER BY simulation_id, sample",
        team_id,
        run_id,
    )
    return [_conversation(r) for r in rows]


async def turns(pool: asyncpg.Pool, *, team_id: str, conversation_id: int) -> list[StoredTurn]:
    rows = await pool.fetch(
        """
        SELECT id, turn, text, state, result_id, posted_ts IS NOT NULL OR post_unconfirmed AS posted
        FROM simulation_turns WHERE team_id = $1 AND conversation_id = $2 ORDER BY turn
        """,
        team_id,
        conversation_id,
    )
    return [StoredTurn(**dict(r)) for r in rows]


async def add_turn(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    conversation_id: int,
    turn: int,
    text: str,
    state: str | None = None,
    result_id: int | None = None,
) -> StoredTurn:
    """Store the turn once; a second writer of the same turn (a retried job racing the first)
    gets the stored one back, and goes on from it."""
    await pool.execute(
        """
        INSERT INTO simulation_turns (team_id, conversation_id, turn, text, state, result_id)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (conversation_id, turn) DO NOTHING
        """,
        team_id,
        conversation_id,
        turn,
        text,
        state,
        result_id,
    )
    row = await pool.fetchrow(
        """
        SELECT id, turn, text, state, result_id, posted_ts IS NOT NULL OR post_unconfirmed AS posted
        FROM simulation_turns WHERE team_id = $1 AND conversation_id = $2 AND turn = $3
        """,
        team_id,
        conversation_id,
        turn,
    )
    assert row is not None
    return StoredTurn(**dict(row))


async def claim_turn_post(
    pool: asyncpg.Pool, *, team_id: str, turn_id: int, lease_s: float
) -> post_claims.PostState:
    """Claim the turn's thread post (see storage.post_claims): a claim older than `lease_s`
    without a recorded post is taken again, and its new holder looks in the thread first."""
    return await post_claims.claim(
        pool, table=ClaimTable.SIMULATION_TURNS, team_id=team_id, row_id=turn_id, lease_s=lease_s
    )


async def record_turn_post(pool: asyncpg.Pool, *, team_id: str, turn_id: int, ts: str) -> None:
    """The turn's post is settled: Slack took it (its ts), or refused it ('')."""
    await pool.execute(
        "UPDATE simulation_turns SET posted_ts = $3 WHERE team_id = $1 AND id = $2",
        team_id,
        turn_id,
        ts,
    )


async def mark_turn_unconfirmed(pool: asyncpg.Pool, *, team_id: str, turn_id: int) -> None:
    """A lapsed claim whose thread could not be read: not sent again (it may be there), and
    counted in the run's summary."""
    await pool.execute(
        "UPDATE simulation_turns SET post_unconfirmed = true WHERE team_id = $1 AND id = $2",
        team_id,
        turn_id,
    )


async def unconfirmed_turns(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> int:
    """How many of the run's turn posts could not be confirmed."""
    n: int = await pool.fetchval(
        """
        SELECT count(*) FROM simulation_turns t
        JOIN simulation_conversations c ON c.team_id = t.team_id AND c.id = t.conversation_id
        WHERE t.team_id = $1 AND c.run_id = $2 AND t.post_unconfirmed
        """,
        team_id,
        run_id,
    )
    return n


async def claim_chart(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> bool:
    """True for the one caller that uploads the run's drift chart (claimed before the upload:
    a report retried after it never uploads it twice; one that died mid-upload has none)."""
    claimed = await pool.fetchval(
        """
        UPDATE simulation_runs SET chart_claimed_at = now()
        WHERE team_id = $1 AND id = $2 AND chart_claimed_at IS NULL
        RETURNING true
        """,
        team_id,
        run_id,
    )
    return bool(claimed)


async def finish_conversation(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    conversation_id: int,
    ending: str,
    fault: str | None,
    outcome: dict[str, Any],
) -> None:
    await pool.execute(
        """
        UPDATE simulation_conversations
        SET ending = $3, fault = $4, outcome = $5, done_at = now()
        WHERE team_id = $1 AND id = $2 AND done_at IS NULL
        """,
        team_id,
        conversation_id,
        ending,
        fault,
        outcome,
    )


async def seed_refused(pool: asyncpg.Pool, *, team_id: str, conversation_id: int) -> None:
    """The endpoint refused the conversation's seed: its simulator calls went without it."""
    await pool.execute(
        "UPDATE simulation_conversations SET seed_honoured = false"
        " WHERE team_id = $1 AND id = $2 AND seed IS NOT NULL",
        team_id,
        conversation_id,
    )


async def seed_taken(pool: asyncpg.Pool, *, team_id: str, conversation_id: int) -> None:
    """A simulator call went out with the seed and was answered (a refusal, once recorded,
    stays: some of the conversation's calls went without it)."""
    await pool.execute(
        "UPDATE simulation_conversations SET seed_honoured = true"
        " WHERE team_id = $1 AND id = $2 AND seed IS NOT NULL AND seed_honoured IS NULL",
        team_id,
        conversation_id,
    )


async def claim_report(pool: asyncpg.Pool, *, team_id: str, run_id: int, total: int) -> bool:
    """Compare-and-set: every conversation is done and nobody reported the run yet (a stopped
    run is never reported; a completed one unreported is one whose report failed after storing
    its figures, and released its claim)."""
    claimed = await pool.fetchval(
        """
        UPDATE simulation_runs SET reported_at = now()
        WHERE team_id = $1 AND id = $2 AND reported_at IS NULL
          AND status IN ('running', 'completed')
          AND (SELECT count(*) FROM simulation_conversations c
                WHERE c.team_id = $1 AND c.run_id = $2 AND c.done_at IS NOT NULL) >= $3
        RETURNING true
        """,
        team_id,
        run_id,
        total,
    )
    return bool(claimed)


async def release_report(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> None:
    await pool.execute(
        "UPDATE simulation_runs SET reported_at = NULL WHERE team_id = $1 AND id = $2",
        team_id,
        run_id,
    )


async def finish_run(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, summary: dict[str, Any]
) -> None:
    await pool.execute(
        """
        UPDATE simulation_runs SET status = 'completed', finished_at = now(), summary = $3
        WHERE team_id = $1 AND id = $2
        """,
        team_id,
        run_id,
        summary,
    )


async def done_count(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> int:
    n = await pool.fetchval(
        "SELECT count(*) FROM simulation_conversations"
        " WHERE team_id = $1 AND run_id = $2 AND done_at IS NOT NULL",
        team_id,
        run_id,
    )
    return int(n or 0)


async def is_stopped(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> bool:
    """Someone pressed the run's Stop (or its data is gone): a conversation ends its turns."""
    status = await pool.fetchval(
        "SELECT status FROM simulation_runs WHERE team_id = $1 AND id = $2", team_id, run_id
    )
    return status is None or status == "stopped"


async def claim_progress(pool: asyncpg.Pool, *, team_id: str, run_id: int, every_s: float) -> bool:
    """True when nobody showed the run's progress in the last `every_s` seconds: this caller
    does it now (all processes together about once a second)."""
    return await progress_claims.claim(
        pool, table=ProgressTable.SIMULATION_RUNS, team_id=team_id, row_id=run_id, every_s=every_s
    )


@dataclass(frozen=True, slots=True)
class ConversationState:
    """One conversation of a run as its plan shows it: started (its row exists), customer
    turns so far, and, once done, how it ended and the goal judge's verdict."""

    simulation_id: int
    sample: int
    done: bool
    ending: str | None
    fault: str | None
    verdict: str | None
    customer_turns: int


async def conversation_states(
    pool: asyncpg.Pool, *, team_id: str, run_id: int
) -> list[ConversationState]:
    rows = await pool.fetch(
        """
        SELECT c.simulation_id, c.sample, c.done_at IS NOT NULL AS done, c.ending, c.fault,
               c.outcome -> 'goal' ->> 'verdict' AS verdict,
               (SELECT count(*) FROM simulation_turns t
                 WHERE t.team_id = c.team_id AND t.conversation_id = c.id
                   AND t.turn % 2 = 0)::int AS customer_turns
        FROM simulation_conversations c
        WHERE c.team_id = $1 AND c.run_id = $2
        """,
        team_id,
        run_id,
    )
    return [ConversationState(**dict(r)) for r in rows]


async def stop_run(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, user_id: str, total: int, job_prefix: str
) -> StoppedRun | None:
    """Compare-and-set: a running run nobody reported yet becomes stopped by `user_id`, and its
    queued jobs (dedupe keys starting with `job_prefix`) are deleted in the same transaction.
    None when it had finished, been stopped or reported already."""
    return await stop_and_count(
        pool,
        stop="""
            UPDATE simulation_runs
            SET status = 'stopped', stopped_by = $3, finished_at = now()
            WHERE team_id = $1 AND id = $2 AND status = 'running' AND reported_at IS NULL
            RETURNING channel_id, parent_ts
            """,
        done="SELECT count(*) FROM simulation_conversations"
        " WHERE team_id = $1 AND run_id = $2 AND done_at IS NOT NULL",
        team_id=team_id,
        run_id=run_id,
        user_id=user_id,
        prefix=job_prefix,
        total=total,
    )


# first half of the advisory-lock key of a simulation run's parent message
_PARENT_LOCK: Final = 0x53494D  # "SIM"


@asynccontextmanager
async def parent_lock(pool: asyncpg.Pool, *, run_id: int, wait: bool) -> AsyncIterator[bool]:
    """Held while a process edits a run's parent message, so a progress edit in flight never
    lands after the summary. Yields False (without waiting) when another holds it."""
    async with pool.acquire() as con, con.transaction():
        if wait:
            await con.execute("SELECT pg_advisory_xact_lock($1, $2)", _PARENT_LOCK, run_id)
            yield True
        else:
            got = await con.fetchval(
                "SELECT pg_try_advisory_xact_lock($1, $2)", _PARENT_LOCK, run_id
            )
            yield bool(got)
