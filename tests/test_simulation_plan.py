"""A simulation run as a live plan (issue #19): one streamed message in its thread with a task
per conversation (pending → in progress "turn 3 of 8" → complete "goal met in 5 turns" or
error), started before any turn is posted and stopped by the summary or by Stop; progress
edits of the parent where Slack refuses the stream. The fake model plays the customer from a
script; the fake Slack validates every chunk."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import asyncpg
import pytest

from bot import ids
from bot.blocks.plan import STOPPED_OUTPUT, TaskStatus, conversation_output
from bot.jobs.worker import Worker, options_from
from bot.model.llm import LLM
from bot.startup.settings import Settings
from tests.fake_openai import FakeOpenAI
from tests.fake_slack import FakeSlack, StreamState
from tests.slack_driver import USER, SlackDriver
from tests.test_scenario_stop import replied
from tests.test_simulation import CHARGED_TWICE, REFUND_SCRIPT, run_finished, scripted_customer

THREE = f"scenario run {CHARGED_TWICE} repeat 3"
DONE_OUTPUT = re.compile(r"^goal (met|partly met|not met|not judged) in \d+ turns?$")
TURN_OUTPUT = re.compile(r"^turn \d+ of \d+$")


def counts(slack: FakeSlack) -> dict[str, int]:
    methods = ("chat.startStream", "chat.appendStream", "chat.stopStream")
    return {m: len(slack.of(m)) for m in methods}


def the_stream(slack: FakeSlack) -> StreamState:
    [start] = slack.of("chat.startStream")
    return slack.streams[str(start.response["ts"])]


def sent_tasks(slack: FakeSlack) -> list[dict[str, Any]]:
    """Every task_update chunk sent, in order."""
    return [
        chunk
        for method in ("chat.startStream", "chat.appendStream", "chat.stopStream")
        for call in slack.of(method)
        for chunk in call.args.get("chunks") or []
        if chunk["type"] == "task_update"
    ]


def parent_edits(live: SlackDriver, parent_ts: str) -> list[dict[str, Any]]:
    return [
        c.args
        for c in live.slack.of("chat.update")
        if c.args.get("ts") == parent_ts and c.response.get("ok")
    ]


def has_header(args: dict[str, Any]) -> bool:
    return any(b.get("type") == "header" for b in args.get("blocks") or [])


async def until(check: Any, *, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"waited too long for {what}"
        await asyncio.sleep(0.05)


async def test_three_conversations_are_one_streamed_plan_before_any_turn(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    slack = live.slack
    model.json_hook = scripted_customer(REFUND_SCRIPT)
    model.ttft_s = 0.3  # a run of a few seconds: progress appends come once a second
    await live.reply_text("new Support")
    await live.command(THREE)
    run = await run_finished(live.pool, timeout=60)
    measured = counts(slack)
    print(f"\n3-conversation simulation run, Slack stream calls: {measured}")
    assert measured["chat.startStream"] == 1 and measured["chat.stopStream"] == 1
    assert measured["chat.appendStream"] >= 1
    assert all(c.response.get("ok") for m in measured for c in slack.of(m))
    assert slack.violations == []
    [start] = slack.of("chat.startStream")
    assert start.args["thread_ts"] == run["parent_ts"]
    assert start.args["task_display_mode"] == "plan"
    # the plan is the thread's first message: every turn was posted after it started
    turns = [c for c in slack.of("chat.postMessage") if c.args.get("thread_ts") == run["parent_ts"]]
    assert turns and all(t.at > start.at for t in turns)
    # pending at the start, then in progress with the turn, then complete with the verdict
    first = [c for c in start.args["chunks"] if c["type"] == "task_update"]
    assert [c["status"] for c in first] == ["pending"] * 3
    assert [c["title"] for c in first] == [
        f"{i}. {CHARGED_TWICE} · sample {i} of 3" for i in (1, 2, 3)
    ]
    assert any(
        c["status"] == "in_progress" and TURN_OUTPUT.match(c.get("output", ""))
        for c in sent_tasks(slack)
    )
    stream = the_stream(slack)
    assert not stream.open and len(stream.tasks) == 3
    assert all(
        status == "complete" and DONE_OUTPUT.match(out) for status, out in stream.tasks.values()
    )
    assert stream.title == f"Simulation run #{run['id']} · Support v1: 3 of 3 conversations"
    assert "Done: 3 of 3 conversations played." in stream.text
    assert run["plan_mode"] == "closed"
    # nothing appended after the stop; the parent's last edit is the summary
    [stop] = slack.of("chat.stopStream")
    assert all(c.at <= stop.at for c in slack.of("chat.appendStream"))
    edits = parent_edits(live, run["parent_ts"])
    assert has_header(edits[-1]) and sum(1 for e in edits if has_header(e)) == 1


async def test_a_workspace_refusing_streams_gets_progress_edits(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    slack = live.slack
    slack.fail_next("chat.startStream", error="not_allowed_token_type")
    model.json_hook = scripted_customer(REFUND_SCRIPT)
    model.ttft_s = 0.3
    await live.reply_text("new Support")
    await live.command(THREE)
    run = await run_finished(live.pool, timeout=60)
    # tried once; then the run edits its parent as before streams
    assert counts(slack) == {"chat.startStream": 1, "chat.appendStream": 0, "chat.stopStream": 0}
    assert run["plan_mode"] == "edit" and run["plan_ts"] is None
    edits = parent_edits(live, run["parent_ts"])
    progress = [e["text"] for e in edits if not has_header(e)]
    assert any(re.search(r": [0-3] of 3 conversations done$", t) for t in progress)
    assert has_header(edits[-1]) and sum(1 for e in edits if has_header(e)) == 1


@pytest.fixture
def idle(settings: Settings, pool: asyncpg.Pool, slack: FakeSlack, llm: LLM) -> SlackDriver:
    """The app with a model but no worker: runs stay queued until a test starts one."""
    return SlackDriver.build(settings=settings, pool=pool, slack=slack, llm=llm)


async def test_stop_before_any_conversation_deletes_every_queued_job(
    idle: SlackDriver, model: FakeOpenAI
) -> None:
    model.json_hook = scripted_customer(REFUND_SCRIPT)
    await idle.reply_text("new Support")
    await idle.command(THREE)

    async def queued() -> bool:
        return bool(await idle.pool.fetchval("SELECT count(*) FROM pgqueuer") == 3)

    await until(queued, what="the three conversation jobs")
    run_id: int = await idle.pool.fetchval("SELECT id FROM simulation_runs")
    await idle.click(ids.SIMULATION_STOP, str(run_id))
    await replied(idle, f"Stopped simulation run #{run_id} after 0 of 3 conversations.")
    assert await idle.pool.fetchval("SELECT count(*) FROM pgqueuer") == 0
    run = await idle.pool.fetchrow("SELECT * FROM simulation_runs WHERE id = $1", run_id)
    assert run["status"] == "stopped" and run["stopped_by"] == USER
    last = parent_edits(idle, run["parent_ts"])[-1]["text"]
    assert f"stopped by <@{USER}> after 0 of 3 conversations." in last
    # a worker started afterwards plays nothing, and nothing is summarised
    async with Worker(idle.deps, options=options_from(idle.deps)):
        await asyncio.sleep(0.5)
    assert await idle.pool.fetchval("SELECT count(*) FROM simulation_turns") == 0
    assert not any(has_header(e) for e in parent_edits(idle, run["parent_ts"]))
    # stopping twice does nothing
    await idle.click(ids.SIMULATION_STOP, str(run_id))
    await replied(idle, f"Simulation run #{run_id} is not running; nothing to stop.")


async def test_stop_mid_run_ends_the_conversations_at_their_next_turn(
    live: SlackDriver, model: FakeOpenAI
) -> None:
    slack = live.slack
    model.json_hook = scripted_customer(REFUND_SCRIPT)
    model.ttft_s = 0.8  # each bot answer takes a while: the Stop comes between turns
    await live.reply_text("new Support")
    await live.command(THREE)

    async def some_turns() -> bool:
        n = await live.pool.fetchval("SELECT count(*) FROM simulation_turns")
        mode = await live.pool.fetchval("SELECT plan_mode FROM simulation_runs")
        return bool(n >= 2 and mode == "stream")

    await until(some_turns, what="the first turns")
    run_id: int = await live.pool.fetchval("SELECT id FROM simulation_runs")
    await live.click(ids.SIMULATION_STOP, str(run_id))
    await replied(live, f"Stopped simulation run #{run_id} after ")

    async def settled() -> bool:
        # the conversations being played finish their current turn, then stop
        return not await live.pool.fetchval(
            "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'simulation_conversation'"
        )

    await until(settled, what="the conversations in flight")
    turns = await live.pool.fetchval("SELECT count(*) FROM simulation_turns")
    posts = len(slack.of("chat.postMessage"))
    await asyncio.sleep(1.5)
    assert await live.pool.fetchval("SELECT count(*) FROM simulation_turns") == turns
    assert len(slack.of("chat.postMessage")) == posts
    run = await live.pool.fetchrow("SELECT * FROM simulation_runs WHERE id = $1", run_id)
    assert run["status"] == "stopped" and run["reported_at"] is None
    done = await live.pool.fetchval(
        "SELECT count(*) FROM simulation_conversations WHERE done_at IS NOT NULL"
    )
    assert done < 3
    # the parent's last edit says who stopped it after how many; no summary, no drift chart
    edits = parent_edits(live, run["parent_ts"])
    stopped = [e["text"] for e in edits if "stopped by" in e["text"]]
    assert len(stopped) == 1 and edits[-1]["text"] == stopped[0]
    assert f"stopped by <@{USER}> after {done} of 3 conversations." in stopped[0]
    assert not any(has_header(e) for e in edits) and slack.files_posted() == []
    # the plan: stopped once, nothing left pending or in progress, nothing appended after
    assert counts(slack)["chat.stopStream"] == 1
    stream = the_stream(slack)
    assert not stream.open
    assert f"Stopped by <@{USER}> after {done} of 3 conversations." in stream.text
    statuses = [status for status, _ in stream.tasks.values()]
    assert "pending" not in statuses and "in_progress" not in statuses
    assert statuses.count("error") == 3 - done
    [stop] = slack.of("chat.stopStream")
    assert all(c.at <= stop.at for c in slack.of("chat.appendStream"))
    assert slack.violations == []


@pytest.mark.parametrize(
    ("status", "turns", "verdict", "fault", "expected"),
    [
        (TaskStatus.PENDING, 0, None, None, ""),
        (TaskStatus.IN_PROGRESS, 0, None, None, "starting"),
        (TaskStatus.IN_PROGRESS, 3, None, None, "turn 3 of 8"),
        (TaskStatus.COMPLETE, 5, "yes", None, "goal met in 5 turns"),
        (TaskStatus.COMPLETE, 1, "partly", None, "goal partly met in 1 turn"),
        (TaskStatus.COMPLETE, 4, "no", None, "goal not met in 4 turns"),
        (TaskStatus.COMPLETE, 4, None, None, "goal not judged in 4 turns"),
        (
            TaskStatus.ERROR,
            2,
            None,
            "model error: the model <!here> failed",
            "model error: the model &lt;!here&gt; failed (after 2 turns)",
        ),
        (TaskStatus.ERROR, 2, None, None, "stopped after 2 turns"),
        (TaskStatus.ERROR, 0, None, None, STOPPED_OUTPUT),
    ],
)
def test_a_conversation_task_says_how_far_it_got(
    status: TaskStatus, turns: int, verdict: str | None, fault: str | None, expected: str
) -> None:
    output = conversation_output(
        status=status, customer_turns=turns, turn_limit=8, verdict=verdict, fault=fault
    )
    assert output == expected
