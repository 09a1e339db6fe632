"""A scenario run's progress as one streamed message in its thread: chat.startStream with
task_display_mode "plan", one task per planned message (pending → in_progress → complete or
error, with a short result), appended as the run moves and stopped by its summary or its Stop.

Every call here is made by the process holding the run's parent-message lock, right after it
won the run's once-a-second progress claim (bot.jobs.scenario_message), so all processes
together append about once a second, each append carrying only the tasks that changed since
the last one (kept on the run, `plan_sent`), whichever process sent it.

Where the workspace refuses streaming, the streams budget is spent, the plan is too long, or
the stream breaks (e.g. Slack stopped it after a restart), the run's mode becomes 'edit' and
progress goes back to editing the parent message, as before streams."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import limits
from bot.blocks.plan import (
    Chunk,
    TaskStatus,
    plan_chunk,
    plan_title,
    task_chunk,
    task_id,
    task_output,
    task_title,
    text_chunk,
)
from bot.domain.scenarios import ScenarioRun
from bot.scenarios.engine import PlanItem, plan_from_json
from bot.slack.stream_budget import StreamBudget
from storage import plan_streams as repo
from storage.plan_streams import ItemState

log = logging.getLogger(__name__)

Task = tuple[str, str, TaskStatus, str]  # id, title, status, output


def tasks_of(
    items: Sequence[PlanItem], states: Sequence[ItemState], *, stopped: bool = False
) -> list[Task]:
    """Each planned message's task as it stands; `stopped`: what never finished is an error."""
    by_key = {(s.scenario_id, s.position): s for s in states}
    out: list[Task] = []
    for index, item in enumerate(items):
        state = by_key.get((item.scenario_id, item.position))
        if state is not None and state.done:
            status = TaskStatus.ERROR if state.error_kind else TaskStatus.COMPLETE
        elif stopped:
            status = TaskStatus.ERROR
        elif state is not None:
            status = TaskStatus.IN_PROGRESS  # picked by a worker, or stored and being judged
        else:
            status = TaskStatus.PENDING
        output = task_output(
            status=status,
            passed=state.passed if state else 0,
            judged=state.judged if state else 0,
            error_kind=state.error_kind if state and state.done else None,
        )
        title = task_title(index=index, scenario=item.scenario_name, message=item.message)
        out.append((task_id(index), title, status, output))
    return out


def _title(run: ScenarioRun, label: str, tasks: Sequence[Task]) -> str:
    done = sum(1 for t in tasks if t[2] in {TaskStatus.COMPLETE, TaskStatus.ERROR})
    failed = sum(1 for t in tasks if t[2] is TaskStatus.ERROR)
    return plan_title(run_id=run.id, label=label, done=done, failed=failed, total=len(tasks))


def _changed(tasks: Sequence[Task], sent: dict[str, list[str]]) -> list[Chunk]:
    return [
        task_chunk(task=tid, title=title, status=status, output=output)
        for tid, title, status, output in tasks
        if sent.get(tid) != [status.value, output]
    ]


def _sent(tasks: Sequence[Task]) -> dict[str, list[str]]:
    return {tid: [status.value, output] for tid, _, status, output in tasks}


async def show(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    budget: StreamBudget | None,
    *,
    run: ScenarioRun,
    label: str,
) -> bool:
    """Show the run's progress in its plan stream (starting it the first time). False when the
    run shows progress by editing its parent instead: the caller then edits it."""
    if run.channel_id is None or run.parent_ts is None:
        return False
    state = await repo.plan_state(pool, team_id=run.team_id, run_id=run.id)
    if state.mode == "edit":
        return False
    if state.mode == "closed":
        return True  # the run's end is shown; nothing to edit
    states = await repo.item_states(pool, team_id=run.team_id, run_id=run.id)
    tasks = tasks_of(plan_from_json(run.plan), states)
    if state.mode is None:
        return await _start(pool, client, budget, run=run, label=label, tasks=tasks)
    changed = _changed(tasks, state.sent)
    if not changed:
        return True
    assert state.ts is not None
    try:
        await client.chat_appendStream(
            channel=run.channel_id,
            ts=state.ts,
            chunks=[plan_chunk(_title(run, label, tasks)), *changed],
        )
    except SlackApiError as exc:
        log.warning("run %d: appendStream refused (%s); editing the parent", run.id, _code(exc))
        await repo.set_plan(pool, team_id=run.team_id, run_id=run.id, mode="edit")
        return False
    await repo.set_plan(pool, team_id=run.team_id, run_id=run.id, mode="stream", sent=_sent(tasks))
    return True


async def _start(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    budget: StreamBudget | None,
    *,
    run: ScenarioRun,
    label: str,
    tasks: Sequence[Task],
) -> bool:
    assert run.channel_id is not None and run.parent_ts is not None
    why = None
    if len(tasks) > limits.PLAN_TASKS:
        why = f"{len(tasks)} messages, more than a plan shows"
    elif budget is not None and not await budget.spend(run.team_id):
        why = "the workspace's streams budget is spent"
    if why is None:
        try:
            response = await client.chat_startStream(
                channel=run.channel_id,
                thread_ts=run.parent_ts,
                recipient_team_id=run.team_id,
                recipient_user_id=run.started_by,
                task_display_mode="plan",
                chunks=[plan_chunk(_title(run, label, tasks)), *_changed(tasks, {})],
            )
        except SlackApiError as exc:
            why = f"startStream refused: {_code(exc)}"
    if why is not None:
        log.info("run %d: progress by editing the parent (%s)", run.id, why)
        await repo.set_plan(pool, team_id=run.team_id, run_id=run.id, mode="edit")
        return False
    await repo.set_plan(
        pool,
        team_id=run.team_id,
        run_id=run.id,
        mode="stream",
        ts=str(response["ts"]),
        sent=_sent(tasks),
    )
    return True


async def close(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    *,
    run: ScenarioRun,
    label: str,
    ending: str,
    stopped: bool,
) -> None:
    """Stop the run's plan stream (if it streams) with its last task states and `ending` (the
    summary is above / who stopped it). Called under the parent lock by the one caller that
    reports or stops the run; a failure is logged: the parent shows the end either way."""
    state = await repo.plan_state(pool, team_id=run.team_id, run_id=run.id)
    if state.mode != "stream" or state.ts is None or run.channel_id is None:
        return
    states = await repo.item_states(pool, team_id=run.team_id, run_id=run.id)
    tasks = tasks_of(plan_from_json(run.plan), states, stopped=stopped)
    await repo.set_plan(pool, team_id=run.team_id, run_id=run.id, mode="closed", sent=_sent(tasks))
    try:
        await client.chat_stopStream(
            channel=run.channel_id,
            ts=state.ts,
            chunks=[
                plan_chunk(_title(run, label, tasks)),
                *_changed(tasks, state.sent),
                text_chunk(ending),
            ],
        )
    except SlackApiError as exc:
        log.warning("run %d: stopStream refused (%s)", run.id, _code(exc))


def _code(exc: SlackApiError) -> str:
    return str(exc.response.get("error")) if exc.response is not None else "unknown"
