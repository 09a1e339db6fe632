"""A/B pairs as jobs on the queue: queued with the test's own writes, each pair's job safe to
run twice, a killed worker's pairs written by another process (0 lost, 0 duplicated, no pair
posted twice), and every fault (429 storm, Slack refusing, the data deleted, a cancel) ending in
a state a person can see."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from openai import AsyncOpenAI
from pgqueuer import RetryRequested

from bot import ids
from bot.jobs import ab_pair
from bot.jobs.enqueue import enqueue_ab_pairs
from bot.jobs.payloads import AbPairJob
from bot.jobs.slack_clients import SlackClients
from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.startup.settings import Settings
from storage import ab_jobs as ab_jobs_repo
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import TEAM, SlackDriver
from tests.test_ab import last_parent, pairs
from tests.test_jobs import start_worker, until

QUESTIONS = [
    "Where is my order?",
    "Can I get a refund?",
    "Do you ship abroad?",
    "My card was charged twice.",
    "How do I reset my password?",
    "Is there a student discount?",
    "Can I change my address?",
    "What is your returns window?",
]

# a claim whose job died (or froze) an hour ago: lapsed under any lease the tests use
LAPSE = (
    "UPDATE ab_messages SET post_claimed_at = post_claimed_at - interval '1 hour'"
    " WHERE post_claimed_at IS NOT NULL"
)


def ab_command(n: int) -> str:
    return "ab Support@1 Support@2 " + " ".join(f'"{q}"' for q in QUESTIONS[:n])


@pytest.fixture
def quick(settings: Settings) -> Settings:
    # a killed worker's jobs are picked again after 2 s instead of 30
    return settings.model_copy(update={"job_heartbeat_timeout_s": 2.0})


@pytest.fixture
async def idle(quick: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM) -> SlackDriver:
    """The app with a model and two versions of a profile, but no worker: pairs stay queued."""
    driver = SlackDriver.build(settings=quick, pool=pool, slack=slack, llm=llm)
    await driver.reply_text("new Support")
    await driver.reply_text("set formality 95")
    return driver


async def queued_test(driver: SlackDriver, n: int) -> dict[str, Any]:
    """A test started from Slack whose pairs wait in the queue, its parent posted."""
    await driver.command(ab_command(n))

    async def ready() -> bool:
        return bool(await driver.pool.fetchval("SELECT parent_ts FROM ab_tests"))

    await until(ready, what="the test's parent message")
    return dict(await driver.pool.fetchrow("SELECT * FROM ab_tests"))


async def status_becomes(pool: asyncpg.Pool, status: str, *, timeout: float = 30) -> None:
    async def reached() -> bool:
        return bool(await pool.fetchval("SELECT status = $1 FROM ab_tests", status))

    await until(reached, timeout=timeout, what=f"the test to become {status}")


def answers(model: FakeOpenAI) -> list[dict[str, Any]]:
    """The answer requests the model received (judges ask for a JSON response format)."""
    return [r for r in model.requests if not r.get("response_format")]


def parent_shows(driver: SlackDriver, parent_ts: str) -> str:
    return json.dumps(last_parent(driver, parent_ts)["blocks"], ensure_ascii=False)


async def test_the_test_and_its_pair_jobs_are_stored_together(
    idle: SlackDriver, pool: asyncpg.Pool
) -> None:
    test = await queued_test(idle, 3)
    jobs = await pool.fetch("SELECT entrypoint, dedupe_key, status FROM pgqueuer ORDER BY id")
    messages = await pool.fetch("SELECT id FROM ab_messages ORDER BY position")
    assert [(j["entrypoint"], j["status"]) for j in jobs] == [("ab_pair", "queued")] * 3
    assert [j["dedupe_key"] for j in jobs] == [
        f"ab-pair:{TEAM}:{test['id']}:{m['id']}" for m in messages
    ]
    # the parent says what the queue holds
    [parent] = [c for c in idle.slack.of("chat.postMessage") if c.response.get("ok")]
    assert "Pairs posted *0/3* · 3 waiting" in json.dumps(parent.args["blocks"], ensure_ascii=False)
    # enqueueing is part of the caller's transaction, and a pair is queued once
    async with pool.acquire() as con:
        tx = con.transaction()
        await tx.start()
        extra = AbPairJob(team_id=TEAM, ab_id=test["id"], message_id=10**9)
        assert await enqueue_ab_pairs(con, [extra]) == 1
        await tx.rollback()
    async with pool.acquire() as con, con.transaction():
        again = AbPairJob(team_id=TEAM, ab_id=test["id"], message_id=messages[0]["id"])
        assert await enqueue_ab_pairs(con, [again]) == 0
    assert await pool.fetchval("SELECT count(*) FROM pgqueuer") == 3


async def test_a_pair_job_run_twice_answers_and_posts_once(
    idle: SlackDriver, model: FakeOpenAI, pool: asyncpg.Pool
) -> None:
    test = await queued_test(idle, 1)
    payload = await pool.fetchval("SELECT payload FROM pgqueuer")
    clients = SlackClients(idle.deps.settings, pool)
    await ab_pair.handle(idle.deps, clients, payload)
    judged = len(model.requests)
    # a retry (its worker died after writing the pair, say) finds it written
    await ab_pair.handle(idle.deps, clients, payload)
    assert len(answers(model)) == 2 and len(model.requests) == judged
    assert await pool.fetchval("SELECT count(*) FROM test_results") == 2
    [post] = await pool.fetch("SELECT payload FROM pgqueuer WHERE entrypoint = 'ab_pair_post'")
    await ab_pair.handle_post(idle.deps, clients, post["payload"])
    await ab_pair.handle_post(idle.deps, clients, post["payload"])
    assert len(pairs(idle, test["parent_ts"])) == 1
    assert await pool.fetchval("SELECT status FROM ab_tests") == "open"
    # the opening shows once, as the parent's last edit, with its Close voting button
    assert ids.AB_CLOSE in parent_shows(idle, test["parent_ts"])


async def _written(idle: SlackDriver, pool: asyncpg.Pool, n: int) -> tuple[Any, list[Any]]:
    """A test of n pairs, each written by its job; returns the test and its post jobs' payloads."""
    test = await queued_test(idle, n)
    clients = SlackClients(idle.deps.settings, pool)
    for payload in await pool.fetch("SELECT payload FROM pgqueuer ORDER BY id"):
        await ab_pair.handle(idle.deps, clients, payload["payload"])
    posts = await pool.fetch(
        "SELECT payload FROM pgqueuer WHERE entrypoint = 'ab_pair_post' ORDER BY id"
    )
    return test, [p["payload"] for p in posts]


