"""A/B tests over simulated customers: the A/B test (storage.ab) with its two runs, their
conversations created up front with the same seed per sample, and the pairs. Every query is
scoped by the Slack team id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import asyncpg

from bot.domain.ab import AbTest
from bot.domain.simulation import Simulation, SimulationRun
from bot.domain.simulation_ab import SimulationAb, SimulationPair
from storage import ab as ab_repo
from storage import simulations as simulations_repo

_COLUMNS: Final = (
    "team_id, ab_test_id, run_a_id, run_b_id, repeat, seed_base, opened_at IS NOT NULL AS opened"
)
_PAIR_COLUMNS: Final = "ab_message_id, simulation_id, sample, conversation_a_id, conversation_b_id"


def _test(row: Any) -> SimulationAb:
    return SimulationAb(**dict(row))


def _pair(row: Any) -> SimulationPair:
    return SimulationPair(**dict(row))


def pair_name(simulation: Simulation, sample: int, repeat: int) -> str:
    """What a pair's ab_message says it is (its `message`)."""
    return (
        simulation.name if repeat == 1 else f"{simulation.name} · sample {sample + 1} of {repeat}"
    )


async def create(
    con: asyncpg.Connection,
    *,
    team_id: str,
    version_a_id: int,
    version_b_id: int,
    user_id: str,
    channel_id: str,
    simulations: Sequence[Simulation],
    repeat: int,
    seed_base: int,
    a_first: Sequence[bool],
) -> tuple[AbTest, SimulationRun, SimulationRun]:
    """In one transaction: the A/B test with one blind pair per (simulation, sample), the two
    quiet runs (no channel: they post nothing), and both runs' conversations, sample i of each
    with seed `seed_base + i`."""
    keys = [(s, sample) for s in simulations for sample in range(repeat)]
    assert len(a_first) == len(keys)
    async with con.transaction():
        test, messages = await ab_repo.create(
            con,
            team_id=team_id,
            version_a_id=version_a_id,
            version_b_id=version_b_id,
            user_id=user_id,
            channel_id=channel_id,
            messages=[
                (pair_name(s, sample, repeat), first)
                for (s, sample), first in zip(keys, a_first, strict=True)
            ],
        )
        plan = [s.plan_json() for s in simulations]
        runs = [
            await simulations_repo.create_run(
                con,
                team_id=team_id,
                profile_version_id=version_id,
                user_id=user_id,
                plan=plan,
                repeat=repeat,
                channel_id=None,
            )
            for version_id in (version_a_id, version_b_id)
        ]
        await con.execute(
            """
            INSERT INTO simulation_ab_tests (team_id, ab_test_id, run_a_id, run_b_id, repeat,
                                             seed_base)
            VALUES ($1, $2, $3, $4, $5, $6)
            """,
            team_id,
            test.id,
            runs[0].id,
            runs[1].id,
            repeat,
            seed_base,
        )
        for index, ((simulation, sample), message) in enumerate(zip(keys, messages, strict=True)):
            ids = []
            for run in runs:
                ids.append(
                    await con.fetchval(
                        """
                        INSERT INTO simulation_conversations (team_id, run_id, simulation_id,
                                                              sample, seed)
                        VALUES ($1, $2, $3, $4, $5) RETURNING id
                        """,
                        team_id,
                        run.id,
                        simulation.id,
                        sample,
                        seed_base + index,
                    )
                )
            await con.execute(
                """
                INSERT INTO simulation_ab_pairs (team_id, ab_message_id, ab_test_id,
                    simulation_id, sample, conversation_a_id, conversation_b_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                """,
                team_id,
                message.id,
                test.id,
                simulation.id,
                sample,
                ids[0],
                ids[1],
            )
    return test, runs[0], runs[1]


async def for_test(pool: asyncpg.Pool, *, team_id: str, ab_id: int) -> SimulationAb | None:
    """The simulation side of A/B test `ab_id`; None for a scripted test."""
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM simulation_ab_tests WHERE team_id = $1 AND ab_test_id = $2",
        team_id,
        ab_id,
    )
    return None if row is None else _test(row)


async def for_run(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> SimulationAb | None:
    """The A/B test a simulation run is a side of; None for a run of its own."""
    row = await pool.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM simulation_ab_tests
        WHERE team_id = $1 AND (run_a_id = $2 OR run_b_id = $2)
        """,
        team_id,
        run_id,
    )
    return None if row is None else _test(row)


async def ready_to_open(pool: asyncpg.Pool, *, team_id: str, ab_id: int) -> bool:
    """True (to every caller, any number of times) once every conversation of both runs is
    done: the caller posts the pairs not yet posted, each claimed on its own, then opens voting
    by a compare-and-set (storage.ab_jobs.finish_answering). Repeatable on purpose: a job
    killed while posting the pairs is run again by the queue and carries on. The first caller
    records when the opening began."""
    ready = await pool.fetchval(
        """
        UPDATE simulation_ab_tests s SET opened_at = COALESCE(s.opened_at, now())
        WHERE s.team_id = $1 AND s.ab_test_id = $2
          AND NOT EXISTS (
              SELECT 1 FROM simulation_conversations c
              WHERE c.team_id = s.team_id AND c.run_id IN (s.run_a_id, s.run_b_id)
                AND c.done_at IS NULL)
        RETURNING true
        """,
        team_id,
        ab_id,
    )
    return bool(ready)


async def pairs(pool: asyncpg.Pool, *, team_id: str, ab_id: int) -> list[SimulationPair]:
    rows = await pool.fetch(
        f"""
        SELECT {_PAIR_COLUMNS} FROM simulation_ab_pairs p
        JOIN ab_messages m ON m.team_id = p.team_id AND m.id = p.ab_message_id
        WHERE p.team_id = $1 AND p.ab_test_id = $2 ORDER BY m.position
        """,
        team_id,
        ab_id,
    )
    return [_pair(r) for r in rows]


async def pair(pool: asyncpg.Pool, *, team_id: str, message_id: int) -> SimulationPair | None:
    row = await pool.fetchrow(
        f"SELECT {_PAIR_COLUMNS} FROM simulation_ab_pairs"
        " WHERE team_id = $1 AND ab_message_id = $2",
        team_id,
        message_id,
    )
    return None if row is None else _pair(row)
