"""One simulated conversation: the simulator and the bot take turns until the customer says
their goal was met or they give up, or the turn limit; then the whole conversation is judged.
Shared by the job (Slack) and the CLI.

Every turn is stored once under (conversation, turn) before it is shown, so a retried job
reads the turns stored so far and continues from the next one; showing a turn is claimed, so
nothing is posted twice."""

from __future__ import annotations

import logging
import statistics
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from bot.answers.pipeline import RunContext, answer_and_judge
from bot.domain.profile import ProfileVersion
from bot.domain.simulation import (
    Conversation,
    CustomerState,
    Ending,
    Simulation,
    StoredTurn,
)
from bot.model import behaviour_judge
from bot.model.llm import LLMError, LLMErrorKind
from bot.persona.conversation import Turn
from bot.simulation import customer, goal_judge
from bot.simulation.customer import Line, SimulatorFault
from bot.simulation.drift import Point, drift, levels_by_turn
from storage import results as results_repo
from storage import simulations as repo
from storage.results import NewResult

log = logging.getLogger(__name__)

Lease = Callable[[str], AbstractAsyncContextManager[object]]
OnTurn = Callable[[StoredTurn], Awaitable[None]]
# asked before each turn: True when the run was stopped (its Stop button)
Stopped = Callable[[], Awaitable[bool]]


class ConversationStopped(Exception):
    """The run was stopped between two turns: the conversation ends unfinished, its turns
    kept, neither judged nor counted."""


_ENDED_BY_CUSTOMER = {
    CustomerState.GOAL_MET: Ending.GOAL_MET,
    CustomerState.GAVE_UP: Ending.GAVE_UP,
}


def lines_of(turns: Sequence[StoredTurn]) -> list[Line]:
    return [Line(customer=t.is_customer, text=t.text) for t in turns]


def _bot_turns(turns: Sequence[StoredTurn]) -> list[Turn]:
    return [Turn(role="user" if t.is_customer else "assistant", content=t.text) for t in turns]


