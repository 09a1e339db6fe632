"""A scenario run answers each message once and always shows its summary: a resume takes a run
over from a process that was only late (which then stops writing), a unique index backs that
(migration 0011 removes the duplicates earlier resumes left), and a summary Slack refuses to
edit in is posted as a new message."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from bot.domain.profile import DEFAULT_FIELDS
from storage import results as results_repo
from storage import scenarios as repo
from storage.db import create_pool
from storage.migrate import load_migrations, migrate
from storage.profiles import create_profile
from storage.results import NewResult
from storage.scenarios import RunTakenOver
from tests.conftest import with_database
from tests.fake_openai import FakeOpenAI
from tests.slack_driver import TEAM, SlackDriver
from tests.test_rerun import done
from tests.test_scenarios import run_done


async def quiet(live: SlackDriver, model: FakeOpenAI, *, for_s: float = 0.5) -> None:
    """Until nothing has reached the model or Slack for `for_s`: both writers have stopped."""
    deadline = time.monotonic() + 30
    seen = (-1, -1)
    while True:
        now = (len(model.requests), len(live.slack.calls))
        if now == seen and model.in_flight == 0:
            return
        assert time.monotonic() < deadline, "the run never went quiet"
        seen = now
        await asyncio.sleep(for_s)


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def thread_posts(live: SlackDriver, parent_ts: str) -> list[dict[str, Any]]:
    return [
        c.args
        for c in live.slack.of("chat.postMessage")
        if c.args.get("thread_ts") == parent_ts and c.response.get("ok")
    ]


def summaries(live: SlackDriver) -> list[dict[str, Any]]:
    """Every summary shown, by edit or as a new message (only summaries have a header)."""
    return [
        c.args
        for c in live.slack.calls
        if c.method in {"chat.update", "chat.postMessage"}
        and c.response.get("ok")
        and any(b.get("type") == "header" for b in c.args.get("blocks") or [])
    ]


async def test_resuming_a_run_whose_jobs_are_queued_answers_each_message_once(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    await live.reply_text("new Support")
    model.ttft_s = 0.4  # slow enough for the resume to come while the run goes on
    await live.command("scenario run all")
    await live.slack.wait_calls("chat.postMessage")  # the parent: the run is under way
    await until(lambda: bool(model.requests))
    run_id = await live.pool.fetchval("SELECT id FROM scenario_runs")
    # the run's heartbeat is late, but its jobs are in the queue: it is not taken over (the
    # resume that took over a late run used to answer everything a second time)
    await live.pool.execute(
        "UPDATE scenario_runs SET heartbeat_at = now() - interval '5 minutes' WHERE id = $1",
        run_id,
    )
    assert "is still running" in await live.reply_text(f"scenario rerun {run_id}")
    await done(live.pool, run_id)
    await quiet(live, model)

    rows = await live.pool.fetch(
        "SELECT scenario_id, position FROM test_results WHERE run_id = $1", run_id
    )
    keys = [(r["scenario_id"], r["position"]) for r in rows]
    assert len(keys) == len(set(keys)) == 9, sorted(keys)
    parent_ts = await live.pool.fetchval(
        "SELECT parent_ts FROM scenario_runs WHERE id = $1", run_id
    )
    assert len(thread_posts(live, parent_ts)) == 9  # each answer shown once in the thread
    assert len(summaries(live)) == 1
    assert await live.pool.fetchval("SELECT attempt FROM scenario_runs WHERE id = $1", run_id) == 1


async def test_only_the_owning_attempt_writes_a_message_once(pool: asyncpg.Pool) -> None:
    version = await create_profile(
        pool, team_id=TEAM, name="Support", fields=DEFAULT_FIELDS, user_id="U1"
    )
    run = await repo.create_run(
        pool,
        team_id=TEAM,
        profile_version_id=version.id,
        user_id="U1",
        concurrency=1,
        plan=[],
        channel_id=None,
    )
    base = NewResult(
        team_id=TEAM,
        profile_version_id=version.id,
        kind="scenario",
        user_id="U1",
        question="q",
        answer="a",
        run_id=run.id,
        scenario_id=1,
        position=0,
        run_attempt=1,
    )
    first = await results_repo.insert_result(pool, base)
    # the same message again (say, its failure recorded after it was stored): still one row
    again = await results_repo.insert_result(pool, replace(base, error_kind="internal"))
    assert again.id == first.id and again.error_kind is None
    assert await pool.fetchval("SELECT count(*) FROM test_results") == 1
    await repo.mark_interrupted(pool, team_id=TEAM, run_id=run.id, attempt=1)
    resumed = await repo.claim_resume(pool, team_id=TEAM, run_id=run.id)
    assert resumed is not None and resumed.attempt == 2
    with pytest.raises(RunTakenOver):  # the previous attempt writes nothing more
        await results_repo.insert_result(pool, replace(base, position=1))
    with pytest.raises(RunTakenOver):
        await repo.heartbeat(pool, team_id=TEAM, run_id=run.id, attempt=1)
    with pytest.raises(RunTakenOver):
        await repo.finish_run(pool, team_id=TEAM, run_id=run.id, totals={}, attempt=1)
    await results_repo.insert_result(pool, replace(base, position=1, run_attempt=2))
    await repo.finish_run(pool, team_id=TEAM, run_id=run.id, totals={}, attempt=2)
    assert (await repo.get_run(pool, team_id=TEAM, run_id=run.id)).status == "completed"


async def test_a_late_run_the_sweeper_marked_comes_back_when_it_beats(pool: asyncpg.Pool) -> None:
    version = await create_profile(
        pool, team_id=TEAM, name="Support", fields=DEFAULT_FIELDS, user_id="U1"
    )
    run = await repo.create_run(
        pool,
        team_id=TEAM,
        profile_version_id=version.id,
        user_id="U1",
        concurrency=1,
        plan=[],
        channel_id=None,
    )
    await pool.execute("UPDATE scenario_runs SET heartbeat_at = now() - interval '5 minutes'")
    assert await repo.mark_stale_runs_interrupted(pool) == 1
    await repo.heartbeat(pool, team_id=TEAM, run_id=run.id, attempt=1)  # only slow, not dead
    assert (await repo.get_run(pool, team_id=TEAM, run_id=run.id)).status == "running"
    assert await repo.claim_resume(pool, team_id=TEAM, run_id=run.id) is None  # still running


async def test_a_summary_slack_refuses_to_edit_in_is_posted_as_a_new_message(
    live: SlackDriver,
) -> None:
    await live.reply_text("new Support")
    # every edit of the parent is refused: the progress and the summary
    live.slack.fail_next("chat.update", error="cant_update_message", times=10)
    await live.command("scenario run Billing questions")
    [run] = await run_done(live.pool)
    assert run["status"] == "completed"
    await live.slack.wait_for(lambda _: bool(summaries(live)))
    [shown] = summaries(live)
    assert shown["channel"] == run["channel_id"] and "thread_ts" not in shown
    text = json.dumps(shown["blocks"], ensure_ascii=False)
    assert "*Billing questions*" in text and "3 messages" in text
    await asyncio.sleep(0.2)
    assert live.slack.responses[live.replies_read :] == []  # nobody is told it failed: it did not
    assert "is complete; nothing to resume" in await live.reply_text(f"scenario rerun {run['id']}")


@pytest.fixture
async def blank_db(pg_admin_dsn: str) -> AsyncIterator[str]:
    name = f"romashka_m_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(pg_admin_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_migration_0011_removes_duplicates_keeping_the_best_and_its_ratings(
    blank_db: str,
) -> None:
    every = load_migrations()
    con = await asyncpg.connect(blank_db)
    try:
        await migrate(con, [m for m in every if m.version < 11])
    finally:
        await con.close()
    pool = await create_pool(blank_db, min_size=1, max_size=2)
    try:
        version = await create_profile(
            pool, team_id=TEAM, name="Support", fields=DEFAULT_FIELDS, user_id="U1"
        )
        run_id = await pool.fetchval(
            """
            INSERT INTO scenario_runs (team_id, profile_version_id, started_by, concurrency, plan)
            VALUES ($1, $2, 'U1', 1, '[]'::jsonb) RETURNING id
            """,
            TEAM,
            version.id,
        )

        async def result(position: int, *, error: str | None, analysed: bool) -> int:
            rid: int = await pool.fetchval(
                """
                INSERT INTO test_results (team_id, profile_version_id, kind, user_id, question,
                                          answer, run_id, scenario_id, position, error_kind,
                                          analysis)
                VALUES ($1, $2, 'scenario', 'U1', 'q', 'a', $3, 7, $4, $5, $6)
                RETURNING id
                """,
                TEAM,
                version.id,
                run_id,
                position,
                error,
                {"alignment": 80} if analysed else None,
            )
            return rid

        # message 0 answered three times by two writers: failed, answered, answered and analysed
        failed = await result(0, error="server", analysed=False)
        plain = await result(0, error=None, analysed=False)
        best = await result(0, error=None, analysed=True)
        only = await result(1, error=None, analysed=False)
        for rid, user, rating in ((failed, "UA", 1), (plain, "UB", -1), (best, "UB", 1)):
            await pool.execute(
                "INSERT INTO result_feedback (team_id, result_id, user_id, rating) "
                "VALUES ($1, $2, $3, $4)",
                TEAM,
                rid,
                user,
                rating,
            )
        async with pool.acquire() as c:
            assert (await migrate(c, every))[0] == "0011_run_results_once.sql"
        kept = await pool.fetch("SELECT id FROM test_results ORDER BY id")
        assert [r["id"] for r in kept] == [best, only]
        ratings = await pool.fetch(
            "SELECT result_id, user_id, rating FROM result_feedback ORDER BY user_id"
        )
        # UA's rating moved to the kept answer; UB had rated it already, so theirs stays
        assert [tuple(r) for r in ratings] == [(best, "UA", 1), (best, "UB", 1)]
        with pytest.raises(asyncpg.UniqueViolationError):
            await result(1, error=None, analysed=False)
        assert await pool.fetchval("SELECT attempt FROM scenario_runs") == 1
    finally:
        await pool.close()
