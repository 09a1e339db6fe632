"""chat.startStream / stopStream are Tier 2 (about 20 a minute per workspace): past the app's
budget an answer is posted and edited instead of streamed, and every answer still arrives."""

from __future__ import annotations

import asyncio

import asyncpg

from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.slack.stream_budget import STREAMS_PER_MINUTE, StreamBudget
from bot.startup.settings import Settings
from tests.fake_slack import FakeSlack
from tests.slack_driver import SlackDriver
from tests.test_bot_test import settled


async def test_budget_is_per_workspace_and_refills() -> None:
    now = [0.0]
    budget = StreamBudget(per_minute=STREAMS_PER_MINUTE, clock=lambda: now[0])
    assert all([await budget.spend("T1") for _ in range(STREAMS_PER_MINUTE)])
    assert not await budget.spend("T1")
    assert await budget.spend("T2")  # another workspace has its own
    now[0] += 60 / STREAMS_PER_MINUTE  # one more a minute / 20 later
    assert await budget.spend("T1") and not await budget.spend("T1")


async def test_two_processes_share_one_budget_in_the_database(pool: asyncpg.Pool) -> None:
    """Two budgets on one database (two processes): together they allow the budget, not 2x."""
    now = [1_800_000_000.0]
    first = StreamBudget(pool=pool, per_minute=STREAMS_PER_MINUTE, clock=lambda: now[0])
    second = StreamBudget(pool=pool, per_minute=STREAMS_PER_MINUTE, clock=lambda: now[0])
    spent = [await (first if i % 2 else second).spend("T1") for i in range(2 * STREAMS_PER_MINUTE)]
    assert spent.count(True) == STREAMS_PER_MINUTE
    assert spent[:STREAMS_PER_MINUTE] == [True] * STREAMS_PER_MINUTE
    assert await first.spend("T2") and await second.spend("T2")  # per workspace
    now[0] += 60 / STREAMS_PER_MINUTE
    assert await second.spend("T1")
    assert not await first.spend("T1") and not await second.spend("T1")
    now[0] += 60  # a quiet minute fills the bucket again, no more
    allowed = [await first.spend("T1") for _ in range(STREAMS_PER_MINUTE + 1)]
    assert allowed == [True] * STREAMS_PER_MINUTE + [False]


async def test_concurrent_spends_never_exceed_the_budget(pool: asyncpg.Pool) -> None:
    """Many spends at once from two budgets (the database's clock): exactly the budget wins."""
    budgets = [StreamBudget(pool=pool), StreamBudget(pool=pool)]
    spent = await asyncio.gather(*(budgets[i % 2].spend("T9") for i in range(60)))
    # a spend lands every 3 s at the most; the test takes far less than that
    assert sum(spent) == STREAMS_PER_MINUTE


async def test_answers_past_the_budget_are_posted_and_updated(
    settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM
) -> None:
    now = [0.0]
    live = SlackDriver.build(
        settings=settings,
        pool=pool,
        slack=slack,
        llm=llm,
        streams=StreamBudget(per_minute=1, clock=lambda: now[0]),
    )
    # the answers are written by the worker (as in every app process), through the queue
    async with Worker(live.deps, options=options_from(live.deps)):
        await live.reply_text("new Support")
        await live.command("test first question")
        [first] = await settled(pool)
        await live.command("test second question")
        _, second = await settled(pool, 2)
        [stream] = slack.of("chat.startStream")  # only the first answer streamed
        assert stream.response["ts"] == first.message_ts
        assert len(slack.of("chat.stopStream")) == 1
        posted = next(
            c for c in slack.of("chat.postMessage") if c.response.get("ts") == second.message_ts
        )
        assert posted.args["username"] == "ROMASHKA Assistant"
        shown = [c for c in slack.of("chat.update") if c.args["ts"] == second.message_ts]
        assert (shown[-1].args["text"] if shown else posted.args["text"]) == second.answer
        # a minute later the workspace streams again
        now[0] += 60
        await live.command("test third question")
        *_, third = await settled(pool, 3)
        assert len(slack.of("chat.startStream")) == 2
        assert slack.of("chat.startStream")[-1].response["ts"] == third.message_ts
