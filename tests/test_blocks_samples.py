"""One thread message for every sample of a scenario message (repeat > 1), table-driven: pass
rates per behaviour, flaky marks, the first failing sample's answer, within Slack's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import limits
from bot.blocks.scenarios import SAMPLE_ANSWER_CHARS, samples_message
from bot.domain.results import TestResult
from tests.block_kit_rules import block_problems
from tests.rows import result


def verdict(name: str, passed: bool | None, reason: str = "why") -> dict[str, Any]:
    return {
        "behaviour": name,
        "score": None if passed is None else 80,
        "passed": passed,
        "reason": reason,
    }


def sample(n: int, *verdicts: dict[str, Any], **changes: Any) -> TestResult:
    row: dict[str, Any] = {
        "id": 100 + n,
        "scenario_name": "Billing",
        "question": "Why was I charged twice?",
        "answer": f"answer of sample {n}",
        "behaviour_results": list(verdicts),
        "alignment": 60.0 + n,
        "position": n,
    }
    return result(**(row | changes))


def shown(samples: list[TestResult]) -> str:
    _, blocks = samples_message(samples)
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    return json.dumps(blocks, ensure_ascii=False)


@pytest.mark.parametrize(
    ("samples", "present", "absent"),
    [
        (
            [sample(i, verdict("polite", True)) for i in range(3)],
            [
                "3 samples",
                "✅ polite: 3/3 passed (100%)",
                "First sample (#1)",
                "answer of sample 0",
                "alignment 60–62/100",
            ],
            ["flaky", "failing"],
        ),
        (
            [
                sample(0, verdict("polite", True)),
                sample(1, verdict("polite", False, "curt")),
                sample(2, verdict("polite", True)),
            ],
            [
                "〰️ polite: 2/3 passed (67%) · *flaky*",
                "First failing sample (#2)",
                "answer of sample 1",
                "❌ polite (80): curt",
            ],
            ["answer of sample 0"],
        ),
        (
            [sample(0, verdict("polite", None)), sample(1, verdict("polite", False))],
            ["❌ polite: 0/1 passed (0%) · 1 not judged", "First failing sample (#2)"],
            ["flaky"],
        ),
        (
            [
                sample(0, error_kind="timeout", error="The AI service took too long.", answer=""),
                sample(1, verdict("polite", True)),
            ],
            [
                ":warning: 1 sample failed without an answer",
                "First failing sample (#1)",
                "took too long",
            ],
            [],
        ),
    ],
)
def test_samples_message(samples: list[TestResult], present: list[str], absent: list[str]) -> None:
    text = shown(samples)
    for piece in present:
        assert piece in text
    for piece in absent:
        assert piece not in text


def test_twenty_long_samples_stay_within_slack_limits() -> None:
    behaviours = [f"behaviour number {k} " + "x" * 80 for k in range(10)]
    samples = [
        sample(i, *(verdict(b, i % 3 != 0, "r" * 400) for b in behaviours), answer="word " * 4000)
        for i in range(20)
    ]
    text, blocks = samples_message(samples)
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert len(blocks) <= 6 and len(text) <= limits.READABLE_MESSAGE_TEXT
    answer_block = json.dumps(blocks[2])
    assert answer_block.count("word") <= SAMPLE_ANSWER_CHARS // 5 + 1
