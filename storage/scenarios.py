"""Scenarios and scenario runs. Every query is scoped by the Slack team id."""

from __future__ import annotations

from typing import Any, Final

import asyncpg

from bot.domain.scenarios import LastRun, Scenario, ScenarioRun
from storage.errors import NotFound, StorageError

# The seed's three scenarios: every workspace starts with them and may edit or delete them.
SEED_SCENARIOS: Final = (
    (
        "Product inquiry",
        "Customer asking about product features and pricing",
        (
            "What are your pricing plans?",
            "Do you offer enterprise features?",
            "Can I get a demo of your product?",
        ),
        ("helpful", "informative", "sales-oriented"),
    ),
    (
        "Technical support",
        "Customer experiencing technical issues",
        (
            "I cannot log into my account",
            "The app keeps crashing on my phone",
            "My integration stopped working",
        ),
        ("empathetic", "solution-focused", "technical"),
    ),
    (
        "Billing questions",
        "Customer asking about billing and payments",
        (
            "Why was I charged twice this month?",
            "How do I cancel my subscription?",
            "Can I get a refund for last month?",
        ),
        ("careful", "policy-aware", "empathetic"),
    ),
)
# A run whose process stopped beating for this long is shown as interrupted, never as running.
STALE_AFTER_S: Final = 60

_SCENARIO_COLUMNS = "id, team_id, name, description, messages, behaviours, updated_at"
_RUN_COLUMNS = """
    id, team_id, profile_version_id, started_by, started_at, finished_at, status, concurrency,
    plan, totals, channel_id, parent_ts, attempt
"""


class ScenarioNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"scenario {name!r} not found")
        self.name = name


