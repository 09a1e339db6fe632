"""Run and Resume buttons state the model calls and ask to confirm above the workspace's limit,
as the slash commands do; nothing starts until Confirm is clicked."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bot import ids
from bot.model.llm import LLM
from bot.startup.settings import Settings
from storage import scenarios as repo
from tests.block_kit_rules import message_problems
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import TEAM, SlackDriver


@pytest.fixture
def strict(settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM) -> SlackDriver:
    """No worker (runs stay queued) and a limit of 10 model calls."""
    tight = settings.model_copy(update={"confirm_model_calls": 10})
    return SlackDriver.build(settings=tight, pool=pool, slack=slack, llm=llm)


async def started(driver: SlackDriver) -> None:
    """Until the run's parent message is posted and its jobs queued."""
    await driver.slack.wait_for(
        lambda s: any(
            "Scenario run #1" in str(c.args.get("text")) for c in s.of("chat.postMessage")
        )
    )
    deadline = asyncio.get_running_loop().time() + 5
    while not await driver.pool.fetchval("SELECT count(*) FROM pgqueuer"):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)


async def test_run_all_button_asks_first_and_confirm_starts_it(
    strict: SlackDriver, model: FakeOpenAI
) -> None:
    await strict.reply_text("new Support")
    await strict.click(ids.SCENARIO_RUN_ALL, "all")
    reply = await strict.next_reply()
    # 9 messages, each an answer, a trait judge and a behaviour judge
    assert "This run makes 27 model calls, above this workspace's limit of 10" in reply["text"]
    assert message_problems(reply) == []
    [button] = reply["blocks"][-1]["elements"]
    assert (button["action_id"], button["value"]) == (ids.SCENARIO_RUN_CONFIRMED, "all")
    assert await strict.pool.fetchval("SELECT count(*) FROM scenario_runs") == 0
    assert model.requests == []
    await strict.click(button["action_id"], button["value"])
    await started(strict)
    runs = await strict.pool.fetch("SELECT plan FROM scenario_runs")
    assert len(runs) == 1 and len(runs[0]["plan"]) == 3


async def test_a_run_within_the_limit_starts_at_once(strict: SlackDriver) -> None:
    await strict.reply_text("new Support")
    # one scenario of 3 messages with behaviours: 9 calls, within 10
    scenario = await repo.find_scenario(strict.pool, team_id=TEAM, name="Product inquiry")
    await strict.click(ids.SCENARIO_RUN, str(scenario.id))
    await strict.slack.wait_for(
        lambda s: any(
            "Scenario run #1" in str(c.args.get("text")) for c in s.of("chat.postMessage")
        )
    )
    assert await strict.pool.fetchval("SELECT count(*) FROM scenario_runs") == 1
    assert "Confirm" not in str([r.args for r in strict.slack.responses])


async def test_resume_button_asks_first(strict: SlackDriver) -> None:
    await strict.reply_text("new Support")
    await strict.click(ids.SCENARIO_RUN_CONFIRMED, "all")
    await started(strict)
    run_id: int = await strict.pool.fetchval("SELECT id FROM scenario_runs")
    await strict.click(ids.SCENARIO_RERUN, str(run_id))
    reply = await strict.next_reply()
    assert "This run makes 27 model calls" in reply["text"]
    [button] = reply["blocks"][-1]["elements"]
    assert (button["action_id"], button["value"]) == (ids.SCENARIO_RERUN_CONFIRMED, str(run_id))
    # confirmed: the resume itself answers (the run is still queued, so it says so)
    await strict.click(button["action_id"], button["value"])
    assert f"Scenario run #{run_id} is still running" in (await strict.next_reply())["text"]


async def test_rerun_command_asks_for_confirm(strict: SlackDriver) -> None:
    await strict.reply_text("new Support")
    await strict.click(ids.SCENARIO_RUN_CONFIRMED, "all")
    await started(strict)
    run_id: int = await strict.pool.fetchval("SELECT id FROM scenario_runs")
    text = await strict.reply_text(f"scenario rerun {run_id}")
    assert "This run makes 27 model calls" in text and "Add `confirm` at the end" in text
    text = await strict.reply_text(f"scenario rerun {run_id} confirm")
    assert f"Scenario run #{run_id} is still running" in text
    assert "Usage: `/bot scenario rerun" in await strict.reply_text("scenario rerun x confirm")
