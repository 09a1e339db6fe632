"""The once-a-second claim on showing a run's progress, shared by every kind of run whose jobs
edit its parent message (scenario runs, A/B tests, simulation runs, calibration sweeps):
chat.update is Tier 3, so all processes together edit a parent about once a second, and the
caller that wins the claim does it.

The tables and their columns come from a fixed allow-list (ProgressTable): the only names ever
put into the SQL."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import asyncpg


class ProgressTable(StrEnum):
    """The runs whose progress is claimed."""

    SCENARIO_RUNS = "scenario_runs"
    AB_TESTS = "ab_tests"
    SIMULATION_RUNS = "simulation_runs"
    CALIBRATION_RUNS = "calibration_runs"


@dataclass(frozen=True, slots=True)
class _Rule:
    # the status while its jobs are at work: no progress is shown after it
    active: str
    # the claim also counts as the run's heartbeat (its stuck-run sweep reads heartbeat_at)
    beats: bool
    # no progress once its summary was claimed (the summary replaces the parent)
    until_reported: bool


_RULES = {
    ProgressTable.SCENARIO_RUNS: _Rule(active="running", beats=True, until_reported=False),
    ProgressTable.AB_TESTS: _Rule(active="answering", beats=True, until_reported=False),
    ProgressTable.SIMULATION_RUNS: _Rule(active="running", beats=False, until_reported=True),
    ProgressTable.CALIBRATION_RUNS: _Rule(active="running", beats=False, until_reported=True),
}


async def claim(
    pool: asyncpg.Pool, *, table: ProgressTable, team_id: str, row_id: int, every_s: float
) -> bool:
    """True when nobody showed the run's progress in the last `every_s` seconds: this caller
    does it now."""
    t, rule = ProgressTable(table).value, _RULES[ProgressTable(table)]
    beat = ", heartbeat_at = now()" if rule.beats else ""
    unreported = " AND reported_at IS NULL" if rule.until_reported else ""
    claimed = await pool.fetchval(
        f"""
        UPDATE {t} SET progress_at = now(){beat}
        WHERE team_id = $1 AND id = $2 AND status = $4{unreported}
          AND (progress_at IS NULL OR progress_at < now() - make_interval(secs => $3))
        RETURNING true
        """,
        team_id,
        row_id,
        every_s,
        rule.active,
    )
    return bool(claimed)
