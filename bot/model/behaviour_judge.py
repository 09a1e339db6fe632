"""Judging an answer against a scenario's expected behaviours ("empathetic", "policy-aware"...).

The judge scores each behaviour 0-100 with a reason; whether it passed is decided here, in code,
against one threshold, so the bar is the same for every model and every run. One behaviour is
checked in code instead: "complete answer" fails when the answer was cut at its length limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, RootModel

from bot.domain.knowledge import KnowledgeItem, describe
from bot.domain.truncation import cut_note
from bot.model.judge_call import (
    NUMBER_TOKENS,
    REASON_TOKENS,
    STRUCTURE_TOKENS,
    JudgeFailed,
    JudgeOutcome,
    ask,
    budget,
    reason_schema,
    text_tokens,
    unique,
)
from bot.model.llm import LLM

PASS_SCORE: Final = 70
SCHEMA_NAME: Final = "behaviour_verdicts"
BEHAVIOUR_JUDGE_MARKER: Final = (
    "You are a strict evaluator of whether a customer-service reply shows expected behaviours."
)
COMPLETE_ANSWER: Final = "complete answer"

# One verdict, its behaviour's name aside: an object of two keys, a score and a one-sentence
# reason.
VERDICT_TOKENS: Final = 3 * STRUCTURE_TOKENS + NUMBER_TOKENS + REASON_TOKENS


def checked_in_code(behaviour: str) -> bool:
    return behaviour.strip().lower() == COMPLETE_ANSWER


def schema_for(behaviours: Sequence[str]) -> dict[str, Any]:
    """One entry per behaviour, keyed by its name: every behaviour is rated exactly once and
    no other can be. (An array of verdicts whose names come from an enum bounds the names but
    not their repetition: a 135M model under llama-server's grammar rated one behaviour twice
    and skipped another.)"""
    names = unique(behaviours)
    verdict = {
        "type": "object",
        "properties": {
            "score": {"type": "integer", "minimum": 0, "maximum": 100},
            "reason": reason_schema(),
        },
        "required": ["score", "reason"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {name: verdict for name in names},
        "required": names,
        "additionalProperties": False,
    }


def budget_for(behaviours: Sequence[str]) -> int:
    """The output budget for `schema_for(behaviours)`: its largest reply, with the margin."""
    names = unique(behaviours)
    return budget(STRUCTURE_TOKENS + sum(VERDICT_TOKENS + text_tokens(n) for n in names))


class _Verdict(BaseModel):
    model_config = ConfigDict(extra="ignore")
    score: int = Field(ge=0, le=100)
    reason: str


class _Output(RootModel[dict[str, _Verdict]]):
    """Verdicts by behaviour name."""


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
        "to 100 (shown clearly and consistently) how well the reply shows it, with a reason of "
        "one sentence (at most 15 words) quoting or pointing at the reply. Judge only the "
        "reply, not the question. Return one entry per behaviour, keyed by the behaviour's "
        "name exactly as given, and nothing else."
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
    """A verdict per behaviour asked about; ratings of behaviours that were not asked about
    (a judge without a schema can invent some) are ignored."""
    by_name: dict[str, _Verdict] = {}
    for name, v in output.root.items():
        by_name.setdefault(name.strip().lower(), v)
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


def completeness(
    behaviour: str, *, answer: str, cut_off: bool, interrupted: bool, token_limit: int | None
) -> BehaviourVerdict:
    """ "complete answer", decided from how the answer ended rather than by a judge."""
    if interrupted:
        return BehaviourVerdict(
            behaviour, None, None, "not judged: the answer's stream broke before it ended"
        )
    if cut_off:
        return BehaviourVerdict(behaviour, None, False, cut_note(token_limit))
    if not answer.strip():
        return BehaviourVerdict(behaviour, None, False, "the answer was empty")
    return BehaviourVerdict(behaviour, None, True, "the answer ended on its own")


@dataclass(frozen=True, slots=True)
class Judged:
    verdicts: list[BehaviourVerdict]  # one per behaviour, in the scenario's order
    outcome: JudgeOutcome | None  # of the judge call; None when none was made


async def judge(
    llm: LLM,
    *,
    question: str,
    answer: str,
    behaviours: tuple[str, ...],
    knowledge: Sequence[KnowledgeItem] = (),
    cut_off: bool = False,
    interrupted: bool = False,
    token_limit: int | None = None,
) -> Judged:
    """The judge rates every behaviour but "complete answer", which is decided from how the
    answer ended (`cut_off` at `token_limit`, or `interrupted`)."""
    asked = tuple(b for b in behaviours if not checked_in_code(b))
    outcome: JudgeOutcome | None = None
    rated: dict[str, BehaviourVerdict] = {}
    if asked and not answer.strip():
        rated = {
            b: BehaviourVerdict(b, None, None, "not judged: the answer was empty") for b in asked
        }
    elif asked:
        output = await ask(
            llm,
            judge=SCHEMA_NAME,
            messages=messages_for(question, answer, asked, knowledge),
            schema=schema_for(asked),
            max_tokens=budget_for(asked),
            output=_Output,
        )
        if isinstance(output, JudgeFailed):
            outcome = output.outcome
            reason = f"not judged: {output.reason}"
            rated = {b: BehaviourVerdict(b, None, None, reason) for b in asked}
        else:
            outcome = JudgeOutcome.OK
            rated = {v.behaviour: v for v in decide(asked, output)}
    verdicts = [
        completeness(
            b,
            answer=answer,
            cut_off=cut_off,
            interrupted=interrupted,
            token_limit=token_limit,
        )
        if checked_in_code(b)
        else rated[b]
        for b in behaviours
    ]
    return Judged(verdicts, outcome)
