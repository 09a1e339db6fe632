"""A scenario run's progress as one streamed plan in its thread (chat.startStream with
task_display_mode "plan"): one task per message, appended about once a second by whichever
worker wins the progress claim, stopped by the summary or by Stop; progress edits of the parent
where Slack refuses the stream, the budget is spent, or the stream breaks."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from bot import ids
from bot.blocks.plan import STOPPED_OUTPUT
from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.slack.stream_budget import STREAMS_PER_MINUTE, StreamBudget
from bot.startup.settings import Settings
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack, StreamState, error_for, payload_problems
from tests.slack_driver import USER, SlackDriver
from tests.test_jobs import queued_run, until
from tests.test_run_takeover import summaries
from tests.test_scenario_stop import replied
from tests.test_scenarios import posted, run_done


@pytest.fixture
def idle(settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM) -> SlackDriver:
    return SlackDriver.build(settings=settings, pool=pool, slack=slack, llm=llm)


def counts(slack: FakeSlack) -> dict[str, int]:
    methods = ("chat.startStream", "chat.appendStream", "chat.stopStream")
    return {m: len(slack.of(m)) for m in methods}


def the_stream(slack: FakeSlack) -> tuple[str, StreamState]:
    [start] = slack.of("chat.startStream")
    ts = str(start.response["ts"])
    return ts, slack.streams[ts]


def progress_edits(live: SlackDriver, parent_ts: str) -> list[str]:
    """Edits of the parent that show progress (not the summary, which has a header; not the
    stop)."""
    return [
        str(c.args.get("text"))
        for c in live.slack.of("chat.update")
        if c.args.get("ts") == parent_ts
        and c.response.get("ok")
        and "stopped by" not in str(c.args.get("text"))
        and not any(b.get("type") == "header" for b in c.args.get("blocks") or [])
    ]


def all_ok(slack: FakeSlack, method: str) -> bool:
    return all(c.response.get("ok") for c in slack.of(method))


async def started(live: SlackDriver, done: int) -> None:
    async def ready() -> bool:
        n = await live.pool.fetchval("SELECT count(*) FROM test_results WHERE done_at IS NOT NULL")
        mode = await live.pool.fetchval("SELECT plan_mode FROM scenario_runs")
        return bool(n >= done and mode is not None)

    await until(ready, what="the plan stream")


async def test_a_nine_message_run_is_one_streamed_plan(
    live: SlackDriver, model: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    slack = live.slack
    model.ttft_s = 1.0  # a run of a few seconds, as with a real model
    await live.reply_text("new Support")
    await live.command("scenario run all")
    [run] = await run_done(live.pool)
    await posted(live.pool)
    measured = counts(slack)
    with capsys.disabled():
        print(f"\n9-message run, Slack stream calls: {measured}")
    assert measured["chat.startStream"] == 1 and measured["chat.stopStream"] == 1
    # appends ride the once-a-second progress claim: a few, not one per message and state
    assert 1 <= measured["chat.appendStream"] <= 9
    [start] = slack.of("chat.startStream")
    assert start.args["thread_ts"] == run["parent_ts"]
    assert start.args["task_display_mode"] == "plan"
    assert start.args["recipient_user_id"] == USER
    assert [c["type"] for c in start.args["chunks"]][:1] == ["plan_update"]
    _, stream = the_stream(slack)
    assert not stream.open and all_ok(slack, "chat.appendStream")
    # what a reader sees at the end: nine tasks, each complete with its result
    assert sorted(stream.tasks) == sorted(f"m{i}" for i in range(1, 10))
    assert all(status == "complete" for status, _ in stream.tasks.values())
    assert all(output.startswith(("passed ", "answered")) for _, output in stream.tasks.values())
    assert stream.title.endswith(": 9 of 9 messages")
    assert "Done: 9 of 9 messages answered" in stream.text
    # every append carries only what changed (no task sent twice with the same state)
    sent: dict[str, Any] = {}
    for call in [start, *slack.of("chat.appendStream"), *slack.of("chat.stopStream")]:
        for chunk in call.args["chunks"]:
            if chunk["type"] == "task_update":
                state = (chunk["status"], chunk.get("output"))
                assert sent.get(chunk["id"]) != state
                sent[chunk["id"]] = state
    # the plan is the progress: the parent is not edited with progress, only with the summary
    assert progress_edits(live, run["parent_ts"]) == []
    assert len(summaries(live)) == 1


async def test_stop_mid_run_stops_the_stream_with_who_and_where(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    slack = live.slack
    model.ttft_s = 1.0
    await live.reply_text("new Support")
    await live.command("scenario run all")
    await started(live, 1)
    run_id: int = await live.pool.fetchval("SELECT id FROM scenario_runs")
    await live.click(ids.SCENARIO_STOP, str(run_id))
    await replied(live, f"Stopped scenario run #{run_id} after ")

    async def settled() -> bool:
        return not await live.pool.fetchval(
            "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'scenario_message'"
        )

    await until(settled, what="the jobs in flight")
    await asyncio.sleep(1.2)  # a progress claim after the stop would append now
    c = counts(slack)
    assert c["chat.startStream"] == 1 and c["chat.stopStream"] == 1
    ts, stream = the_stream(slack)
    assert not stream.open and all_ok(slack, "chat.appendStream")
    [stop] = slack.of("chat.stopStream")
    assert stop.args["ts"] == ts
    assert f"Stopped by <@{USER}> after " in stream.text and " of 9 messages." in stream.text
    # what never ran shows as stopped, not as forever pending
    statuses = [s for s, _ in stream.tasks.values()]
    assert "pending" not in statuses and "in_progress" not in statuses
    assert any(out == STOPPED_OUTPUT for _, out in stream.tasks.values())
    # nothing appended after the stop
    assert all(c.at <= stop.at for c in slack.of("chat.appendStream"))
    assert summaries(live) == []


async def test_a_workspace_refusing_streams_gets_progress_edits(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    slack = live.slack
    slack.fail_next("chat.startStream", error="not_allowed_token_type")
    model.ttft_s = 0.3
    await live.reply_text("new Support")
    await live.command("scenario run all")
    [run] = await run_done(live.pool)
    await posted(live.pool)
    c = counts(slack)
    # tried once; then the run edits its parent as before streams
    assert c == {"chat.startStream": 1, "chat.appendStream": 0, "chat.stopStream": 0}
    assert run["plan_mode"] == "edit" and run["plan_ts"] is None
    assert progress_edits(live, run["parent_ts"]) != []
    assert len(summaries(live)) == 1


async def test_a_spent_stream_budget_gets_progress_edits(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    """The budget is in the database: another process spent this workspace's minute."""
    other_process = StreamBudget(pool=live.pool)
    assert all([await other_process.spend(live.slack.team_id) for _ in range(STREAMS_PER_MINUTE)])
    model.ttft_s = 0.3
    await live.reply_text("new Support")
    await live.command("scenario run all")
    [run] = await run_done(live.pool)
    await posted(live.pool)
    assert counts(live.slack)["chat.startStream"] == 0
    assert run["plan_mode"] == "edit"
    assert progress_edits(live, run["parent_ts"]) != []
    assert len(summaries(live)) == 1


