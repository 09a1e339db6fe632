"""Scenario runs as jobs on the queue: enqueued with the run's own writes, each message's job
safe to run twice, a killed worker's jobs answered by another process (0 lost, 0 duplicated),
a message whose scenario was deleted meanwhile failed clearly."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from openai import AsyncOpenAI

from bot.blocks.scenarios import progress_text
from bot.jobs import scenario_message
from bot.jobs.budget import ModelBudget
from bot.jobs.enqueue import enqueue_scenario_messages
from bot.jobs.payloads import ScenarioMessageJob
from bot.jobs.slack_clients import SlackClients
from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.startup.settings import Settings
from storage import model_budget as model_budget_repo
from storage import scenarios as scenarios_repo
from storage.jobs import RunProgress
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import SIGNING_SECRET, TEAM, SlackDriver
from tests.test_cli import CLEAN_ENV
from tests.test_run_takeover import summaries, thread_posts
from tests.test_scenarios import posted, run_done, summary_of


async def until(check: Any, *, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def queued_run(driver: SlackDriver, which: str = "all") -> int:
    """A run started from Slack whose jobs wait in the queue (no worker runs yet)."""
    await driver.reply_text("new Support")
    await driver.command(f"scenario run {which}")

    async def queued() -> bool:
        return bool(await driver.pool.fetchval("SELECT count(*) FROM pgqueuer"))

    await until(queued, what="the run's jobs")
    run_id: int = await driver.pool.fetchval("SELECT id FROM scenario_runs")
    return run_id


@pytest.fixture
def quick(settings: Settings) -> Settings:
    # a killed worker's jobs are picked again after 2 s instead of 30
    return settings.model_copy(update={"job_heartbeat_timeout_s": 2.0})


@pytest.fixture
def idle(quick: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM) -> SlackDriver:
    """The app with a model but no worker: runs stay queued until a test starts one."""
    return SlackDriver.build(settings=quick, pool=pool, slack=slack, llm=llm)


async def test_enqueue_is_part_of_the_callers_transaction(pool: asyncpg.Pool) -> None:
    job = ScenarioMessageJob(team_id=TEAM, run_id=1, attempt=1, scenario_id=1, position=0)
    async with pool.acquire() as con:
        tx = con.transaction()
        await tx.start()
        assert await enqueue_scenario_messages(con, [job]) == 1
        await tx.rollback()
    assert await pool.fetchval("SELECT count(*) FROM pgqueuer") == 0
    async with pool.acquire() as con, con.transaction():
        # the same message twice in one call, then again: queued once
        assert await enqueue_scenario_messages(con, [job]) == 1
        assert await enqueue_scenario_messages(con, [job]) == 0
    assert await pool.fetchval("SELECT count(*) FROM pgqueuer") == 1


async def test_a_message_job_run_twice_answers_and_posts_once(
    idle: SlackDriver, model: FakeOpenAI
) -> None:
    run_id = await queued_run(idle, "Billing questions")
    payload = await idle.pool.fetchval("SELECT payload FROM pgqueuer ORDER BY id LIMIT 1")
    clients = SlackClients(idle.deps.settings, idle.pool)
    await scenario_message.handle(idle.deps, clients, payload)
    answers = len([r for r in model.requests if not r.get("response_format")])
    # a retry (its worker died after storing the result, say) finds the result stored
    await scenario_message.handle(idle.deps, clients, payload)
    assert len([r for r in model.requests if not r.get("response_format")]) == answers == 1
    assert await idle.pool.fetchval("SELECT count(*) FROM test_results") == 1
    # its thread post is a job of its own, queued once; run twice, it posts once
    [post] = await idle.pool.fetch(
        "SELECT payload FROM pgqueuer WHERE entrypoint = 'scenario_thread_post'"
    )
    await scenario_message.handle_post(idle.deps, clients, post["payload"])
    await scenario_message.handle_post(idle.deps, clients, post["payload"])
    parent_ts = await idle.pool.fetchval(
        "SELECT parent_ts FROM scenario_runs WHERE id = $1", run_id
    )
    assert len(thread_posts(idle, parent_ts)) == 1


async def test_a_message_whose_scenario_was_deleted_fails_clearly(
    idle: SlackDriver, model: FakeOpenAI
) -> None:
    run_id = await queued_run(idle)
    scenario = await scenarios_repo.find_scenario(idle.pool, team_id=TEAM, name="Billing questions")
    await scenarios_repo.delete_scenario(idle.pool, team_id=TEAM, scenario_id=scenario.id)
    async with Worker(idle.deps, options=options_from(idle.deps)):
        [run] = await run_done(idle.pool)
        summary = await summary_of(idle, run["parent_ts"])
    assert run["status"] == "completed"
    rows = await idle.pool.fetch(
        "SELECT scenario_id, error FROM test_results WHERE run_id = $1", run_id
    )
    assert len(rows) == 9
    failed = [r for r in rows if r["error"] == scenario_message.SCENARIO_DELETED]
    assert {r["scenario_id"] for r in failed} == {scenario.id} and len(failed) == 3
    assert "9 messages (3 failed)" in summary


def worker_env(slack: FakeSlack, db_dsn: str, model: FakeOpenAI) -> dict[str, str]:
    return {
        **CLEAN_ENV,
        "SLACK_BOT_TOKEN": "xoxb-worker-SECRET",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": db_dsn,
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_API_KEY": "sk-worker-SECRET",
        "JOB_HEARTBEAT_TIMEOUT_S": "2",
    }


async def start_worker(
    slack: FakeSlack, db_dsn: str, model: FakeOpenAI, cwd: Path
) -> asyncio.subprocess.Process:
    """`romashka worker` as its own process, against the fakes and the test's database."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "worker",
        env=worker_env(slack, db_dsn, model),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
    idle: SlackDriver, model: FakeOpenAI, slack: FakeSlack, db_dsn: str, tmp_path: Path
) -> None:
    """`romashka worker` in a subprocess, killed with SIGKILL while answering; the jobs it
    held are picked again once their heartbeat is 2 s late, by a worker in this process."""
    model.ttft_s = 0.5
    run_id = await queued_run(idle)
    proc = await start_worker(slack, db_dsn, model, tmp_path)
    try:

        async def some_done() -> bool:
            n = await idle.pool.fetchval(
                "SELECT count(*) FROM test_results WHERE done_at IS NOT NULL"
            )
            return bool(n >= 2)

        await until(some_done, timeout=30, what="the subprocess worker's first answers")
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    held = await idle.pool.fetchval("SELECT count(*) FROM pgqueuer WHERE status = 'picked'")
    done_before = await idle.pool.fetchval("SELECT count(*) FROM test_results")
    assert held > 0 and done_before < 9, "the kill did not come in the middle of the run"

    async with Worker(idle.deps, options=options_from(idle.deps)):
        [run] = await run_done(idle.pool, timeout=40)
        await posted(idle.pool)
    assert run["status"] == "completed"
    rows = await idle.pool.fetch(
        "SELECT scenario_id, position FROM test_results WHERE run_id = $1", run_id
    )
    keys = [(r["scenario_id"], r["position"]) for r in rows]
    assert len(keys) == len(set(keys)) == 9  # 0 lost, 0 duplicated
    posts = thread_posts(idle, run["parent_ts"])
    # each post's first block names its scenario and question
    questions = [json.dumps(p["blocks"][0]) for p in posts]
    # none is posted twice, and none is missing: a post claimed just before the kill is
    # looked for in the thread and sent by the job's retry
    assert len(questions) == len(set(questions)) == len(posts) == 9
    assert len(summaries(idle)) == 1


