"""The frozen-worker fence on an A/B pair's thread post (issue #16), the same fence as a
scenario result's (tests/test_post_fence.py): worker A freezes between its claim and the send,
worker B (a real Worker on the queue) takes the lapsed claim over, looks in the thread and
posts; A wakes and posts nothing."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bot.jobs import ab_pair
from bot.jobs.slack_clients import SlackClients
from bot.jobs.worker import Worker, options_from
from storage import results as results_repo
from tests.slack_driver import SlackDriver
from tests.test_ab import pairs
from tests.test_ab_jobs import _written, idle, quick  # noqa: F401  (fixtures)
from tests.test_jobs import until
from tests.test_post_fence import Freeze


async def test_a_worker_frozen_between_claim_and_send_does_not_post_a_pair_twice(
    idle: SlackDriver,  # noqa: F811
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    test, [post] = await _written(idle, pool, 1)
    # the pair jobs ran here; only the post job stays queued, for worker B
    await pool.execute("DELETE FROM pgqueuer WHERE entrypoint = 'ab_pair'")
    # A freezes after its claim, while it reads the pair's answers (before the send)
    freeze = Freeze(results_repo.results_by_ids, after=False)
    monkeypatch.setattr(results_repo, "results_by_ids", freeze)
    clients = SlackClients(idle.deps.settings, pool)
    a = asyncio.create_task(ab_pair.handle_post(idle.deps, clients, post))
    await asyncio.wait_for(freeze.frozen.wait(), timeout=10)
    async with Worker(idle.deps, options=options_from(idle.deps)):

        async def b_posted() -> bool:
            return bool(await pool.fetchval("SELECT message_ts IS NOT NULL FROM ab_messages"))

        await until(b_posted, timeout=20, what="worker B to post after the claim lapsed")
    freeze.release.set()
    await a  # its renewal found the claim taken over: it ends quietly
    assert len(pairs(idle, test["parent_ts"])) == 1
    assert idle.slack.of("conversations.replies")  # B looked first
    assert await pool.fetchval("SELECT failure FROM ab_messages") is None
