"""The automatic pairwise judge for A/B tests. It is asked twice, with the replies in both
orders, and its verdict counts only when both answers agree: models favour whichever reply they
read first, and this cancels that bias instead of hiding it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from bot.model.judge_call import (
    REASON_TOKENS,
    STRUCTURE_TOKENS,
    JudgeFailed,
    ask,
    budget,
    reason_schema,
)
from bot.model.llm import LLM

PAIRWISE_JUDGE_MARKER: Final = (
    "You compare two customer-service replies to the same customer message."
)
SCHEMA_NAME: Final = "pairwise_verdict"
SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "better": {"type": "string", "enum": ["1", "2", "tie"]},
        "reason": reason_schema(),
    },
    "required": ["better", "reason"],
    "additionalProperties": False,
}
# "1", "2" or "tie", and a one-sentence reason.
LARGEST_REPLY_TOKENS: Final = 3 * STRUCTURE_TOKENS + REASON_TOKENS

Verdict = Literal["a", "b", "tie", "inconsistent", "unavailable"]


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")
    better: Literal["1", "2", "tie"]
    reason: str


@dataclass(frozen=True, slots=True)
class PairwiseResult:
    verdict: Verdict
    detail: dict[str, Any]


def messages_for(question: str, first: str, second: str) -> list[dict[str, str]]:
    system = (
        f"{PAIRWISE_JUDGE_MARKER} Decide which reply serves the customer better: correct, "
        "helpful, clear and appropriately toned. Answer '1', '2' or 'tie', with a reason of one "
        "sentence (at most 15 words)."
    )
    user = (
        f"Customer message:\n<question>\n{question}\n</question>\n\n"
        f"<reply_1>\n{first}\n</reply_1>\n\n<reply_2>\n{second}\n</reply_2>"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def combine(a_first: str | None, b_first: str | None) -> Verdict:
    """`a_first` is the verdict asked with A as reply 1, `b_first` with B as reply 1, both
    already mapped to a/b/tie; None where that ask failed."""
    if a_first is None or b_first is None:
        return "unavailable"
    if a_first != b_first:
        return "inconsistent"
    if a_first == "a":
        return "a"
    if a_first == "b":
        return "b"
    return "tie"


async def _ask(llm: LLM, question: str, first: str, second: str) -> _Output | None:
    output = await ask(
        llm,
        judge=SCHEMA_NAME,
        messages=messages_for(question, first, second),
        schema=SCHEMA,
        max_tokens=budget(LARGEST_REPLY_TOKENS),
        output=_Output,
    )
    return None if isinstance(output, JudgeFailed) else output


async def judge(llm: LLM, *, question: str, answer_a: str, answer_b: str) -> PairwiseResult:
    with_a_first, with_b_first = await asyncio.gather(
        _ask(llm, question, answer_a, answer_b), _ask(llm, question, answer_b, answer_a)
    )
    mapped_a = (
        None if with_a_first is None else {"1": "a", "2": "b", "tie": "tie"}[with_a_first.better]
    )
    mapped_b = (
        None if with_b_first is None else {"1": "b", "2": "a", "tie": "tie"}[with_b_first.better]
    )
    return PairwiseResult(
        verdict=combine(mapped_a, mapped_b),
        detail={
            "a_first": mapped_a,
            "a_first_reason": with_a_first.reason if with_a_first else None,
            "b_first": mapped_b,
            "b_first_reason": with_b_first.reason if with_b_first else None,
        },
    )
