"""Was the customer's goal reached? One judge call over the whole conversation: yes, partly or
no, with a one-sentence reason. Through the shared judge call (bot.model.judge_call)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from bot.model.judge_call import (
    REASON_TOKENS,
    STRUCTURE_TOKENS,
    JudgeFailed,
    JudgeOutcome,
    ask,
    budget,
    reason_schema,
)
from bot.model.llm import LLM
from bot.simulation.customer import Line

SCHEMA_NAME: Final = "conversation_goal"
GOAL_JUDGE_MARKER: Final = "You judge whether a support conversation reached the customer's goal."
MAX_TOKENS: Final = budget(4 * STRUCTURE_TOKENS + REASON_TOKENS)


class GoalVerdict(StrEnum):
    YES = "yes"
    PARTLY = "partly"
    NO = "no"


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")

    verdict: GoalVerdict
    reason: str = ""


def schema() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "verdict": {"type": "string", "enum": [v.value for v in GoalVerdict]},
            "reason": reason_schema("one sentence (at most 15 words)"),
        },
        "required": ["verdict", "reason"],
    }


def transcript(lines: Sequence[Line]) -> str:
    return "\n".join(f"{'Customer' if ln.customer else 'Bot'}: {ln.text}" for ln in lines)


def messages_for(goal: str, lines: Sequence[Line]) -> list[dict[str, str]]:
    system = (
        f"{GOAL_JUDGE_MARKER} Answer yes when the bot gave the customer what the goal asks "
        "for, partly when it went part of the way, no otherwise; judge what the bot did, not "
        "how the customer felt. Give a reason of one sentence (at most 15 words)."
    )
    user = f"Customer's goal: {goal}\n\n<conversation>\n{transcript(lines)}\n</conversation>"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@dataclass(frozen=True, slots=True)
class Goal:
    verdict: GoalVerdict | None  # None: not judged
    reason: str
    outcome: JudgeOutcome

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": None if self.verdict is None else self.verdict.value,
            "reason": self.reason,
            "outcome": self.outcome.value,
        }


async def judge(llm: LLM, *, goal: str, lines: Sequence[Line]) -> Goal:
    out = await ask(
        llm,
        judge=SCHEMA_NAME,
        messages=messages_for(goal, lines),
        schema=schema(),
        max_tokens=MAX_TOKENS,
        output=_Output,
    )
    if isinstance(out, JudgeFailed):
        return Goal(None, f"not judged: {out.reason}", out.outcome)
    return Goal(out.verdict, out.reason.strip(), JudgeOutcome.OK)
