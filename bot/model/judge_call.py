"""One judge call, the same way for every judge: a bounded output budget, the reply validated
against the judge's pydantic model, and every failure logged (judge, model and kind of failure,
never the reply or the prompt, which quote customer text) and named by an outcome that is stored
with the answer and counted in `/bot stats`."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError

from bot.model.llm import JUDGE_BUDGET_MARGIN, LLM, LLMError, LLMErrorKind, Messages

log = logging.getLogger(__name__)

# Free text in a judge's reply is bounded by maxLength (servers that enforce schemas with a
# grammar, like llama-server, stop a small model rambling inside a string; a server that refuses
# the keyword gets the schema without it, see bot.model.llm). The prompts ask for less.
# A reason is one line in Slack. Its bound also keeps judging cheap next to answering: at 100
# characters the behaviour judge's whole reply for three behaviours (the seed scenarios') is
# under 150 tokens, half of a conversational answer's 300, even from a model that fills every
# string to its bound.
REASON_MAX_CHARS: Final = 100  # "one sentence (at most 15 words)"
SUGGESTION_MAX_CHARS: Final = 120

# Token allowances for the largest reply a judge's schema allows, counted as small models'
# tokenizers write JSON (about 3 characters a token). The budget adds JUDGE_BUDGET_MARGIN.
CHARS_PER_TOKEN: Final = 3
STRUCTURE_TOKENS: Final = 8  # one quoted key with its colon, comma and brackets
NUMBER_TOKENS: Final = 4
REASON_TOKENS: Final = REASON_MAX_CHARS // CHARS_PER_TOKEN
SUGGESTION_TOKENS: Final = SUGGESTION_MAX_CHARS // CHARS_PER_TOKEN
REF_TOKENS: Final = 5  # a knowledge id such as "F12", quoted, with its comma


def budget(largest_reply_tokens: int) -> int:
    """The output budget for a judge whose schema allows replies of up to this many tokens."""
    return math.ceil(largest_reply_tokens * JUDGE_BUDGET_MARGIN)


def text_tokens(text: str) -> int:
    """Tokens of a short known text (a behaviour name) written out in a reply."""
    return len(text) // CHARS_PER_TOKEN + 2


def reason_schema(description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": REASON_MAX_CHARS}
    if description:
        schema["description"] = description
    return schema


class JudgeOutcome(StrEnum):
    OK = "ok"
    TIMEOUT = "timeout"  # no reply in time, also after one retry with a smaller budget
    CUT = "cut"  # the reply reached its output budget before the JSON was complete
    INVALID = "invalid"  # not JSON, or JSON that does not match the schema
    UNAVAILABLE = "unavailable"  # the service refused or failed (rate limit, 5xx, auth...)


_BY_ERROR: Final = {
    LLMErrorKind.TIMEOUT: JudgeOutcome.TIMEOUT,
    LLMErrorKind.OUTPUT_CUT: JudgeOutcome.CUT,
    LLMErrorKind.BAD_OUTPUT: JudgeOutcome.INVALID,
}
INVALID_REPLY: Final = "the judge model's reply was not valid."
CUT_REPLY: Final = "the judge model's reply reached its length limit before it was complete."


@dataclass(frozen=True, slots=True)
class JudgeFailed:
    outcome: JudgeOutcome
    reason: str  # safe to show: a fixed text, never the reply
    # the model call's error, when one failed (a caller may retry a 429 later)
    kind: LLMErrorKind | None = None
    retry_after_s: float | None = None


M = TypeVar("M", bound=BaseModel)


async def ask(
    llm: LLM,
    *,
    judge: str,
    messages: Messages,
    schema: dict[str, Any],
    max_tokens: int,
    output: type[M],
) -> M | JudgeFailed:
    """`judge` is the schema's name: it goes to the server and into the log."""
    model = llm.judge_model
    try:
        raw = await llm.complete_json(
            messages=messages, schema_name=judge, schema=schema, model=model, max_tokens=max_tokens
        )
    except LLMError as err:
        outcome = _BY_ERROR.get(err.kind, JudgeOutcome.UNAVAILABLE)
        log.warning("judge %s on model %s failed: %s (%s)", judge, model, outcome, err.kind)
        reason = {JudgeOutcome.INVALID: INVALID_REPLY, JudgeOutcome.CUT: CUT_REPLY}.get(
            outcome, err.message
        )
        return JudgeFailed(outcome, reason, kind=err.kind, retry_after_s=err.retry_after_s)
    try:
        return output.model_validate(raw)
    except ValidationError as err:
        log.warning(
            "judge %s on model %s failed: %s (%d schema errors)",
            judge,
            model,
            JudgeOutcome.INVALID,
            err.error_count(),
        )
        return JudgeFailed(JudgeOutcome.INVALID, INVALID_REPLY)


def unique(names: Sequence[str]) -> list[str]:
    """Each name once (first spelling kept, case ignored), for an enum."""
    seen: set[str] = set()
    out = []
    for name in names:
        key = name.strip().lower()
        if key and key not in seen:
            seen.add(key)
            out.append(name.strip())
    return out
