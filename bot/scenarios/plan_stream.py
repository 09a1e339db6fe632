"""A scenario run's progress as one streamed message in its thread (bot.slack.live_plan): one
task per planned message (pending → in_progress → complete or error, with a short result).

Called by the process holding the run's parent-message lock, right after it won the run's
once-a-second progress claim (bot.jobs.scenario_message)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from bot.blocks.plan import TaskStatus, task_id, task_output, task_title
from bot.domain.scenarios import ScenarioRun
from bot.scenarios.engine import PlanItem, plan_from_json
from bot.slack.live_plan import RunPlan, Task
from storage import plan_streams as repo
from storage.plan_streams import ItemState, PlanTable


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
            unconfirmed=state.unconfirmed if state else False,
        )
        title = task_title(index=index, scenario=item.scenario_name, message=item.message)
        out.append((task_id(index), title, status, output))
    return out


def plan_of(pool: asyncpg.Pool, run: ScenarioRun, label: str) -> RunPlan:
    """The run's live plan, for bot.slack.live_plan.show / close."""

    async def tasks(stopped: bool) -> list[Task]:
        states = await repo.item_states(pool, team_id=run.team_id, run_id=run.id)
        return tasks_of(plan_from_json(run.plan), states, stopped=stopped)

    return RunPlan(PlanTable.SCENARIO_RUNS, run, label, "Scenario run", "messages", tasks)
