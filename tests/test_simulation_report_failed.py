"""A simulation run whose report fails on every try (issue #16): the job finishing its last
conversation is held as failed by PgQueuer, and the run's parent says the summary could not be
written and why, with Write summary, which writes it once however often it is pressed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from bot import ids
from bot.blocks import simulation as simulation_blocks
from bot.jobs import gave_up, worker
from bot.jobs import simulation as simulation_job
from bot.jobs.worker import Worker, options_from
from bot.simulation import report_retry
from bot.startup.settings import Settings
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import SlackDriver
from tests.test_jobs import until
from tests.test_simulation import CHARGED_TWICE, REFUND_SCRIPT, scripted_customer, summary_blocks


def parent_edits(driver: SlackDriver, parent_ts: str) -> list[dict[str, Any]]:
    return [
        c.args
        for c in driver.slack.of("chat.update")
        if c.args.get("ts") == parent_ts and c.response.get("ok")
    ]


def summaries(driver: SlackDriver, parent_ts: str) -> list[dict[str, Any]]:
    return [
        e
        for e in parent_edits(driver, parent_ts)
        if any(b.get("type") == "header" for b in e.get("blocks") or [])
    ]


async def test_a_simulation_report_failing_on_every_try_shows_why_and_is_written_once(
    settings: Settings,
    pool: asyncpg.Pool,
    slack: FakeSlack,
    llm: Any,
    model: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker, "RETRY_FIRST_DELAY_S", 0.05)
    monkeypatch.setattr(worker, "RETRY_MAX_DELAY_S", 0.05)
    broken = True
    real_summary = simulation_blocks.summary

    def summary_or_fail(*args: Any, **kwargs: Any) -> Any:
        if broken:
            raise RuntimeError("a bug, quoting a customer: my card 4111 1111 1111 1111")
        return real_summary(*args, **kwargs)

    monkeypatch.setattr(simulation_job, "summary", summary_or_fail)
    model.json_hook = scripted_customer(REFUND_SCRIPT)
    quick = settings.model_copy(update={"job_heartbeat_timeout_s": 2.0})
    driver = SlackDriver.build(settings=quick, pool=pool, slack=slack, llm=llm)
    await driver.reply_text("new Support")
    async with Worker(driver.deps, options=options_from(driver.deps)):
        await driver.command(f"scenario run {CHARGED_TWICE}")

        async def held() -> bool:
            # PgQueuer records job statuses in batches, a moment after the job ends
            n = await pool.fetchval("SELECT count(*) FROM pgqueuer WHERE status = 'failed'")
            return bool(n == 1)

        await until(held, timeout=60, what="the report's last try to fail")
        run = await pool.fetchrow("SELECT * FROM simulation_runs")
        assert run["reported_at"] is None

        async def shown() -> bool:
            edits = parent_edits(driver, run["parent_ts"])
            return bool(edits) and "could not be written" in json.dumps(edits[-1])

        await until(shown, what="the parent to say the summary could not be written")
        parent = parent_edits(driver, run["parent_ts"])[-1]
        text = json.dumps(parent["blocks"])
        reason = gave_up.failure_reason(RuntimeError())
        assert f"the summary could not be written: {reason}" in text
        assert "4111" not in text and "customer" not in text
        assert parent["blocks"][-1]["elements"][0]["action_id"] == ids.SIMULATION_WRITE_SUMMARY
        assert summaries(driver, run["parent_ts"]) == []
        # fixed: Write summary, pressed twice at once, writes it once
        broken = False
        await asyncio.gather(
            driver.click(ids.SIMULATION_WRITE_SUMMARY, str(run["id"])),
            driver.click(ids.SIMULATION_WRITE_SUMMARY, str(run["id"])),
        )
        await summary_blocks(driver, run["parent_ts"])

        async def charted() -> bool:
            return bool(slack.files_posted())

        await until(charted, what="the drift chart")
    assert len(summaries(driver, run["parent_ts"])) == 1
    assert len(slack.files_posted()) == 1
    assert await pool.fetchval("SELECT count(*) FROM simulation_conversations") == 1
    # pressed again once written: it says so, and writes nothing
    assert "no summary to write" in await report_retry.write_summary(
        driver.deps, team_id=run["team_id"], run_id=run["id"]
    )