async def converse(
    ctx: RunContext,
    *,
    simulator_model: str,
    version: ProfileVersion,
    simulation: Simulation,
    conversation: Conversation,
    user_id: str,
    lease: Lease,
    on_turn: OnTurn | None = None,
    raise_rate_limited: bool = False,
    stopped: Stopped | None = None,
    temperature: float = 0.0,
    ab_thread: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Play the conversation to its end (continuing from its stored turns), judge it and store
    how it ended. Returns the stored outcome. A rate limit is raised when `raise_rate_limited`
    (the job is retried later and continues); anything else ends the conversation, its turns
    kept. `stopped` is asked before each turn; when it says so, ConversationStopped is raised
    and nothing more is stored.

    The simulator is sampled at `temperature`, with the conversation's seed where it has one
    (an A/B test's: the same for A and B). `ab_thread` (channel, parent ts of an A/B test):
    the bot's answers are stored as that test's A/B answers, so stats and exports leave them
    out while its voting is open (they would tell a voter which conversation is whose)."""
    pool = ctx.pool
    team_id = version.team_id
    stored = await repo.turns(pool, team_id=team_id, conversation_id=conversation.id)
    if on_turn is not None:
        for t in stored:
            if not t.posted:
                await on_turn(t)
    ending: Ending | None = None
    fault: str | None = None
    llm = ctx.llm
    raise_kinds = frozenset({LLMErrorKind.RATE_LIMITED}) if raise_rate_limited else frozenset()
    try:
        while ending is None:
            if stopped is not None and await stopped():
                raise ConversationStopped
            n = len(stored)
            if n % 2 == 0:
                if n // 2 >= simulation.turn_limit:
                    ending = Ending.TURN_LIMIT
                    fault = (
                        f"the simulator did not end the conversation within "
                        f"{simulation.turn_limit} turns"
                    )
                    break
                if llm is None or not llm.configured:
                    raise LLMError(LLMErrorKind.NOT_CONFIGURED)
                async with lease(simulator_model):
                    said = await customer.next_turn(
                        llm,
                        model=simulator_model,
                        persona=simulation.persona,
                        goal=simulation.goal,
                        lines=lines_of(stored),
                        raise_rate_limited=raise_rate_limited,
                        temperature=temperature,
                        seed=conversation.seed,
                    )
                if isinstance(said, SimulatorFault):
                    ending, fault = Ending.SIMULATOR_FAULT, said.reason
                    break
                if conversation.seed is not None:
                    mark = repo.seed_refused if said.seed_refused else repo.seed_taken
                    await mark(pool, team_id=team_id, conversation_id=conversation.id)
                turn = await repo.add_turn(
                    pool,
                    team_id=team_id,
                    conversation_id=conversation.id,
                    turn=n,
                    text=said.text,
                    state=said.state.value,
                )
            else:
                last = stored[-1]
                state = CustomerState(last.state or CustomerState.CONTINUE)
                if state is not CustomerState.CONTINUE:
                    ending = _ENDED_BY_CUSTOMER[state]
                    break
                base = NewResult(
                    team_id=team_id,
                    profile_version_id=version.id,
                    kind="scenario" if ab_thread is None else "ab",
                    user_id=user_id,
                    question=last.text,
                    answer="",
                    scenario_name=simulation.name,
                    channel_id=None if ab_thread is None else ab_thread[0],
                    thread_ts=None if ab_thread is None else ab_thread[1],
                )
                # the same pipeline as /bot test: prompt builder, knowledge, sampling, judges
                async with lease(version.fields.model or (llm.default_model if llm else "")):
                    result = await answer_and_judge(
                        ctx,
                        version=version,
                        base=base,
                        turns=_bot_turns(stored),
                        raise_kinds=raise_kinds,
                    )
                if result.error_kind is not None:
                    ending = Ending.MODEL_ERROR
                    fault = result.error or "the bot's model gave no answer"
                    break
                turn = await repo.add_turn(
                    pool,
                    team_id=team_id,
                    conversation_id=conversation.id,
                    turn=n,
                    text=result.answer,
                    result_id=result.id,
                )
            stored.append(turn)
            if on_turn is not None:
                await on_turn(turn)
            if turn.is_customer and turn.state != CustomerState.CONTINUE.value:
                ending = _ENDED_BY_CUSTOMER[CustomerState(turn.state or "continue")]
    except LLMError as err:
        if err.kind in raise_kinds:
            raise
        ending, fault = Ending.MODEL_ERROR, err.message
    outcome = await _judge(ctx, simulation=simulation, stored=stored, ending=ending, lease=lease)
    await repo.finish_conversation(
        pool,
        team_id=team_id,
        conversation_id=conversation.id,
        ending=ending.value,
        fault=fault,
        outcome=outcome,
    )
    outcome["ending"] = ending.value
    outcome["fault"] = fault
    return outcome


def counted(ending: str | None) -> bool:
    """Whether the conversation counts for the bot's goal and behaviour rates: simulator
    faults (and a simulator that never ended) and model errors do not."""
    return ending in {Ending.GOAL_MET.value, Ending.GAVE_UP.value}


async def _judge(
    ctx: RunContext,
    *,
    simulation: Simulation,
    stored: Sequence[StoredTurn],
    ending: Ending,
    lease: Lease,
) -> dict[str, Any]:
    pool = ctx.pool
    bot = [t for t in stored if not t.is_customer and t.result_id is not None]
    analyses: list[tuple[int, dict[str, Any] | None]] = []
    alignments: list[float] = []
    for t in bot:
        assert t.result_id is not None
        result = await results_repo.get_result(
            pool, team_id=simulation.team_id, result_id=t.result_id
        )
        analyses.append(((t.turn + 1) // 2, result.analysis))
        if result.alignment is not None:
            alignments.append(result.alignment)
    points = levels_by_turn(analyses)
    outcome: dict[str, Any] = {
        "customer_turns": sum(1 for t in stored if t.is_customer),
        "bot_turns": len(bot),
        "judged_turns": sum(1 for _, a in analyses if a),
        "alignment": statistics.fmean(alignments) if alignments else None,
        "points": {
            name: [target, [[p.turn, p.gap] for p in pts]] for name, (target, pts) in points.items()
        },
        "drift": [d.to_json() for d in drift(points)],
        "goal": None,
        "behaviours": [],
    }
    llm = ctx.llm
    # a conversation the bot never answered in, or whose simulator broke down, says nothing
    # about the bot's goal or behaviours
    if not bot or llm is None or not counted(ending.value):
        return outcome
    lines = lines_of(stored)
    async with lease(llm.judge_model):
        goal = await goal_judge.judge(llm, goal=simulation.goal, lines=lines)
        outcome["goal"] = goal.to_json()
        if simulation.behaviours:
            replies = "\n\n".join(f"[turn {(t.turn + 1) // 2}] {t.text}" for t in bot)
            judged = await behaviour_judge.judge(
                llm,
                question=goal_judge.transcript(lines),
                answer=replies,
                behaviours=simulation.behaviours,
            )
            outcome["behaviours"] = [v.to_json() for v in judged.verdicts]
    return outcome


def points_of(outcome: dict[str, Any]) -> dict[str, tuple[int, list[Point]]]:
    """A stored outcome's gap points, for pooling samples."""
    return {
        name: (int(target), [Point(int(t), float(g)) for t, g in pts])
        for name, (target, pts) in dict(outcome.get("points", {})).items()
    }
