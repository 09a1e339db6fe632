"""The answer's Block Kit, table-driven: the metrics line, the footer's buttons, the knowledge
lines and the Details view, each for the states an answer can be in."""

from __future__ import annotations

from typing import Any

import pytest

from bot import ids
from bot.blocks.answer import details_view, footer, knowledge_lines, metrics_line, seconds
from bot.domain.knowledge import KnowledgeItem
from bot.domain.results import FeedbackTally
from tests.block_kit_rules import view_problems
from tests.rows import result

ANALYSIS: dict[str, Any] = {
    "version": 1,
    "judge_model": "judge-x",
    "alignment": 80.0,
    "traits": {
        "formality": {"target": 50, "perceived": 70, "difference": 20, "reason": "stiff"},
        "enthusiasm": {"target": 50, "perceived": 45, "difference": -5, "reason": "calm"},
    },
    "suggestions": ["Relax the tone."],
    "knowledge_used": [],
}
FAQ = KnowledgeItem(kind="faq", ref="F1", body="From Settings.", question="How to cancel?")


@pytest.mark.parametrize(("ms", "shown"), [(None, "n/a"), (1234.0, "1.2 s"), (80.0, "0.1 s")])
def test_seconds(ms: float | None, shown: str) -> None:
    assert seconds(ms) == shown


@pytest.mark.parametrize(
    ("changes", "shown", "first"),
    [
        (
            {},
            [
                "⏱ 1.2 s total, first token 0.3 s",
                "120 in / 30 out tokens",
                "model small-model",
                "confidence 80%",
                "alignment: analysing…",
            ],
            "⏱",
        ),
        ({"prompt_tokens": None, "confidence": None}, ["tokens n/a", "confidence n/a"], "⏱"),
        ({"analysis_error": "judge down"}, ["alignment n/a (analysis unavailable)"], "⏱"),
        (
            {"analysis": ANALYSIS},
            ["alignment *80/100* (largest gap: formality, target 50, came across as 70)"],
            "⏱",
        ),
        ({"interrupted": True}, ["⚠️ interrupted"], "⚠️ interrupted"),
        (
            {"finish_reason": "length", "token_limit": 150},
            ["✂️ cut at the concise style's 150-token limit"],
            "✂️",
        ),
        ({"dropped_turns": 2}, ["2 oldest turns left out to fit the context"], "⏱"),
        ({"model": "<!here>"}, ["model &lt;!here&gt;"], "⏱"),
    ],
)
def test_metrics_line(changes: dict[str, Any], shown: list[str], first: str) -> None:
    line = metrics_line(result(ttft_ms=300.0, **changes))
    for part in shown:
        assert part in line
    assert line.startswith(first)
    assert "<!here>" not in line


@pytest.mark.parametrize(
    ("tally", "up", "down"),
    [(FeedbackTally(0, 0), "👍", "👎"), (FeedbackTally(2, 1), "👍 2", "👎 1")],
)
def test_footer_buttons(tally: FeedbackTally, up: str, down: str) -> None:
    text, blocks = footer(result(), tally)
    assert text == metrics_line(result())
    assert [b["type"] for b in blocks] == ["context", "actions"]
    buttons = blocks[1]["elements"]
    assert [b["action_id"] for b in buttons] == [
        ids.ANSWER_DETAILS,
        ids.ANSWER_UP,
        ids.ANSWER_DOWN,
        ids.ANSWER_SAVE_SCENARIO,
    ]
    assert [b["text"]["text"] for b in buttons] == ["Details", up, down, "Save as scenario"]
    assert {b["value"] for b in buttons} == {"41"}


@pytest.mark.parametrize(
    ("given", "used", "expected"),
    [
        (None, None, None),
        (["F1"], None, "*Knowledge given to the model:* `F1`\n*Relied on:* not judged"),
        (["F1"], [], "*Knowledge given to the model:* `F1`\n*Relied on:* none"),
        (
            ["F1", "P2"],
            ["F1", "P2"],
            "*Knowledge given to the model:* `F1`, `P2`\n"
            "*Relied on:* • `F1` Q: How to cancel? / A: From Settings.\n• `P2`",
        ),
    ],
)
def test_knowledge_lines(given: list[str] | None, used: list[str] | None, expected: str) -> None:
    row = result(knowledge_given=given, knowledge_used=used)
    assert knowledge_lines(row, [FAQ]) == expected


@pytest.mark.parametrize(
    ("changes", "types", "texts"),
    [
        (
            {},
            ["section", "divider", "section"],
            ["*Support v3*", "The analysis is still running; open Details again soon."],
        ),
        (
            {"analysis_error": "The judge <timed out>."},
            ["section", "divider", "section"],
            ["The judge &lt;timed out&gt;."],
        ),
        (
            {"analysis": ANALYSIS},
            ["section", "divider", "header", "section", "section", "section", "context"],
            [
                "Personality alignment 80.0/100",
                "*Formality*: target 50, came across as 70 (+20)\n_stiff_",
                "*Enthusiasm*: target 50, came across as 45 (-5)",
                "*Suggestions*\n• Relax the tone.",
                "judged by judge-x",
            ],
        ),
        (
            {"proxies": {"word_count": 12.0, "emoji_count": None}, "knowledge_given": ["F1"]},
            ["section", "divider", "section", "divider", "section", "divider", "section"],
            ["*Relied on:* not judged", "*Style measured in the text*\nEmoji: n/a\nWords: 12"],
        ),
    ],
)
def test_details_view(changes: dict[str, Any], types: list[str], texts: list[str]) -> None:
    view = details_view(result(**changes), label="Support v3", knowledge=[FAQ])
    assert view_problems(view) == []
    assert view["callback_id"] == ids.DETAILS_MODAL
    assert [b["type"] for b in view["blocks"]] == types
    shown = "\n".join(
        b["text"]["text"] if "text" in b else b.get("elements", [{}])[0].get("text", "")
        for b in view["blocks"]
        if b["type"] != "divider"
    )
    for text in texts:
        assert text in shown


@pytest.mark.parametrize(
    ("tally", "tail"),
    [(FeedbackTally(0, 0), None), (FeedbackTally(2, 1), " · 👍 2 · 👎 1")],
)
def test_footer_native_feedback(tally: FeedbackTally, tail: str | None) -> None:
    text, blocks = footer(result(), tally, native=True)
    assert text == metrics_line(result())
    assert [b["type"] for b in blocks] == ["context", "actions", "context_actions"]
    line = blocks[0]["elements"][0]["text"]
    assert line == metrics_line(result()) + (tail or "")
    assert [b["action_id"] for b in blocks[1]["elements"]] == [
        ids.ANSWER_DETAILS,
        ids.ANSWER_SAVE_SCENARIO,
    ]
    assert {b["value"] for b in blocks[1]["elements"]} == {"41"}
    [element] = blocks[2]["elements"]
    assert element["type"] == "feedback_buttons" and element["action_id"] == ids.ANSWER_FEEDBACK
    assert element["positive_button"]["value"] == "41:up"
    assert element["negative_button"]["value"] == "41:down"