async def test_progress_shows_what_the_queue_holds(live: SlackDriver, model: FakeOpenAI) -> None:
    model.ttft_s = 0.4  # 9 messages, 4 at once: some run while others wait
    # the parent's progress edits (a workspace without streams; else the live plan shows it)
    live.slack.fail_next("chat.startStream", error="not_allowed_token_type")
    await live.reply_text("new Support")
    await live.command("scenario run all")
    [run] = await run_done(live.pool)
    edits = [
        str(c.args.get("text"))
        for c in live.slack.of("chat.update")
        if c.args.get("ts") == run["parent_ts"]
    ]
    pattern = r"\d/9 answered \(\d running, \d waiting\), about \d+ s left…"
    assert any(re.search(pattern, t) for t in edits), edits


@pytest.fixture
def no_retries(settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, model: FakeOpenAI) -> Any:
    """The app and a model client that does not retry a 429 itself: every one reaches us."""
    client = AsyncOpenAI(api_key="sk-test", base_url=model.base_url, max_retries=0, timeout=5.0)
    llm = LLM(client=client, default_model="fake-model", judge_model=None)
    return SlackDriver.build(settings=settings, pool=pool, slack=slack, llm=llm)


async def test_a_429_storm_backs_off_and_answers_each_message_once(
    no_retries: SlackDriver, model: FakeOpenAI
) -> None:
    """The endpoint takes 2 answers at once and answers 429 beyond (Retry-After 1 s) while
    SCENARIO_CONCURRENCY is 4: the shared budget halves, rate-limited messages go back to the
    queue instead of being stored as failed, and each is answered once."""
    live = no_retries
    model.answer_limit = 2
    model.ttft_s = 0.3
    await live.reply_text("new Support")
    seen: list[float] = []

    async def watch_budget() -> None:
        while True:
            limit = await live.pool.fetchval("SELECT current_limit FROM model_budgets")
            if limit is not None:
                seen.append(limit)
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch_budget())
    try:
        await live.command("scenario run all")
        async with Worker(live.deps, options=options_from(live.deps)):
            [run] = await run_done(live.pool, timeout=60)
            await posted(live.pool)
    finally:
        watcher.cancel()
    assert run["status"] == "completed"
    rows = await live.pool.fetch(
        "SELECT scenario_id, position, error_kind FROM test_results WHERE run_id = $1", run["id"]
    )
    keys = [(r["scenario_id"], r["position"]) for r in rows]
    assert len(keys) == len(set(keys)) == 9
    assert all(r["error_kind"] is None for r in rows), [r["error_kind"] for r in rows]
    assert model.rejected > 0
    assert min(seen) < 4  # backed off (and grew back while requests succeeded)
    answers = [r for r in model.requests if not r.get("response_format")]
    assert len(answers) == 9  # every message answered once (the 429s served no answer)
    posts = [json.dumps(p["blocks"][0]) for p in thread_posts(live, run["parent_ts"])]
    assert len(posts) == len(set(posts)) == 9


