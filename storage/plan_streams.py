"""A run's live plan (one streamed message, see bot.slack.live_plan): where it streams, what it
showed last, and (for scenario runs) each planned message's state. Scenario runs and simulation
runs keep the same three columns on their own table (PlanTable). Written only under the run's
parent-message lock, so plain updates are enough."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from storage.jobs import scenario_run_prefix


class PlanTable(StrEnum):
    """The tables whose runs have a live plan (the only names ever put into the SQL)."""

    SCENARIO_RUNS = "scenario_runs"
    SIMULATION_RUNS = "simulation_runs"


@dataclass(frozen=True, slots=True)
class PlanState:
    mode: str | None  # None (not decided), 'stream', 'edit' or 'closed'
    ts: str | None
    # task id -> [status, output] as last sent to Slack
    sent: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class ItemState:
    """One planned message: its result (if stored) and whether a worker is answering it."""

    scenario_id: int
    position: int
    done: bool
    error_kind: str | None
    # judged expected behaviours: passed, of judged
    passed: int
    judged: int
    running: bool
    # its thread post lapsed and the app could not read the thread to check it
    unconfirmed: bool = False


async def plan_state(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, table: PlanTable = PlanTable.SCENARIO_RUNS
) -> PlanState:
    row = await pool.fetchrow(
        f"SELECT plan_mode, plan_ts, plan_sent FROM {PlanTable(table).value}"
        " WHERE team_id = $1 AND id = $2",
        team_id,
        run_id,
    )
    if row is None:
        return PlanState(mode="closed", ts=None, sent={})
    return PlanState(mode=row["plan_mode"], ts=row["plan_ts"], sent=dict(row["plan_sent"] or {}))


async def progress_closed(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, table: PlanTable = PlanTable.SCENARIO_RUNS
) -> bool:
    """The run's parent shows its end (summary or stop): no progress edit may replace it."""
    closed = await pool.fetchval(
        f"SELECT reported_at IS NOT NULL OR status <> 'running' FROM {PlanTable(table).value}"
        " WHERE team_id = $1 AND id = $2",
        team_id,
        run_id,
    )
    return closed is None or bool(closed)


async def set_plan(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    run_id: int,
    mode: str,
    ts: str | None = None,
    sent: dict[str, list[str]] | None = None,
    table: PlanTable = PlanTable.SCENARIO_RUNS,
) -> None:
    """`ts` and `sent` are kept when None."""
    await pool.execute(
        f"""
        UPDATE {PlanTable(table).value}
        SET plan_mode = $3, plan_ts = coalesce($4, plan_ts),
            plan_sent = coalesce($5::jsonb, plan_sent)
        WHERE team_id = $1 AND id = $2
        """,
        team_id,
        run_id,
        mode,
        ts,
        sent,
    )


async def item_states(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> list[ItemState]:
    """The stored results of the run and the messages being answered now (a picked job)."""
    prefix = scenario_run_prefix(team_id=team_id, run_id=run_id)
    rows = await pool.fetch(
        """
        SELECT scenario_id, position, done_at IS NOT NULL AS done, error_kind,
               behaviour_results, post_unconfirmed
        FROM test_results
        WHERE team_id = $1 AND run_id = $2 AND scenario_id IS NOT NULL AND position IS NOT NULL
        """,
        team_id,
        run_id,
    )
    picked = await pool.fetch(
        "SELECT dedupe_key FROM pgqueuer"
        " WHERE left(dedupe_key, length($1)) = $1 AND status = 'picked'",
        prefix,
    )
    states = [_item(r) for r in rows]
    stored = {(s.scenario_id, s.position) for s in states}
    for row in picked:
        # the key ends in "{attempt}:{scenario_id}:{position}" (bot.jobs.payloads)
        parts = str(row["dedupe_key"])[len(prefix) :].split(":")
        if len(parts) != 3:
            continue
        key = (int(parts[1]), int(parts[2]))
        if key not in stored:
            states.append(ItemState(key[0], key[1], False, None, 0, 0, True))
    return states


def _item(row: Any) -> ItemState:
    verdicts = [
        v.get("passed")
        for v in (row["behaviour_results"] or [])
        if isinstance(v, dict) and v.get("passed") is not None
    ]
    return ItemState(
        scenario_id=int(row["scenario_id"]),
        position=int(row["position"]),
        done=bool(row["done"]),
        error_kind=row["error_kind"],
        passed=sum(1 for v in verdicts if v),
        judged=len(verdicts),
        running=False,
        unconfirmed=bool(row["post_unconfirmed"]),
    )
