"""The Block Kit of A/B tests over simulated customers, table-driven: what a blind pair and a
transcript show (and never show), how a long transcript is cut, and the side-by-side result."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import ids, limits
from bot.ab.statistics import verdict
from bot.blocks import simulation_ab as blocks
from bot.domain.verdict import AbVerdict, Kappa, SideMetrics
from tests.block_kit_rules import block_problems, view_problems


def lines(n: int, text: str = "hello") -> list[blocks.Line]:
    return [blocks.Line(customer=i % 2 == 0, text=text) for i in range(n)]


@pytest.mark.parametrize(
    ("turns", "label", "shown", "hidden"),
    [
        (lines(4), None, ["Conversation 1", "*Customer*", "*Bot*", "hello"], ["cut", "A:"]),
        (
            lines(2, "x" * 5000),
            None,
            ["2 turns cut at 2,800 characters", "cut to fit a Slack view"],
            ["later turns"],
        ),
        (lines(120), None, ["23 later turns are not shown", "100 blocks"], []),
        (lines(2), "A: Support v1", ["Conversation 1 (A: Support v1)"], []),
        ([blocks.Line(True, "<!channel> help")], None, ["&lt;!channel&gt; help"], ["<!channel>"]),
        ([], None, ["(no turns)"], []),
    ],
)
def test_transcript(
    turns: list[blocks.Line], label: str | None, shown: list[str], hidden: list[str]
) -> None:
    view = blocks.transcript(
        position=0, total=2, name="Charged twice", number="1", lines=turns, label=label
    )
    assert view_problems(view) == []
    text = json.dumps(view, ensure_ascii=False)
    for s in shown:
        assert s in text
    for h in hidden:
        assert h not in text


def test_a_blind_pair_names_no_side_and_carries_no_conversation_id() -> None:
    text, built = blocks.blind_pair(
        message_id=42,
        position=0,
        total=2,
        name="Charged twice · sample 1 of 2",
        turns_1=9,
        turns_2=7,
    )
    assert block_problems(built, most=limits.BLOCKS_PER_MESSAGE) == []
    dumped = json.dumps(built)
    assert "which conversation is better" in text
    assert "Conversation 1: 9 turns" in dumped and "A:" not in dumped and "B:" not in dumped
    values = [
        json.loads(e["value"]) for b in built if b["type"] == "actions" for e in b["elements"]
    ]
    # only the pair's ab_message id and what was clicked
    assert all(set(v) == {"m", "c"} and v["m"] == 42 for v in values)
    actions = {e["action_id"] for b in built if b["type"] == "actions" for e in b["elements"]}
    assert actions == {ids.AB_TRANSCRIPT, *ids.AB_SIM_VOTES}


RATE = {"passed": 2, "n": 2, "value": 1.0, "low": 0.342, "high": 1.0}


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        ({"passed": 0, "n": 0, "value": None, "low": None, "high": None}, "n/a"),
        ({"passed": 1, "n": 1, "value": 1.0, "low": None, "high": None}, "1/1 (100%)"),
        (RATE, "2/2 (100%, 95% CI 34%–100%)"),
    ],
)
def test_rate_text(rate: dict[str, Any], text: str) -> None:
    assert blocks.rate_text(rate) == text


@pytest.mark.parametrize(
    ("difference", "text"),
    [
        (None, "B − A: n/a (fewer than 2 judged on a side)"),
        (
            {"diff": 0.25, "low": -0.2, "high": 0.6},
            "B − A: +25 points (95% CI -20 to +60, Newcombe)",
        ),
    ],
)
def test_difference_text(difference: dict[str, float] | None, text: str) -> None:
    assert blocks.difference_text(difference) == text


def figure(i: int) -> dict[str, Any]:
    return {
        "name": f"Customer {i} " + "x" * 200,
        "goal_a": RATE,
        "goal_b": RATE,
        "goal_difference": {"diff": 0.0, "low": -0.5, "high": 0.5},
        "behaviours": [{"behaviour": "apologises " + "y" * 200, "a": RATE, "b": RATE}] * 5,
        "drift": [{"trait": "empathy", "a": None, "b": None}],
        "alignment_a": 81.25,
        "alignment_b": None,
        "not_counted_a": 0,
        "not_counted_b": 1,
    }


def a_verdict() -> AbVerdict:
    side = SideMetrics(0, 0, None, None, None)
    none = Kappa(None, 0)
    v = verdict(a_wins=1, b_wins=3, ties=0, both_bad=0)
    return AbVerdict(v, v, {}, 0, 0, side, side, none, none)


@pytest.mark.parametrize(("count", "cut"), [(1, False), (40, True)])
def test_the_result_fits_one_message(count: int, cut: bool) -> None:
    text, built = blocks.result_message(
        ab_id=3,
        label_a="Support v1",
        label_b="Support v2",
        v=a_verdict(),
        figures=[figure(i) for i in range(count)],
        seed_note="Seeds: n/a.",
    )
    assert block_problems(built, most=limits.BLOCKS_PER_MESSAGE) == []
    dumped = json.dumps(built, ensure_ascii=False)
    assert len(dumped) < limits.BLOCKS_TEXT_TOTAL + 4000
    assert ("more simulated customers not shown" in dumped) is cut
    assert "Not counted (simulator fault or model error) · A 0 · B 1" in dumped
    assert "Drift Empathy (trend) · A n/a · B n/a" in dumped
    assert "Mean alignment of the bot's turns · A 81.2 · B n/a" in dumped
    assert text.startswith("Result of A/B test #3")