async def restarted_mid_run(idle: SlackDriver, model: FakeOpenAI) -> int:
    """A worker streams the first answers and stops; the run is left half-way."""
    model.ttft_s = 0.5
    run_id = await queued_run(idle)
    async with Worker(idle.deps, options=options_from(idle.deps)):
        await started(idle, 2)
    done = await idle.pool.fetchval("SELECT count(*) FROM test_results WHERE done_at IS NOT NULL")
    assert done < 9, "the restart did not come in the middle of the run"
    return run_id


async def test_a_worker_restarted_mid_run_continues_the_same_stream(
    idle: SlackDriver, model: FakeOpenAI, settings: Settings, llm: LLM
) -> None:
    slack = idle.slack
    await restarted_mid_run(idle, model)
    ts, stream = the_stream(slack)
    assert stream.open
    # a new process: its own app, client and budget; the stream's ts is on the run
    fresh = SlackDriver.build(settings=settings, pool=idle.pool, slack=slack, llm=llm)
    async with Worker(fresh.deps, options=options_from(fresh.deps)):
        [run] = await run_done(idle.pool, timeout=60)
        await posted(idle.pool, timeout=60)
    assert run["status"] == "completed"
    c = counts(slack)
    assert c["chat.startStream"] == 1 and c["chat.stopStream"] == 1
    assert {call.args["ts"] for call in slack.of("chat.appendStream")} <= {ts}
    assert all_ok(slack, "chat.appendStream") and all_ok(slack, "chat.stopStream")
    assert all(status == "complete" for status, _ in stream.tasks.values())
    assert len(stream.tasks) == 9 and not stream.open


