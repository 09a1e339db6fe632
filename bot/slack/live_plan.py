"""A run's progress as one streamed message in its thread: chat.startStream with
task_display_mode "plan", one task per unit of work (a scenario message, a simulated
conversation), appended as the run moves and stopped by its summary or its Stop. Shared by
scenario runs (bot.scenarios.plan_stream) and simulation runs (bot.simulation.plan), which
say what the tasks are; this module owns the stream, its budget and its fallbacks.

Every call here is made by the process holding the run's parent-message lock, so all
processes together append about once a second (each run's progress claim), each append
carrying only the tasks that changed since the last one (kept on the run, `plan_sent`),
whichever process sent it.

Where the workspace refuses streaming, the streams budget is spent, the plan is too long, or
the stream breaks (e.g. Slack stopped it after a restart), the run's mode becomes 'edit' and
progress goes back to editing the parent message, as before streams."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import limits
from bot.blocks.plan import Chunk, TaskStatus, plan_chunk, plan_title, task_chunk, text_chunk
from bot.slack.stream_budget import StreamBudget
from storage import plan_streams as repo
from storage.plan_streams import PlanTable

log = logging.getLogger(__name__)

Task = tuple[str, str, TaskStatus, str]  # id, title, status, output


class PlannedRun(Protocol):
    """What a run with a live plan has (scenario runs, simulation runs)."""

    @property
    def team_id(self) -> str: ...
    @property
    def id(self) -> int: ...
    @property
    def channel_id(self) -> str | None: ...
    @property
    def parent_ts(self) -> str | None: ...
    @property
    def started_by(self) -> str: ...


@dataclass(frozen=True, slots=True)
class RunPlan:
    """A run's plan: its table and row, its title's words, and its tasks as they stand now
    (`tasks(stopped)`: with `stopped`, what never finished is an error). The tasks are read
    only when the plan streams."""

    table: PlanTable
    run: PlannedRun
    label: str
    what: str  # "Scenario run"
    unit: str  # "messages"
    tasks: Callable[[bool], Awaitable[Sequence[Task]]]

    async def load(self, *, stopped: bool = False) -> tuple[str, Sequence[Task]]:
        tasks = await self.tasks(stopped)
        done = sum(1 for t in tasks if t[2] in {TaskStatus.COMPLETE, TaskStatus.ERROR})
        failed = sum(1 for t in tasks if t[2] is TaskStatus.ERROR)
        title = plan_title(
            what=self.what,
            run_id=self.run.id,
            label=self.label,
            done=done,
            failed=failed,
            total=len(tasks),
            unit=self.unit,
        )
        return title, tasks


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
    plan: RunPlan,
) -> bool:
    """Show the run's progress in its plan stream (starting it the first time). False when the
    run shows progress by editing its parent instead: the caller then edits it."""
    t, run = plan.table, plan.run
    if run.channel_id is None or run.parent_ts is None:
        return False
    state = await repo.plan_state(pool, team_id=run.team_id, run_id=run.id, table=t)
    if state.mode == "edit":
        return False
    if state.mode == "closed":
        return True  # the run's end is shown; nothing to edit
    title, tasks = await plan.load()
    if state.mode is None:
        return await _start(pool, client, budget, plan=plan, title=title, tasks=tasks)
    changed = _changed(tasks, state.sent)
    if not changed:
        return True
    assert state.ts is not None
    try:
        await client.chat_appendStream(
            channel=run.channel_id, ts=state.ts, chunks=[plan_chunk(title), *changed]
        )
    except SlackApiError as exc:
        log.warning("%s %d: appendStream refused (%s); editing the parent", t, run.id, _code(exc))
        await repo.set_plan(pool, team_id=run.team_id, run_id=run.id, mode="edit", table=t)
        return False
    await repo.set_plan(
        pool, team_id=run.team_id, run_id=run.id, mode="stream", sent=_sent(tasks), table=t
    )
    return True


async def _start(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    budget: StreamBudget | None,
    *,
    plan: RunPlan,
    title: str,
    tasks: Sequence[Task],
) -> bool:
    t, run = plan.table, plan.run
    assert run.channel_id is not None and run.parent_ts is not None
    why = None
    if len(tasks) > limits.PLAN_TASKS:
        why = f"{len(tasks)} {plan.unit}, more than a plan shows"
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
                chunks=[plan_chunk(title), *_changed(tasks, {})],
            )
        except SlackApiError as exc:
            why = f"startStream refused: {_code(exc)}"
    if why is not None:
        log.info("%s %d: progress by editing the parent (%s)", t, run.id, why)
        await repo.set_plan(pool, team_id=run.team_id, run_id=run.id, mode="edit", table=t)
        return False
    await repo.set_plan(
        pool,
        team_id=run.team_id,
        run_id=run.id,
        mode="stream",
        ts=str(response["ts"]),
        sent=_sent(tasks),
        table=t,
    )
    return True


async def close(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    plan: RunPlan,
    *,
    ending: str,
    stopped: bool,
) -> None:
    """Stop the run's plan stream (if it streams) with its last task states and `ending` (the
    summary is above / who stopped it). Called under the parent lock by the one caller that
    reports or stops the run; a failure is logged: the parent shows the end either way."""
    t, run = plan.table, plan.run
    state = await repo.plan_state(pool, team_id=run.team_id, run_id=run.id, table=t)
    if state.mode != "stream" or state.ts is None or run.channel_id is None:
        return
    title, tasks = await plan.load(stopped=stopped)
    await repo.set_plan(
        pool, team_id=run.team_id, run_id=run.id, mode="closed", sent=_sent(tasks), table=t
    )
    try:
        await client.chat_stopStream(
            channel=run.channel_id,
            ts=state.ts,
            chunks=[plan_chunk(title), *_changed(tasks, state.sent), text_chunk(ending)],
        )
    except SlackApiError as exc:
        log.warning("%s %d: stopStream refused (%s)", t, run.id, _code(exc))


async def show_stopped(
    pool: asyncpg.Pool,
    client: AsyncWebClient,
    plan: RunPlan,
    *,
    text: str,
    blocks: Sequence[dict[str, object]],
    ending: str,
) -> None:
    """A stopped run's end: its parent edited to say who stopped it (`text`, `blocks`), then its
    plan stopped with what never finished as errors. Called under the run's parent lock, so
    this is the parent's last edit."""
    run = plan.run
    if run.channel_id is None or run.parent_ts is None:
        return
    try:
        await client.chat_update(
            channel=run.channel_id, ts=run.parent_ts, text=text, blocks=list(blocks)
        )
    except SlackApiError as exc:
        log.warning("could not show %s %d as stopped: %s", plan.table, run.id, _code(exc))
    await close(pool, client, plan, ending=ending, stopped=True)


def _code(exc: SlackApiError) -> str:
    return str(exc.response.get("error")) if exc.response is not None else "unknown"
