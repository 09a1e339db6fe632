"""`/bot test` answers as jobs (issue #16): the app acks and queues, a worker (in the app, or a
`romashka worker` process) streams the answer into the thread; a retried job never posts the
answer twice; a deleted version and a queue nobody serves end in a clear message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot import messages
from bot.jobs import gave_up, worker
from bot.jobs.enqueue import enqueue_interactive_answer
from bot.jobs.interactive import InteractiveQueue
from bot.jobs.payloads import InteractiveAnswerJob
from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.startup.settings import Settings
from storage import interactive as interactive_repo
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack
from tests.slack_driver import CHANNEL, TEAM, SlackDriver
from tests.test_bot_test import settled, streamed_text
from tests.test_jobs import start_worker, until

QUESTION = "How do I cancel my subscription?"


@pytest.fixture
def idle(settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM) -> SlackDriver:
    """The app with a model and no worker in it (WORKER_IN_APP=false, none started)."""
    return SlackDriver.build(
        settings=settings.model_copy(update={"worker_in_app": False}),
        pool=pool,
        slack=slack,
        llm=llm,
    )


def thread_texts(slack: FakeSlack, thread_ts: str) -> list[str]:
    return [
        str(c.args.get("text", ""))
        for c in slack.of("chat.postMessage")
        if c.args.get("thread_ts") == thread_ts
    ]


def streams_in(slack: FakeSlack, thread_ts: str) -> list[str]:
    """The ts of every answer streamed into the thread."""
    return [
        str(c.response["ts"])
        for c in slack.of("chat.startStream")
        if c.args.get("thread_ts") == thread_ts
    ]


async def asked(driver: SlackDriver) -> str:
    """`/bot test` typed; returns the thread (the parent message's ts) once its job is queued."""
    await driver.reply_text("new Support")
    response = await driver.command(f"test {QUESTION}")
    assert response.status == 200

    async def queued() -> bool:
        return bool(await driver.pool.fetchval("SELECT count(*) FROM interactive_answers"))

    await until(queued, what="the queued answer")
    thread_ts: str = await driver.pool.fetchval("SELECT thread_ts FROM interactive_answers")
    return thread_ts


async def job_of(driver: SlackDriver, thread_ts: str) -> InteractiveAnswerJob:
    """The job queued for the thread's request, as a test queues it again."""
    row = await driver.pool.fetchrow(
        "SELECT id, channel_id, profile_version_id FROM interactive_answers WHERE thread_ts = $1",
        thread_ts,
    )
    return InteractiveAnswerJob(
        team_id=TEAM,
        request_id=row["id"],
        version_id=row["profile_version_id"],
        channel_id=row["channel_id"],
        thread_ts=thread_ts,
    )


def drained(driver: SlackDriver) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not await driver.pool.fetchval("SELECT count(*) FROM pgqueuer")

    return check


async def test_in_app_worker_streams_the_answer_through_the_queue(
    live: SlackDriver, slack: FakeSlack
) -> None:
    thread_ts = await asked(live)
    [result] = await settled(live.pool)
    assert result.thread_ts == thread_ts and result.error_kind is None
    [ts] = streams_in(slack, thread_ts)
    assert streamed_text(slack, ts).strip()

    async def finished() -> bool:
        return bool(
            await live.pool.fetchval(
                "SELECT count(*) FROM interactive_answers WHERE finished_at IS NOT NULL"
            )
        )

    await until(finished, what="the request marked finished")
    assert messages.ANSWER_NO_WORKER not in thread_texts(slack, thread_ts)


async def test_no_worker_says_so_then_a_worker_process_answers(
    idle: SlackDriver, slack: FakeSlack, model: FakeOpenAI, db_dsn: str, tmp_path: Path
) -> None:
    thread_ts = await asked(idle)

    async def told() -> bool:
        return messages.ANSWER_NO_WORKER in thread_texts(slack, thread_ts)

    await until(told, timeout=10, what="the no-worker message")
    assert not streams_in(slack, thread_ts)

    proc = await start_worker(slack, db_dsn, model, tmp_path)
    try:
        [result] = await settled(idle.pool, timeout=40)
    finally:
        proc.terminate()
        await proc.wait()
    assert result.thread_ts == thread_ts and result.error_kind is None
    [ts] = streams_in(slack, thread_ts)
    assert streamed_text(slack, ts).strip()
    # the worker process stopped cleanly: it no longer counts as serving
    assert not await idle.pool.fetchval("SELECT count(*) FROM interactive_workers")


async def test_a_retried_job_never_answers_twice(idle: SlackDriver, slack: FakeSlack) -> None:
    thread_ts = await asked(idle)
    row = await idle.pool.fetchrow("SELECT id, profile_version_id FROM interactive_answers")
    job = InteractiveAnswerJob(
        team_id=TEAM,
        request_id=row["id"],
        version_id=row["profile_version_id"],
        channel_id=CHANNEL,
        thread_ts=thread_ts,
    )
    async with Worker(idle.deps, options=options_from(idle.deps)):
        await settled(idle.pool)

        async def drained() -> bool:
            return not await idle.pool.fetchval("SELECT count(*) FROM pgqueuer")

        await until(drained, what="the answered job to leave the queue")
        # the same job again (a retry after its worker died once the answer was out)
        async with idle.pool.acquire() as con:
            await enqueue_interactive_answer(con, job)
        await until(drained, what="the retried job")
    assert len(streams_in(slack, thread_ts)) == 1
    assert await idle.pool.fetchval("SELECT count(*) FROM test_results") == 1


async def test_a_job_run_again_after_its_worker_died_says_so_once(
    idle: SlackDriver, slack: FakeSlack
) -> None:
    thread_ts = await asked(idle)
    # as if a worker had claimed it and been killed before finishing
    await idle.pool.execute("UPDATE interactive_answers SET started_at = now()")
    row = await idle.pool.fetchrow("SELECT id, profile_version_id FROM interactive_answers")
    job = InteractiveAnswerJob(
        team_id=TEAM,
        request_id=row["id"],
        version_id=row["profile_version_id"],
        channel_id=CHANNEL,
        thread_ts=thread_ts,
    )

    async def drained() -> bool:
        return not await idle.pool.fetchval("SELECT count(*) FROM pgqueuer")

    async with Worker(idle.deps, options=options_from(idle.deps)):
        await until(drained, what="the job")
        async with idle.pool.acquire() as con:
            await enqueue_interactive_answer(con, job)
        await until(drained, what="the job run a third time")
    told = [t for t in thread_texts(slack, thread_ts) if t == messages.ANSWER_INTERRUPTED]
    assert len(told) == 1
    assert not streams_in(slack, thread_ts)
    assert await idle.pool.fetchval("SELECT count(*) FROM test_results") == 0


async def test_a_deleted_version_ends_in_a_clear_message_once(
    idle: SlackDriver, slack: FakeSlack
) -> None:
    """The notice is claimed before it is posted: the job run again (as after its worker died
    right after posting) does not post it twice."""
    thread_ts = await asked(idle)
    job = await job_of(idle, thread_ts)
    # the workspace's data purged while the job waited (versions go only with their workspace)
    await idle.pool.execute("DELETE FROM workspaces WHERE team_id = $1", TEAM)
    assert not await idle.pool.fetchval("SELECT count(*) FROM interactive_answers")
    async with Worker(idle.deps, options=options_from(idle.deps)):

        async def told() -> bool:
            return messages.ANSWER_VERSION_DELETED in thread_texts(slack, thread_ts)

        await until(told, what="the deleted-version message")
        await until(drained(idle), what="the job")
        async with idle.pool.acquire() as con:
            await enqueue_interactive_answer(con, job)
        await until(drained(idle), what="the job run again")
    told_ = [t for t in thread_texts(slack, thread_ts) if t == messages.ANSWER_VERSION_DELETED]
    assert len(told_) == 1
    assert not streams_in(slack, thread_ts)


async def test_a_job_failing_on_every_try_says_so_once_and_is_done(
    idle: SlackDriver, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every try fails before the request is claimed (the database fails under it): after the
    last one the thread says once that the question could not be answered, and why; the
    request is done, so the job run again later neither answers nor tells anything more."""
    monkeypatch.setattr(worker, "RETRY_FIRST_DELAY_S", 0.05)
    monkeypatch.setattr(worker, "RETRY_MAX_DELAY_S", 0.05)
    tries = 0
    real_claim = interactive_repo.claim

    async def claim_fails(*args: Any, **kwargs: Any) -> Any:
        nonlocal tries
        tries += 1
        raise asyncpg.exceptions.ConnectionDoesNotExistError("gone, with a secret: xoxb-1")

    monkeypatch.setattr(interactive_repo, "claim", claim_fails)
    thread_ts = await asked(idle)
    job = await job_of(idle, thread_ts)
    gave_up_text = messages.answer_gave_up(gave_up.DATABASE)
    async with Worker(idle.deps, options=options_from(idle.deps)):

        async def told() -> bool:
            return gave_up_text in thread_texts(slack, thread_ts)

        await until(told, what="the gave-up message")

        async def held() -> bool:
            # PgQueuer records job statuses in batches, a moment after the job ends
            n = await idle.pool.fetchval("SELECT count(*) FROM pgqueuer WHERE status = 'failed'")
            return bool(n == 1)

        await until(held, what="the job held as failed")
        assert tries >= worker.MAX_ATTEMPTS  # retried, then held
        row = await idle.pool.fetchrow("SELECT * FROM interactive_answers")
        assert row["finished_at"] is not None and row["started_at"] is None
        # the database is back and the job runs again (say `pgq` re-queued it): nothing more
        monkeypatch.setattr(interactive_repo, "claim", real_claim)
        await idle.pool.execute("DELETE FROM pgqueuer")
        async with idle.pool.acquire() as con:
            await enqueue_interactive_answer(con, job)
        await until(drained(idle), what="the job run again")
    texts = thread_texts(slack, thread_ts)
    assert [t for t in texts if t.startswith(":warning:")] == [gave_up_text]
    assert "xoxb" not in gave_up_text and "gone" not in gave_up_text
    assert not streams_in(slack, thread_ts)
    assert await idle.pool.fetchval("SELECT count(*) FROM test_results") == 0


async def test_a_request_not_picked_in_time_is_told_it_waits(
    idle: SlackDriver, slack: FakeSlack
) -> None:
    """A process beats as serving but picks nothing (busy): after the pick timeout the thread
    says the question is still queued."""
    object.__setattr__(idle.deps, "answers", InteractiveQueue(idle.pool, pick_timeout_s=0.3))
    await idle.pool.execute("INSERT INTO interactive_workers (worker_id) VALUES ('busy')")
    thread_ts = await asked(idle)

    async def told() -> bool:
        return messages.answer_still_queued(0.3) in thread_texts(slack, thread_ts)

    await until(told, timeout=10, what="the still-queued message")
    assert messages.ANSWER_NO_WORKER not in thread_texts(slack, thread_ts)