async def test_a_run_completed_without_its_summary_gets_it_from_a_retried_job(
    live: SlackDriver,
) -> None:
    """The job that finished the run stopped (the worker shut down) between storing the
    totals and editing the parent: its retry shows the summary."""
    await live.reply_text("new Support")
    await live.command("scenario run Billing questions")
    [run] = await run_done(live.pool)
    await summary_of(live, run["parent_ts"])
    await live.pool.execute("UPDATE scenario_runs SET reported_at = NULL")
    before = len(summaries(live))
    item = json.loads(json.dumps(run["plan"]))[0]
    job = ScenarioMessageJob(
        team_id=TEAM, run_id=run["id"], attempt=1, scenario_id=item["scenario_id"], position=0
    )
    clients = SlackClients(live.deps.settings, live.pool)
    await scenario_message.handle(live.deps, clients, job.dumps())
    await scenario_message.handle(live.deps, clients, job.dumps())
    assert len(summaries(live)) == before + 1  # shown again once, as an edit of the parent


def test_progress_estimate() -> None:
    def text(**queue: Any) -> str:
        return progress_text(run_id=1, label="Support v1", names=["A"], done=3, total=9, **queue)

    assert text().endswith("3/9 answered…")
    assert text(failed=1, running=2, waiting=4, left_s=12.4).endswith(
        "3/9 answered (1 failed, 2 running, 4 waiting), about 12 s left…"
    )
    assert text(left_s=125).endswith("3/9 answered, about 2 min left…")
    halfway = RunProgress(done=3, failed=0, running=2, waiting=4, total=9, elapsed_s=6.0)
    assert halfway.left_s == 12.0
    assert replace(halfway, done=0).left_s is None and replace(halfway, done=9).left_s is None


async def test_batch_work_yields_to_interactive_answers(pool: asyncpg.Pool) -> None:
    """Interactive leases never wait and count against the budget; batch leases wait for room."""

    async def acquire(*, interactive: bool) -> model_budget_repo.Grant:
        return await model_budget_repo.acquire(
            pool,
            endpoint="http://model",
            model="m",
            ceiling=2,
            lease_s=60.0,
            interactive=interactive,
        )

    first = await acquire(interactive=False)
    assert first.lease_id is not None
    talk = [await acquire(interactive=True) for _ in range(2)]
    assert all(g.lease_id is not None for g in talk)  # over the ceiling: never refused
    waiting = await acquire(interactive=False)
    assert waiting.lease_id is None
    for g in [first, *talk]:
        assert g.lease_id is not None
        await model_budget_repo.release(
            pool,
            lease_id=g.lease_id,
            endpoint="http://model",
            model="m",
            ceiling=2,
            rate_limited_for_s=None,
        )
    assert (await acquire(interactive=False)).lease_id is not None


async def test_a_live_holders_lease_is_renewed_and_a_dead_holders_lapses(
    pool: asyncpg.Pool,
) -> None:
    """A lease lasts one hold time (JOB_HEARTBEAT_TIMEOUT_S) past its last renewal: a request
    slower than that keeps its slot, and a SIGKILLed worker's slots come back as its jobs do."""

    async def batch() -> model_budget_repo.Grant:
        return await model_budget_repo.acquire(
            pool, endpoint="http://model", model="m", ceiling=1, lease_s=1.0, interactive=False
        )

    budget = ModelBudget(pool, endpoint="http://model", ceiling=1, hold_s=1.0)
    async with budget.lease("m"):
        await asyncio.sleep(2.5)  # past its hold time: renewed meanwhile
        assert (await batch()).lease_id is None
    dead = await batch()  # taken, then never renewed nor released
    assert dead.lease_id is not None and (await batch()).lease_id is None
    await asyncio.sleep(1.2)
    assert (await batch()).lease_id is not None
