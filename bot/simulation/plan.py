"""A simulation run's progress as one streamed plan in its thread (bot.slack.live_plan), as
scenario runs have it: one task per conversation (per sample with repeats), pending → in
progress ("turn 3 of 8") → complete ("goal met in 5 turns") or error (simulator fault, model
error, stopped). The plan is the thread's first message: a conversation job makes sure the
plan is decided (streamed, or progress by editing the parent) before it posts a turn."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from bot.blocks.plan import TaskStatus, conversation_output, conversation_title, task_id
from bot.domain.simulation import ENDING_TEXT, Ending, SimulationRun
from bot.slack.live_plan import RunPlan, Task
from storage import simulations as repo
from storage.plan_streams import PlanTable
from storage.simulations import ConversationState

# endings that are the bot's conversation played out (the goal judge's verdict says how well);
# the others are errors: the simulator, the model or our side broke it off
_PLAYED_OUT = {Ending.GOAL_MET.value, Ending.GAVE_UP.value}
_ERROR_TEXT = {
    Ending.TURN_LIMIT.value: "simulator fault",
    Ending.SIMULATOR_FAULT.value: "simulator fault",
    Ending.MODEL_ERROR.value: "model error",
    Ending.INTERNAL.value: "internal error",
}


def tasks_of(
    run: SimulationRun, states: Sequence[ConversationState], *, stopped: bool = False
) -> list[Task]:
    """Each conversation's task as it stands; `stopped`: what never finished is an error."""
    by_key = {(s.simulation_id, s.sample): s for s in states}
    out: list[Task] = []
    index = 0
    for simulation in run.simulations():
        for sample in range(run.repeat):
            state = by_key.get((simulation.id, sample))
            fault = None
            if state is not None and state.done:
                played = state.ending in _PLAYED_OUT
                status = TaskStatus.COMPLETE if played else TaskStatus.ERROR
                if not played:
                    kind = _ERROR_TEXT.get(state.ending or "", "internal error")
                    detail = state.fault or ENDING_TEXT.get(Ending(state.ending or "internal"))
                    fault = f"{kind}: {detail}"
            elif stopped:
                status = TaskStatus.ERROR
            elif state is not None:
                status = TaskStatus.IN_PROGRESS
            else:
                status = TaskStatus.PENDING
            output = conversation_output(
                status=status,
                customer_turns=state.customer_turns if state else 0,
                turn_limit=simulation.turn_limit,
                verdict=state.verdict if state else None,
                fault=fault,
            )
            title = conversation_title(
                index=index, name=simulation.name, sample=sample, repeat=run.repeat
            )
            out.append((task_id(index), title, status, output))
            index += 1
    return out


def plan_of(pool: asyncpg.Pool, run: SimulationRun, label: str) -> RunPlan:
    """The run's live plan, for bot.slack.live_plan.show / close."""

    async def tasks(stopped: bool) -> list[Task]:
        states = await repo.conversation_states(pool, team_id=run.team_id, run_id=run.id)
        return tasks_of(run, states, stopped=stopped)

    return RunPlan(PlanTable.SIMULATION_RUNS, run, label, "Simulation run", "conversations", tasks)
