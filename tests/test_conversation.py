from __future__ import annotations

import pytest

from bot.persona.conversation import (
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_PRIMING_TOKENS,
    Turn,
    build_messages,
    estimate_message_tokens,
    estimate_tokens,
)

SYSTEM = "s" * 400  # 100 tokens + overhead


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("a", 1), ("abcd", 1), ("abcde", 2), ("x" * 400, 100), ("héllo wörld", 3)],
)
def test_estimate_tokens_rounds_up(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


def test_message_estimate_adds_overhead() -> None:
    assert estimate_message_tokens("abcd") == 1 + MESSAGE_OVERHEAD_TOKENS


def conversation(n_pairs: int, chars: int = 400) -> list[Turn]:
    turns: list[Turn] = []
    for i in range(n_pairs):
        turns.append(Turn("user", f"q{i}".ljust(chars, ".")))
        turns.append(Turn("assistant", f"a{i}".ljust(chars, ".")))
    turns.append(Turn("user", "last question"))
    return turns


def cost_of(turns: list[Turn]) -> int:
    return (
        estimate_message_tokens(SYSTEM)
        + sum(estimate_message_tokens(t.content) for t in turns)
        + REPLY_PRIMING_TOKENS
    )


def test_everything_fits() -> None:
    turns = conversation(2)
    built = build_messages(
        system_prompt=SYSTEM, turns=turns, context_budget_tokens=10_000, reserve_for_answer=500
    )
    assert built.dropped_turns == 0
    assert built.messages[0] == {"role": "system", "content": SYSTEM}
    assert [m["content"] for m in built.messages[1:]] == [t.content for t in turns]
    assert built.estimated_prompt_tokens == cost_of(turns)
    assert not built.over_budget


# Each history turn costs 104 tokens; system + last question + priming cost 104 + 8 + 3.
@pytest.mark.parametrize(
    ("budget", "dropped", "first_kept"),
    [
        (115 + 4 * 104, 0, "q0"),
        (115 + 3 * 104, 2, "q1"),  # q0 goes, then its orphaned answer a0 goes too
        (115 + 2 * 104, 2, "q1"),
        (115 + 1 * 104, 4, "last question"),
        (115, 4, "last question"),
    ],
)
def test_oldest_turns_dropped_first(budget: int, dropped: int, first_kept: str) -> None:
    turns = conversation(2)
    built = build_messages(
        system_prompt=SYSTEM,
        turns=turns,
        context_budget_tokens=budget + 100,
        reserve_for_answer=100,
    )
    assert built.dropped_turns == dropped
    assert built.messages[0]["role"] == "system"
    assert built.messages[1]["content"].startswith(first_kept)
    assert built.messages[-1] == {"role": "user", "content": "last question"}
    assert len(built.messages) == 1 + len(turns) - dropped
    assert built.estimated_prompt_tokens <= budget
    roles = [m["role"] for m in built.messages[1:]]
    assert roles[0] == "user"


def test_system_prompt_and_last_question_survive_an_impossible_budget() -> None:
    turns = conversation(3)
    built = build_messages(
        system_prompt=SYSTEM, turns=turns, context_budget_tokens=50, reserve_for_answer=40
    )
    assert built.over_budget
    assert built.dropped_turns == 6
    assert built.messages == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "last question"},
    ]


def test_leading_assistant_greeting_is_kept_when_nothing_is_dropped() -> None:
    turns = [Turn("assistant", "Hi, how can I help?"), Turn("user", "Reset my password")]
    built = build_messages(
        system_prompt="sys", turns=turns, context_budget_tokens=1000, reserve_for_answer=100
    )
    assert built.dropped_turns == 0
    assert [m["role"] for m in built.messages] == ["system", "assistant", "user"]


def test_without_a_user_turn_it_refuses() -> None:
    with pytest.raises(ValueError, match="user turn"):
        build_messages(
            system_prompt="sys",
            turns=[Turn("assistant", "hello")],
            context_budget_tokens=1000,
            reserve_for_answer=10,
        )
