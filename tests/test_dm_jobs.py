"""The DM's answers as jobs (issue #16): the app that heard the message titles the thread and
queues the answer; a worker (in the app by default, or a `romashka worker` process) shows
"is writing…" when it starts and streams the answer. With no worker, the thread says so at
once; a job run twice answers once."""

from __future__ import annotations

from pathlib import Path

from bot import messages
from bot.jobs.enqueue import enqueue_interactive_answer
from bot.jobs.worker import Worker, options_from
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import Call, FakeSlack
from tests.slack_driver import SlackDriver
from tests.test_bot_test import settled, streamed_text
from tests.test_dm import DM, dm_message
from tests.test_interactive_jobs import (  # noqa: F401  (the `idle` fixture)
    drained,
    idle,
    job_of,
    streams_in,
    thread_texts,
)
from tests.test_jobs import start_worker, until


def statuses(slack: FakeSlack, thread_ts: str) -> list[Call]:
    return [
        c for c in slack.of("assistant.threads.setStatus") if c.args.get("thread_ts") == thread_ts
    ]


async def requests(driver: SlackDriver) -> list[tuple[str, bool]]:
    """The stored requests, oldest first, as (kind, writing_status)."""
    rows = await driver.pool.fetch(
        "SELECT kind, writing_status FROM interactive_answers ORDER BY id"
    )
    return [(r["kind"], r["writing_status"]) for r in rows]


async def dm_queued(driver: SlackDriver, text: str, *, thread_ts: str | None = None) -> str:
    """A DM message heard by the app; returns its thread once its answer is queued."""
    before = len(await requests(driver))
    event = dm_message(driver.slack, text, thread_ts=thread_ts)
    await driver.event(event)

    async def queued() -> bool:
        return len(await requests(driver)) > before

    await until(queued, what="the DM's answer queued")
    return str(thread_ts or event["ts"])


async def test_the_in_app_worker_answers_the_dm_through_the_queue(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    slack = live.slack
    await live.reply_text("new Support")
    thread_ts = await dm_queued(live, "Where is my order?")
    [first] = await settled(live.pool)
    assert (first.channel_id, first.thread_ts) == (DM, thread_ts)
    # titled by the app, then the worker's status, then its stream
    [title] = slack.of("assistant.threads.setTitle")
    [status] = statuses(slack, thread_ts)
    [start] = [c for c in slack.of("chat.startStream") if c.args["thread_ts"] == thread_ts]
    assert status.args["status"] == messages.DM_WRITING_STATUS
    assert slack.calls.index(title) < slack.calls.index(status) < slack.calls.index(start)
    assert streamed_text(slack, str(start.response["ts"])) == first.answer

    await dm_queued(live, "It says delivered but nothing came", thread_ts=thread_ts)
    _, second = await settled(live.pool, 2)
    assert second.kind == "followup" and second.thread_ts == thread_ts
    assert await requests(live) == [("test", True), ("followup", True)]
    assert len(statuses(slack, thread_ts)) == 2
    assert messages.ANSWER_NO_WORKER not in thread_texts(slack, thread_ts)


async def test_no_worker_says_so_in_the_dm_then_a_worker_process_answers(
    idle: SlackDriver,  # noqa: F811
    slack: FakeSlack,
    model: FakeOpenAI,
    db_dsn: str,
    tmp_path: Path,
) -> None:
    await idle.reply_text("new Support")
    thread_ts = await dm_queued(idle, "Where is my order?")

    async def told() -> bool:
        return messages.ANSWER_NO_WORKER in thread_texts(slack, thread_ts)

    await until(told, timeout=10, what="the no-worker message")
    # the title is the app's; nobody is writing yet, so no status
    assert slack.of("assistant.threads.setTitle")
    assert not statuses(slack, thread_ts) and not streams_in(slack, thread_ts)

    proc = await start_worker(slack, db_dsn, model, tmp_path)
    try:
        [result] = await settled(idle.pool, timeout=40)
    finally:
        proc.terminate()
        await proc.wait()
    assert (result.channel_id, result.thread_ts, result.error_kind) == (DM, thread_ts, None)
    # the worker process showed the status, before its stream
    [status] = statuses(slack, thread_ts)
    [ts] = streams_in(slack, thread_ts)
    start = next(c for c in slack.of("chat.startStream") if c.response.get("ts") == ts)
    assert slack.calls.index(status) < slack.calls.index(start)
    assert streamed_text(slack, ts) == result.answer


async def test_a_dm_job_run_twice_answers_once(
    idle: SlackDriver,  # noqa: F811
    slack: FakeSlack,
) -> None:
    await idle.reply_text("new Support")
    thread_ts = await dm_queued(idle, "Where is my order?")
    job = await job_of(idle, thread_ts)
    async with Worker(idle.deps, options=options_from(idle.deps)):
        await settled(idle.pool)
        await until(drained(idle), what="the answered job to leave the queue")
        # the same job again (a retry after its worker died once the answer was out)
        async with idle.pool.acquire() as con:
            await enqueue_interactive_answer(con, job)
        await until(drained(idle), what="the job run again")
    assert len(streams_in(slack, thread_ts)) == 1
    assert len(statuses(slack, thread_ts)) == 1
    assert await idle.pool.fetchval("SELECT count(*) FROM test_results") == 1