async def test_a_post_claimed_by_a_job_killed_before_sending_is_sent_once(
    idle: SlackDriver, pool: asyncpg.Pool
) -> None:
    test, (first, second) = await _written(idle, pool, 2)
    clients = SlackClients(idle.deps.settings, pool)
    # the first post's job claimed it and was killed before chat.postMessage
    await pool.execute("UPDATE ab_messages SET post_claimed_at = now() WHERE position = 0")
    # run again while the claim may still be live: it comes back later, posting nothing
    with pytest.raises(RetryRequested):
        await ab_pair.handle_post(idle.deps, clients, first, lease_s=60)
    assert pairs(idle, test["parent_ts"]) == []
    # once the claim has lapsed: not in the thread, so it is posted, once
    await pool.execute(LAPSE)
    await ab_pair.handle_post(idle.deps, clients, first, lease_s=60)
    await ab_pair.handle_post(idle.deps, clients, first, lease_s=60)
    await ab_pair.handle_post(idle.deps, clients, second, lease_s=60)
    posted = pairs(idle, test["parent_ts"])
    assert len(posted) == 2
    marks = sorted(p.args["metadata"]["event_payload"]["message_id"] for p in posted)
    assert marks == [r["id"] for r in await pool.fetch("SELECT id FROM ab_messages ORDER BY id")]
    assert await pool.fetchval("SELECT count(*) FROM ab_messages WHERE failure IS NOT NULL") == 0
    assert await pool.fetchval("SELECT status FROM ab_tests") == "open"