async def test_a_stream_slack_ended_during_a_restart_falls_back_to_edits(
    idle: SlackDriver, model: FakeOpenAI, settings: Settings, llm: LLM
) -> None:
    slack = idle.slack
    run_id = await restarted_mid_run(idle, model)
    _, stream = the_stream(slack)
    stream.open = False  # Slack ended the stream while no worker ran
    # the restart takes longer than a progress claim lasts, so the new worker's first job
    # start tries to append (on a loaded machine the rest of the run could otherwise finish
    # inside the old worker's last claim, with no append to be refused)
    await asyncio.sleep(1.2)
    fresh = SlackDriver.build(settings=settings, pool=idle.pool, slack=slack, llm=llm)
    async with Worker(fresh.deps, options=options_from(fresh.deps)):
        await run_done(idle.pool, timeout=60)
        await posted(idle.pool, timeout=60)
    [run] = await idle.pool.fetch("SELECT * FROM scenario_runs")
    assert run["status"] == "completed" and run["id"] == run_id
    assert run["plan_mode"] == "edit"
    # one refused append, no second stream, no stopStream on a dead stream; the parent shows
    # progress again and then the summary
    refused = [c for c in slack.of("chat.appendStream") if not c.response.get("ok")]
    assert len(refused) == 1
    assert counts(slack)["chat.startStream"] == 1 and counts(slack)["chat.stopStream"] == 0
    assert progress_edits(idle, run["parent_ts"]) != []
    assert len(summaries(idle)) == 1


@pytest.mark.parametrize(
    ("method", "args", "problem"),
    [
        ("chat.appendStream", {"chunks": [{"type": "plan_update", "title": "t"}]}, None),
        ("chat.appendStream", {"chunks": [{"type": "thinking", "text": "x"}]}, "unknown chunk"),
        (
            "chat.appendStream",
            {"chunks": [{"type": "task_update", "id": "m1", "title": "t", "status": "done"}]},
            "status",
        ),
        (
            "chat.stopStream",
            {"chunks": [{"type": "task_update", "id": "m1", "status": "pending"}]},
            "title: required",
        ),
        (
            "chat.appendStream",
            {"chunks": [{"type": "plan_update", "title": "t", "emoji": ":x:"}]},
            "emoji: unknown field",
        ),
        (
            "chat.appendStream",
            {
                "chunks": [
                    {"type": "task_update", "id": "m", "title": "t", "status": "complete"}
                    | {"output": "x" * 257}
                ]
            },
            "output: more than 256",
        ),
        ("chat.appendStream", {"task_display_mode": "plan"}, "task_display_mode"),
        ("chat.startStream", {"task_display_mode": "grid"}, "task_display_mode"),
        ("chat.startStream", {"chunks": []}, "non-empty"),
    ],
)
def test_the_fake_refuses_chunks_slack_would(
    method: str, args: dict[str, Any], problem: str | None
) -> None:
    problems = payload_problems(method, {"channel": "C1", "ts": "1.0", **args})
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems
        assert error_for(method, problems) == "invalid_chunks"
