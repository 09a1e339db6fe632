"""The Stop button on a run's progress: the run's queued jobs are deleted, a job being answered
finishes but edits nothing, the parent says who stopped it after how many messages, and the run
is never resumed or summarised."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bot import ids
from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.startup.settings import Settings
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import USER, SlackDriver
from tests.test_jobs import queued_run, until
from tests.test_run_takeover import summaries, thread_posts
from tests.test_scenarios import run_done


@pytest.fixture
def idle(settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM) -> SlackDriver:
    """The app with a model but no worker: runs stay queued until a test starts one."""
    return SlackDriver.build(settings=settings, pool=pool, slack=slack, llm=llm)


async def replied(live: SlackDriver, text: str) -> None:
    await live.slack.wait_for(lambda s: any(text in str(c.args.get("text")) for c in s.responses))


def parent_edits(live: SlackDriver, parent_ts: str) -> list[str]:
    return [
        str(c.args.get("text"))
        for c in live.slack.of("chat.update")
        if c.args.get("ts") == parent_ts and c.response.get("ok")
    ]


async def test_stop_before_any_answer_deletes_every_queued_job(idle: SlackDriver) -> None:
    run_id = await queued_run(idle)
    await idle.click(ids.SCENARIO_STOP, str(run_id))
    await replied(idle, f"Stopped scenario run #{run_id} after 0 of 9 messages.")
    assert await idle.pool.fetchval("SELECT count(*) FROM pgqueuer") == 0
    run = await idle.pool.fetchrow("SELECT * FROM scenario_runs WHERE id = $1", run_id)
    assert run["status"] == "interrupted"
    assert f"stopped by <@{USER}> after 0 of 9 messages" in parent_edits(idle, run["parent_ts"])[-1]
    # a worker started afterwards finds nothing to answer
    async with Worker(idle.deps, options=options_from(idle.deps)):
        await asyncio.sleep(0.5)
    assert await idle.pool.fetchval("SELECT count(*) FROM test_results") == 0
    assert summaries(idle) == []
    # stopping twice, or resuming, does nothing
    await idle.click(ids.SCENARIO_STOP, str(run_id))
    await replied(idle, f"Scenario run #{run_id} is not running; nothing to stop.")
    await idle.click(ids.SCENARIO_RERUN, str(run_id))
    await replied(idle, f"Scenario run #{run_id} was stopped; start a new run")
    assert await idle.pool.fetchval("SELECT count(*) FROM pgqueuer") == 0


async def test_stop_half_way_through_a_nine_message_run(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    model.ttft_s = 1.0  # 9 messages, a few at once: the Stop comes mid-run
    await live.reply_text("new Support")
    await live.command("scenario run all")

    async def some_done() -> bool:
        n = await live.pool.fetchval("SELECT count(*) FROM test_results WHERE done_at IS NOT NULL")
        return bool(n >= 1)

    await until(some_done, what="the first answers")
    run_id: int = await live.pool.fetchval("SELECT id FROM scenario_runs")
    await live.click(ids.SCENARIO_STOP, str(run_id))
    await replied(live, f"Stopped scenario run #{run_id} after ")
    [run] = await run_done(live.pool)
    assert run["status"] == "interrupted"

    async def settled() -> bool:
        # the jobs being answered when Stop came finish; nothing new is picked
        return not await live.pool.fetchval(
            "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'scenario_message'"
        )

    await until(settled, what="the jobs in flight")
    await asyncio.sleep(0.5)
    stored = await live.pool.fetchval("SELECT count(*) FROM test_results")
    assert 1 <= stored < 9
    edits = parent_edits(live, run["parent_ts"])
    stopped = [t for t in edits if "stopped by" in t]
    # one stop edit, and it is the parent's last: no progress edit lands after it
    assert len(stopped) == 1 and edits[-1] == stopped[0]
    assert f"stopped by <@{USER}> after " in stopped[0] and " of 9 messages." in stopped[0]
    assert summaries(live) == []
    # no answer is posted twice in the thread
    posts = [str(p["blocks"]) for p in thread_posts(live, run["parent_ts"])]
    assert len(posts) == len(set(posts)) <= stored