async def test_a_post_sent_by_a_job_killed_before_recording_it_is_not_sent_again(
    idle: SlackDriver, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    test, (first, second) = await _written(idle, pool, 2)
    clients = SlackClients(idle.deps.settings, pool)

    class Killed(Exception):
        pass

    async def killed(*_: object, **__: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(ab_jobs_repo, "mark_done", killed)
        with pytest.raises(Killed):
            await ab_pair.handle_post(idle.deps, clients, first, lease_s=60)
    [sent] = pairs(idle, test["parent_ts"])
    await pool.execute(LAPSE)
    await ab_pair.handle_post(idle.deps, clients, first, lease_s=60)
    # found in the thread by its metadata: not posted again, its ts recorded
    assert pairs(idle, test["parent_ts"]) == [sent]
    assert idle.slack.of("conversations.replies")
    assert await pool.fetchval("SELECT message_ts FROM ab_messages WHERE position = 0") == str(
        sent.response["ts"]
    )
    await ab_pair.handle_post(idle.deps, clients, second, lease_s=60)
    assert len(pairs(idle, test["parent_ts"])) == 2
    assert await pool.fetchval("SELECT status FROM ab_tests") == "open"


async def test_a_lost_post_is_failed_visibly_when_the_thread_cannot_be_read(
    idle: SlackDriver, pool: asyncpg.Pool
) -> None:
    test, (first, second) = await _written(idle, pool, 2)
    clients = SlackClients(idle.deps.settings, pool)
    # claimed by a job that died an hour ago
    await pool.execute(
        "UPDATE ab_messages SET post_claimed_at = now() - interval '1 hour' WHERE position = 0"
    )
    idle.slack.fail_next("conversations.replies", error="missing_scope")
    await ab_pair.handle_post(idle.deps, clients, first, lease_s=60)
    await ab_pair.handle_post(idle.deps, clients, second, lease_s=60)
    failure = await pool.fetchval("SELECT failure FROM ab_messages WHERE position = 0")
    assert failure == ab_pair.POST_LOST
    assert len(pairs(idle, test["parent_ts"])) == 1
    assert await pool.fetchval("SELECT status FROM ab_tests") == "open"
    assert "1 could not be answered" in parent_shows(idle, test["parent_ts"])


async def test_cancel_deletes_the_queued_pairs(
    idle: SlackDriver, model: FakeOpenAI, pool: asyncpg.Pool
) -> None:
    test = await queued_test(idle, 4)
    reply = await idle.reply_text(f"ab cancel {test['id']}")
    assert f"Cancelled A/B test #{test['id']}" in reply
    assert await pool.fetchval("SELECT count(*) FROM pgqueuer") == 0
    async with Worker(idle.deps, options=options_from(idle.deps)):
        await asyncio.sleep(1.0)
    assert answers(model) == [] and pairs(idle) == []
    assert "Cancelled by <@U0001>" in parent_shows(idle, test["parent_ts"])


async def test_a_test_whose_data_was_deleted_drops_its_jobs(
    idle: SlackDriver, model: FakeOpenAI, pool: asyncpg.Pool
) -> None:
    """Versions go only with the workspace's data (an uninstall's purge), and their tests with
    them: the queued pairs find nothing to answer for, answer nothing and leave the queue."""
    await queued_test(idle, 2)
    await pool.execute("DELETE FROM profile_versions WHERE version = 2")
    assert await pool.fetchval("SELECT count(*) FROM ab_tests") == 0
    async with Worker(idle.deps, options=options_from(idle.deps)):

        async def drained() -> bool:
            n = await pool.fetchval("SELECT count(*) FROM pgqueuer WHERE status = 'queued'")
            return bool(n == 0)

        await until(drained, what="the queue to drain")
        await asyncio.sleep(0.3)
    assert answers(model) == [] and pairs(idle) == []


async def test_a_parent_never_posted_fails_the_test(
    idle: SlackDriver, model: FakeOpenAI, pool: asyncpg.Pool
) -> None:
    """The process stopped between storing the test and posting its parent: the pairs wait
    a while for it, then fail the test with the reason instead of answering forever."""
    await queued_test(idle, 1)
    await pool.execute(
        "UPDATE ab_tests SET parent_ts = NULL, started_at = now() - interval '5 minutes'"
    )
    payload = await pool.fetchval("SELECT payload FROM pgqueuer")
    await ab_pair.handle(idle.deps, SlackClients(idle.deps.settings, pool), payload)
    row = await pool.fetchrow("SELECT status, failure_reason FROM ab_tests")
    assert (row["status"], row["failure_reason"]) == ("failed", ab_pair.PARENT_NEVER_POSTED)
    assert answers(model) == []


async def test_slack_refusing_every_pair_fails_the_test_with_its_reason(
    idle: SlackDriver, pool: asyncpg.Pool
) -> None:
    test = await queued_test(idle, 2)
    # every pair and every note saying why it failed is refused
    idle.slack.fail_next("chat.postMessage", error="channel_not_found", times=4)
    async with Worker(idle.deps, options=options_from(idle.deps)):
        await status_becomes(pool, "failed")
        reason = await pool.fetchval("SELECT failure_reason FROM ab_tests")
        assert reason == (
            "no message could be answered and posted: message 1 could not be posted "
            "(Slack said `channel_not_found`)"
        )

        async def shown() -> bool:
            return "Nobody can vote on it" in parent_shows(idle, test["parent_ts"])

        await until(shown, what="the parent to show the failure")
    text = parent_shows(idle, test["parent_ts"])
    assert "could not be posted (Slack said `channel_not_found`)" in text
    assert ids.AB_CANCEL in text
    # each pair was tried once: two refused pairs, two refused notes
    assert len([c for c in idle.slack.of("chat.postMessage") if c.response.get("error")]) == 4


@pytest.fixture
def no_retries(quick: Settings, pool: asyncpg.Pool, slack: FakeSlack, model: FakeOpenAI) -> Any:
    """A model client that does not retry a 429 itself: every one reaches the job."""
    client = AsyncOpenAI(api_key="sk-test", base_url=model.base_url, max_retries=0, timeout=5.0)
    llm = LLM(client=client, default_model="fake-model", judge_model=None)
    return SlackDriver.build(settings=quick, pool=pool, slack=slack, llm=llm)


async def test_a_429_storm_requeues_pairs_and_answers_each_side_once(
    no_retries: SlackDriver, model: FakeOpenAI, pool: asyncpg.Pool
) -> None:
    """The endpoint takes one answer at once and answers 429 beyond (Retry-After 1 s): pairs
    go back to the queue instead of failing, and every side is answered once."""
    live = no_retries
    await live.reply_text("new Support")
    await live.reply_text("set formality 95")
    model.answer_limit = 1
    model.ttft_s = 0.2
    await live.command(ab_command(4))
    async with Worker(live.deps, options=options_from(live.deps)):
        await status_becomes(pool, "open", timeout=90)
    assert model.rejected > 0
    rows = await pool.fetch("SELECT result_a_id, result_b_id, failure FROM ab_messages")
    assert all(r["failure"] is None for r in rows)
    errors = await pool.fetch("SELECT error_kind FROM test_results WHERE kind = 'ab'")
    assert len(errors) == 8 and all(r["error_kind"] is None for r in errors)
    # the model served each side once (the fake records only the requests it served)
    assert len(answers(model)) == 8
    parent_ts = await pool.fetchval("SELECT parent_ts FROM ab_tests")
    posted = [json.dumps(p.args["blocks"][0]) for p in pairs(live, parent_ts)]
    assert len(posted) == len(set(posted)) == 4


async def test_a_worker_killed_mid_test_loses_and_duplicates_nothing(
    idle: SlackDriver,
    model: FakeOpenAI,
    slack: FakeSlack,
    db_dsn: str,
    tmp_path: Path,
    pool: asyncpg.Pool,
) -> None:
    """`romashka worker` in a subprocess, killed with SIGKILL while writing pairs; the pairs it
    held are picked again once their heartbeat is 2 s late, by a worker in this process, and
    the test opens with every pair, each answered and posted once."""
    model.ttft_s = 0.5
    test = await queued_test(idle, 8)
    proc = await start_worker(slack, db_dsn, model, tmp_path)
    try:

        async def some_written() -> bool:
            n = await pool.fetchval(
                "SELECT count(*) FROM ab_messages WHERE judge_verdict IS NOT NULL"
            )
            return bool(n >= 2)

        await until(some_written, timeout=30, what="the subprocess worker's first pairs")
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    held = await pool.fetchval(
        "SELECT count(*) FROM pgqueuer WHERE status = 'picked' AND entrypoint = 'ab_pair'"
    )
    written = await pool.fetchval("SELECT count(*) FROM ab_messages WHERE done_at IS NOT NULL")
    assert held > 0 and written < 8, "the kill did not come in the middle of the test"
    assert await pool.fetchval("SELECT status FROM ab_tests") == "answering"

    async with Worker(idle.deps, options=options_from(idle.deps)):
        await status_becomes(pool, "open", timeout=60)

        async def closable() -> bool:
            return ids.AB_CLOSE in parent_shows(idle, test["parent_ts"])

        # the opening is the parent's last edit (made just after the compare-and-set)
        await until(closable, what="the parent to open for voting")
    rows = await pool.fetch("SELECT * FROM ab_messages ORDER BY position")
    linked = [i for r in rows for i in (r["result_a_id"], r["result_b_id"])]
    stored = await pool.fetchval("SELECT count(*) FROM test_results WHERE kind = 'ab'")
    # 0 lost: every side of every pair answered and linked; 0 duplicated: no other answer stored
    assert None not in linked and len(set(linked)) == stored == 16
    posts = pairs(idle, test["parent_ts"])
    questions = [json.dumps(p.args["blocks"][0]) for p in posts]
    # a post claimed just before the kill is found in the thread or sent by the retry: every
    # pair is in the thread exactly once
    assert len(questions) == len(set(questions)) == 8
    assert [r["failure"] for r in rows] == [None] * 8


async def test_progress_shows_what_the_queue_holds(
    live: SlackDriver, model: FakeOpenAI, pool: asyncpg.Pool
) -> None:
    await live.reply_text("new Support")
    await live.reply_text("set formality 95")
    model.ttft_s = 0.4  # 8 pairs, 4 at once: some are written while others wait
    await live.command(ab_command(8))
    await status_becomes(pool, "open")
    parent_ts = await pool.fetchval("SELECT parent_ts FROM ab_tests")
    edits = [
        json.dumps(c.args["blocks"])
        for c in live.slack.of("chat.update")
        if c.args.get("ts") == parent_ts
    ]
    assert any("being written" in e and "waiting" in e for e in edits), edits
    # no edit of the parent names a side
    assert not any("A wins" in e or "Reply 1 is" in e for e in edits[:-1])