class ScenarioNameTaken(StorageError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a scenario named {name!r} already exists")
        self.name = name


class RunTakenOver(StorageError):
    """A resume took the run over: this attempt must stop writing to it."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"scenario run {run_id} was taken over by a resume")
        self.run_id = run_id


class RunNotFound(NotFound):
    def __init__(self, run_id: int) -> None:
        super().__init__(f"no scenario run {run_id}")
        self.run_id = run_id


def _scenario(row: Any) -> Scenario:
    return Scenario(
        id=row["id"],
        team_id=row["team_id"],
        name=row["name"],
        description=row["description"],
        messages=tuple(row["messages"]),
        behaviours=tuple(row["behaviours"]),
        updated_at=row["updated_at"],
    )


def _run(row: Any) -> ScenarioRun:
    return ScenarioRun(**dict(row))


async def seed_workspace(con: asyncpg.Connection, *, team_id: str) -> None:
    """Create the workspace row if needed and give it the seed scenarios exactly once, even when
    two requests race. Call inside a transaction."""
    await con.execute(
        "INSERT INTO workspaces (team_id) VALUES ($1) ON CONFLICT (team_id) DO NOTHING",
        team_id,
    )
    seeded = await con.fetchval(
        "SELECT scenarios_seeded FROM workspaces WHERE team_id = $1 FOR UPDATE", team_id
    )
    if seeded:
        return
    await con.executemany(
        """
        INSERT INTO scenarios (team_id, name, description, messages, behaviours,
                               created_by, updated_by)
        VALUES ($1, $2, $3, $4, $5, 'seed', 'seed')
        """,
        [(team_id, n, d, list(m), list(b)) for n, d, m, b in SEED_SCENARIOS],
    )
    await con.execute("UPDATE workspaces SET scenarios_seeded = true WHERE team_id = $1", team_id)


async def ensure_seeded(pool: asyncpg.Pool, *, team_id: str) -> None:
    async with pool.acquire() as con, con.transaction():
        await seed_workspace(con, team_id=team_id)


async def list_scenarios(pool: asyncpg.Pool, *, team_id: str) -> list[Scenario]:
    rows = await pool.fetch(
        f"""
        SELECT {_SCENARIO_COLUMNS} FROM scenarios
        WHERE team_id = $1 AND deleted_at IS NULL ORDER BY id
        """,
        team_id,
    )
    return [_scenario(r) for r in rows]


async def find_scenario(pool: asyncpg.Pool, *, team_id: str, name: str) -> Scenario:
    row = await pool.fetchrow(
        f"""
        SELECT {_SCENARIO_COLUMNS} FROM scenarios
        WHERE team_id = $1 AND lower(name) = lower($2) AND deleted_at IS NULL
        """,
        team_id,
        name.strip(),
    )
    if row is None:
        raise ScenarioNotFound(name)
    return _scenario(row)


async def get_scenario(pool: asyncpg.Pool, *, team_id: str, scenario_id: int) -> Scenario:
    row = await pool.fetchrow(
        f"""
        SELECT {_SCENARIO_COLUMNS} FROM scenarios
        WHERE team_id = $1 AND id = $2 AND deleted_at IS NULL
        """,
        team_id,
        scenario_id,
    )
    if row is None:
        raise ScenarioNotFound(str(scenario_id))
    return _scenario(row)


async def scenario_exists(pool: asyncpg.Pool, *, team_id: str, scenario_id: int) -> bool:
    """False once the scenario was deleted (its past runs keep what they ran)."""
    found = await pool.fetchval(
        "SELECT true FROM scenarios WHERE team_id = $1 AND id = $2 AND deleted_at IS NULL",
        team_id,
        scenario_id,
    )
    return bool(found)


async def create_scenario(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    name: str,
    description: str,
    messages: list[str],
    behaviours: list[str],
    user_id: str,
) -> Scenario:
    await ensure_seeded(pool, team_id=team_id)
    try:
        row = await pool.fetchrow(
            f"""
            INSERT INTO scenarios (team_id, name, description, messages, behaviours,
                                   created_by, updated_by)
            VALUES ($1, $2, $3, $4, $5, $6, $6)
            RETURNING {_SCENARIO_COLUMNS}
            """,
            team_id,
            name,
            description,
            messages,
            behaviours,
            user_id,
        )
    except asyncpg.UniqueViolationError:
        raise ScenarioNameTaken(name) from None
    return _scenario(row)


async def update_scenario(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    scenario_id: int,
    name: str,
    description: str,
    messages: list[str],
    behaviours: list[str],
    user_id: str,
) -> Scenario:
    try:
        row = await pool.fetchrow(
            f"""
            UPDATE scenarios
            SET name = $3, description = $4, messages = $5, behaviours = $6,
                updated_by = $7, updated_at = now()
            WHERE team_id = $1 AND id = $2 AND deleted_at IS NULL
            RETURNING {_SCENARIO_COLUMNS}
            """,
            team_id,
            scenario_id,
            name,
            description,
            messages,
            behaviours,
            user_id,
        )
    except asyncpg.UniqueViolationError:
        raise ScenarioNameTaken(name) from None
    if row is None:
        raise ScenarioNotFound(str(scenario_id))
    return _scenario(row)


async def delete_scenario(pool: asyncpg.Pool, *, team_id: str, scenario_id: int) -> None:
    done = await pool.execute(
        """
        UPDATE scenarios SET deleted_at = now()
        WHERE team_id = $1 AND id = $2 AND deleted_at IS NULL
        """,
        team_id,
        scenario_id,
    )
    if done == "UPDATE 0":
        raise ScenarioNotFound(str(scenario_id))


# ---- runs --------------------------------------------------------------------------------------


async def create_run(
    pool: asyncpg.Pool,
    *,
    team_id: str,
    profile_version_id: int,
    user_id: str,
    concurrency: int,
    plan: list[dict[str, Any]],
    channel_id: str | None,
) -> ScenarioRun:
    row = await pool.fetchrow(
        f"""
        INSERT INTO scenario_runs (team_id, profile_version_id, started_by, concurrency, plan,
                                   channel_id)
        VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING {_RUN_COLUMNS}
        """,
        team_id,
        profile_version_id,
        user_id,
        concurrency,
        plan,
        channel_id,
    )
    return _run(row)


async def set_parent(
    pool: asyncpg.Pool | asyncpg.Connection, *, team_id: str, run_id: int, parent_ts: str
) -> None:
    await pool.execute(
        "UPDATE scenario_runs SET parent_ts = $3 WHERE team_id = $1 AND id = $2",
        team_id,
        run_id,
        parent_ts,
    )


async def heartbeat(pool: asyncpg.Pool, *, team_id: str, run_id: int, attempt: int) -> None:
    """The run is alive. A run the sweeper thought dead while its process was only slow is
    running again; one that a resume took over raises RunTakenOver."""
    alive = await pool.fetchval(
        """
        UPDATE scenario_runs
        SET heartbeat_at = now(), status = 'running', finished_at = NULL
        WHERE team_id = $1 AND id = $2 AND attempt = $3 AND status <> 'completed'
          AND (totals IS NULL OR NOT totals ? 'stopped_by')
        RETURNING true
        """,
        team_id,
        run_id,
        attempt,
    )
    if not alive:
        raise RunTakenOver(run_id)


async def finish_run(
    pool: asyncpg.Pool, *, team_id: str, run_id: int, totals: dict[str, Any], attempt: int = 1
) -> None:
    done = await pool.execute(
        """
        UPDATE scenario_runs SET status = 'completed', finished_at = now(), totals = $3
        WHERE team_id = $1 AND id = $2 AND attempt = $4
        """,
        team_id,
        run_id,
        totals,
        attempt,
    )
    if done == "UPDATE 0":
        raise RunTakenOver(run_id)


async def claim_resume(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> ScenarioRun | None:
    """Take an interrupted run over; only one of two racing resumes gets it. Its next attempt
    number makes every write of the previous one (a process that was slow, not dead) fail."""
    row = await pool.fetchrow(
        f"""
        UPDATE scenario_runs
        SET status = 'running', heartbeat_at = now(), finished_at = NULL, attempt = attempt + 1,
            reported_at = NULL, progress_at = NULL, reporter = NULL, summary_at = NULL,
            report_failure = NULL
        WHERE team_id = $1 AND id = $2 AND status = 'interrupted'
          -- a run someone stopped stays stopped
          AND (totals IS NULL OR NOT totals ? 'stopped_by')
        RETURNING {_RUN_COLUMNS}
        """,
        team_id,
        run_id,
    )
    return None if row is None else _run(row)


async def mark_interrupted(pool: asyncpg.Pool, *, team_id: str, run_id: int, attempt: int) -> None:
    await pool.execute(
        """
        UPDATE scenario_runs SET status = 'interrupted', finished_at = now()
        WHERE team_id = $1 AND id = $2 AND status = 'running' AND attempt = $3
        """,
        team_id,
        run_id,
        attempt,
    )


async def mark_stale_runs_interrupted(
    pool: asyncpg.Pool, *, stale_after_s: int = STALE_AFTER_S
) -> int:
    """Runs whose work stopped moving are interrupted, not running forever. A run with jobs
    still in the queue is not: a worker (this process's or another's) answers them, and a job
    whose worker died is picked up again when its heartbeat is late."""
    done = await pool.execute(
        """
        UPDATE scenario_runs r SET status = 'interrupted', finished_at = now()
        WHERE r.status = 'running' AND r.heartbeat_at < now() - make_interval(secs => $1)
          AND NOT EXISTS (
              SELECT 1 FROM pgqueuer q
              WHERE q.status IN ('queued', 'picked')
                -- the prefix of the run's jobs' dedupe keys (storage.jobs.SCENARIO_MESSAGE_PREFIX)
                AND q.dedupe_key LIKE 'scenario-message:' || r.team_id || ':' || r.id || ':%'
          )
        """,
        stale_after_s,
    )
    return int(done.split()[-1])


async def get_run(pool: asyncpg.Pool, *, team_id: str, run_id: int) -> ScenarioRun:
    row = await pool.fetchrow(
        f"SELECT {_RUN_COLUMNS} FROM scenario_runs WHERE team_id = $1 AND id = $2",
        team_id,
        run_id,
    )
    if row is None:
        raise RunNotFound(run_id)
    return _run(row)


async def previous_run_id(
    pool: asyncpg.Pool, *, team_id: str, profile_id: int, scenario_id: int, before_run: int
) -> tuple[int, int] | None:
    """The latest completed earlier run of this scenario on this profile: (run id, version)."""
    row = await pool.fetchrow(
        """
        SELECT r.id, v.version
        FROM scenario_runs r
        JOIN profile_versions v ON v.team_id = r.team_id AND v.id = r.profile_version_id
        WHERE r.team_id = $1 AND v.profile_id = $2 AND r.status = 'completed' AND r.id < $4
          AND EXISTS (SELECT 1 FROM test_results t
                      WHERE t.team_id = r.team_id AND t.run_id = r.id AND t.scenario_id = $3)
        ORDER BY r.id DESC LIMIT 1
        """,
        team_id,
        profile_id,
        scenario_id,
        before_run,
    )
    return None if row is None else (row["id"], row["version"])


async def last_runs(pool: asyncpg.Pool, *, team_id: str) -> dict[int, LastRun]:
    """Per scenario, the behaviours passed in its latest completed run."""
    rows = await pool.fetch(
        """
        SELECT DISTINCT ON (t.scenario_id)
               t.scenario_id, r.id AS run_id, p.name || ' v' || v.version AS label,
               r.finished_at,
               (SELECT count(*) FROM test_results x, jsonb_array_elements(x.behaviour_results) b
                 WHERE x.team_id = r.team_id AND x.run_id = r.id
                   AND x.scenario_id = t.scenario_id AND (b ->> 'passed')::boolean) AS passed,
               (SELECT count(*) FROM test_results x, jsonb_array_elements(x.behaviour_results) b
                 WHERE x.team_id = r.team_id AND x.run_id = r.id
                   AND x.scenario_id = t.scenario_id) AS total
        FROM test_results t
        JOIN scenario_runs r ON r.team_id = t.team_id AND r.id = t.run_id
        JOIN profile_versions v ON v.team_id = r.team_id AND v.id = r.profile_version_id
        JOIN profiles p ON p.team_id = v.team_id AND p.id = v.profile_id
        WHERE t.team_id = $1 AND r.status = 'completed'
        ORDER BY t.scenario_id, r.id DESC
        """,
        team_id,
    )
    return {
        r["scenario_id"]: LastRun(
            r["run_id"], r["label"], r["passed"], r["total"], r["finished_at"]
        )
        for r in rows
    }
