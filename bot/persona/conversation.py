"""Fit a conversation into the model's context window.

No tokenizer can be downloaded at runtime, so token counts are estimated. The estimate errs
on the high side (rounding up, per-message overhead), because overshooting the context
window costs a failed request while undershooting only drops a little old history.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

# English prose averages about 4 characters per token with OpenAI's BPE tokenizers.
CHARS_PER_TOKEN: Final = 4
# Each chat message costs a few tokens for its role and separators (about 3-4 in OpenAI's
# published counting recipe); 4 keeps the estimate conservative.
MESSAGE_OVERHEAD_TOKENS: Final = 4
# The reply is primed with a few tokens (<|start|>assistant<|message|>).
REPLY_PRIMING_TOKENS: Final = 3

Role = Literal["user", "assistant"]


def estimate_tokens(text: str) -> int:
    """Estimated tokens of a text's content alone (no message overhead)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_message_tokens(content: str) -> int:
    return estimate_tokens(content) + MESSAGE_OVERHEAD_TOKENS


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class BuiltMessages:
    messages: list[dict[str, str]]
    dropped_turns: int
    estimated_prompt_tokens: int
    # True when even the system prompt and the question alone exceed the budget; they are
    # sent anyway, and the server decides.
    over_budget: bool


def build_messages(
    *,
    system_prompt: str,
    turns: Sequence[Turn],
    context_budget_tokens: int,
    reserve_for_answer: int,
) -> BuiltMessages:
    """System prompt + as much recent history as fits + the last user turn.

    Oldest turns are dropped first. An assistant turn left at the start of the history
    without the question it answered is dropped too, so the model never sees a reply to a
    question it cannot read.
    """
    last_user = next((i for i in range(len(turns) - 1, -1, -1) if turns[i].role == "user"), None)
    if last_user is None:
        raise ValueError("build_messages needs at least one user turn")

    budget = context_budget_tokens - reserve_for_answer
    fixed = (
        estimate_message_tokens(system_prompt)
        + estimate_message_tokens(turns[last_user].content)
        + REPLY_PRIMING_TOKENS
    )
    history = [i for i in range(len(turns)) if i != last_user]
    costs = {i: estimate_message_tokens(turns[i].content) for i in history}
    total = fixed + sum(costs.values())

    dropped = 0
    while dropped < len(history) and total > budget:
        total -= costs[history[dropped]]
        dropped += 1
    if dropped:
        while dropped < len(history) and turns[history[dropped]].role == "assistant":
            total -= costs[history[dropped]]
            dropped += 1
    kept = set(history[dropped:]) | {last_user}

    messages = [{"role": "system", "content": system_prompt}]
    messages.extend(
        {"role": turns[i].role, "content": turns[i].content} for i in range(len(turns)) if i in kept
    )
    return BuiltMessages(
        messages=messages,
        dropped_turns=dropped,
        estimated_prompt_tokens=total,
        over_budget=fixed > budget,
    )
