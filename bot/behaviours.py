"""Judging an answer against a scenario's expected behaviours ("empathetic", "policy-aware"...).

The judge scores each behaviour 0-100 with a reason; whether it passed is decided here, in code,
against one threshold, so the bar is the same for every model and every run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.knowledge import describe
from bot.llm import LLM, LLMError
from storage.knowledge import KnowledgeItem

log = logging.getLogger(__name__)

PASS_SCORE: Final = 70
SCHEMA_NAME: Final = "behaviour_verdicts"
BEHAVIOUR_JUDGE_MARKER: Final = (
    "You are a strict evaluator of whether a customer-service reply shows expected behaviours."
)

SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "verdicts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "behaviour": {"type": "string"},
                    "score": {"type": "integer", "minimum": 0, "maximum": 100},
                    "reason": {"type": "string"},
                },
                "required": ["behaviour", "score", "reason"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["verdicts"],
    "additionalProperties": False,
}


class _Verdict(BaseModel):
    model_config = ConfigDict(extra="ignore")
    behaviour: str
    score: int = Field(ge=0, le=100)
    reason: str


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")
    verdicts: list[_Verdict]


@dataclass(frozen=True, slots=True)
class BehaviourVerdict:
    behaviour: str
    score: int | None  # None: not judged (the judge failed or skipped it)
    passed: bool | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "behaviour": self.behaviour,
            "score": self.score,
            "passed": self.passed,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BehaviourVerdict:
        return cls(
            behaviour=str(data["behaviour"]),
            score=None if data.get("score") is None else int(data["score"]),
            passed=data.get("passed"),
            reason=str(data.get("reason", "")),
        )


GROUNDED: Final = "grounded"


def messages_for(
    question: str,
    answer: str,
    behaviours: tuple[str, ...],
    knowledge: Sequence[KnowledgeItem] = (),
) -> list[dict[str, str]]:
    listed = "\n".join(f"- {b}" for b in behaviours)
    system = (
        f"{BEHAVIOUR_JUDGE_MARKER} For each expected behaviour, score from 0 (not shown at all) "
        "to 100 (shown clearly and consistently) how well the reply shows it, with a one-line "
        "reason quoting or pointing at the reply. Judge only the reply, not the question. "
        "Return one verdict per behaviour, using the behaviour names exactly as given."
    )
    user = (
        f"Expected behaviours:\n{listed}\n\nCustomer message:\n<question>\n{question}\n</question>"
        f"\n\n<reply>\n{answer}\n</reply>"
    )
    if any(b.strip().lower() == GROUNDED for b in behaviours):
        system += (
            f" For '{GROUNDED}': score 100 only when every factual claim the reply makes about "
            "the company (products, prices, policies, availability) is supported by the company "
            "knowledge between <knowledge> tags; otherwise score low and name each unsupported "
            "claim in the reason."
        )
        facts = "\n".join(f"[{i.ref}] {describe(i)}" for i in knowledge) or "(none was given)"
        user += f"\n\n<knowledge>\n{facts}\n</knowledge>"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def decide(behaviours: tuple[str, ...], output: _Output) -> list[BehaviourVerdict]:
    by_name = {v.behaviour.strip().lower(): v for v in output.verdicts}
    verdicts = []
    for behaviour in behaviours:
        found = by_name.get(behaviour.strip().lower())
        if found is None:
            verdicts.append(
                BehaviourVerdict(behaviour, None, None, "not judged: the judge gave no rating")
            )
        else:
            verdicts.append(
                BehaviourVerdict(
                    behaviour, found.score, found.score >= PASS_SCORE, found.reason.strip()
                )
            )
    return verdicts


async def judge(
    llm: LLM,
    *,
    question: str,
    answer: str,
    behaviours: tuple[str, ...],
    knowledge: Sequence[KnowledgeItem] = (),
) -> list[BehaviourVerdict]:
    if not behaviours:
        return []
    try:
        raw = await llm.complete_json(
            messages=messages_for(question, answer, behaviours, knowledge),
            schema_name=SCHEMA_NAME,
            schema=SCHEMA,
            model=llm.judge_model,
        )
        output = _Output.model_validate(raw)
    except LLMError as err:
        return [BehaviourVerdict(b, None, None, f"not judged: {err.message}") for b in behaviours]
    except ValidationError as err:
        log.warning("behaviour judge returned invalid output (%d errors)", err.error_count())
        reason = "not judged: the judge's reply was not valid"
        return [BehaviourVerdict(b, None, None, reason) for b in behaviours]
    return decide(behaviours, output)
