"""A scenario run whose process died: shown as interrupted, resumed by command or button,
answering only what is missing, on the same run."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from bot import ids
from bot.scenarios.engine import plan_for, plan_from_json, plan_json
from storage import scenarios as repo
from tests.fake_openai import FakeOpenAI
from tests.slack_driver import TEAM, SlackDriver
from tests.test_scenarios import summary_of


async def crashed_run(live: SlackDriver) -> int:
    """A run of Billing questions that answered one message, then its process died."""
    await live.reply_text("new Support")
    await live.command("scenario run Billing questions")
    deadline = time.monotonic() + 20
    while await live.pool.fetchval("SELECT status FROM scenario_runs") != "completed":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    # the jobs leave the queue a moment after the run completes (PgQueuer logs them in batches)
    while await live.pool.fetchval("SELECT count(*) FROM pgqueuer"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    run_id: int = await live.pool.fetchval("SELECT id FROM scenario_runs")
    # roll it back to the state a crash after the first answer leaves behind
    await live.pool.execute("DELETE FROM test_results WHERE run_id = $1 AND position > 0", run_id)
    await live.pool.execute(
        """
        UPDATE scenario_runs SET status = 'running', finished_at = NULL, totals = NULL,
               heartbeat_at = now() - interval '5 minutes'
        WHERE id = $1
        """,
        run_id,
    )
    return run_id


async def done(pool: asyncpg.Pool, run_id: int) -> None:
    deadline = time.monotonic() + 20
    while await pool.fetchval("SELECT status FROM scenario_runs WHERE id = $1", run_id) != (
        "completed"
    ):
        assert time.monotonic() < deadline, "the resumed run did not complete"
        await asyncio.sleep(0.05)


async def test_rerun_answers_only_what_is_missing(live: SlackDriver, model: FakeOpenAI) -> None:
    run_id = await crashed_run(live)
    answers_before = len([r for r in model.requests if not r.get("response_format")])
    reply = await live.reply_text(f"scenario rerun {run_id}")
    assert f"Resumed scenario run #{run_id}: answering the 2 missing messages" in reply
    await done(live.pool, run_id)
    rows = await live.pool.fetch(
        "SELECT position FROM test_results WHERE run_id = $1 ORDER BY position", run_id
    )
    assert [r["position"] for r in rows] == [0, 1, 2]
    answers = [r for r in model.requests if not r.get("response_format")]
    assert len(answers) - answers_before == 2
    parent_ts = await live.pool.fetchval(
        "SELECT parent_ts FROM scenario_runs WHERE id = $1", run_id
    )
    final = await summary_of(live, parent_ts)
    assert "*Billing questions*" in final and "3 messages" in final


async def test_resume_button_and_its_races(live: SlackDriver) -> None:
    run_id = await crashed_run(live)
    await asyncio.gather(
        live.click(ids.SCENARIO_RERUN, str(run_id)), live.click(ids.SCENARIO_RERUN, str(run_id))
    )
    await done(live.pool, run_id)
    # the winner replies once its answers and summary are posted, after the run completes
    await live.slack.wait_for(
        lambda s: any("Resumed" in str(c.args.get("text")) for c in s.responses)
    )
    texts = [str(c.args.get("text")) for c in live.slack.responses]
    assert sum("Resumed" in t for t in texts) == 1
    assert sum("still running" in t for t in texts) == 1
    assert (
        await live.pool.fetchval("SELECT count(*) FROM test_results WHERE run_id = $1", run_id) == 3
    )
    live.replies_read = len(live.slack.responses)
    assert "is complete; nothing to resume" in await live.reply_text(f"scenario rerun {run_id}")


async def test_rerun_bad_input(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    assert "no scenario run #99" in await live.reply_text("scenario rerun 99")
    assert "Usage: `/bot scenario rerun" in await live.reply_text("scenario rerun x")


async def test_progress_message_carries_a_resume_button(live: SlackDriver) -> None:
    await live.reply_text("new Support")
    await live.command("scenario run Product inquiry")
    parent = (await live.slack.wait_calls("chat.postMessage"))[0].args
    assert parent["blocks"][-1]["elements"][0]["action_id"] == ids.SCENARIO_RERUN


async def test_plan_survives_scenario_edits(pool: asyncpg.Pool) -> None:
    await repo.ensure_seeded(pool, team_id=TEAM)
    scenarios = await repo.list_scenarios(pool, team_id=TEAM)
    assert plan_from_json(plan_json(scenarios)) == plan_for(scenarios)
