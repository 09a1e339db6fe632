"""The Block Kit of a calibration sweep's parent, table-driven: running (its text, escaped, and
the Stop naming the sweep), ended (the text alone: the edit replaces the Stop) and stopped (who,
after how many samples, and that no figures follow)."""

from __future__ import annotations

from typing import Any

import pytest

from bot import ids, limits
from bot.blocks.calibration import ended_parent, running_parent, stopped_message
from tests.block_kit_rules import block_problems


def buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (e["action_id"], e["value"], e["text"]["text"])
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def shown(blocks: list[dict[str, Any]]) -> str:
    return " ".join(b["text"]["text"] for b in blocks if b["type"] == "section")


@pytest.mark.parametrize(
    ("blocks", "text", "stop"),
    [
        (
            running_parent(run_id=7, text="Calibrating formality on Support v3: … 4/30 done"),
            "Calibrating formality on Support v3: … 4/30 done",
            [(ids.CALIBRATION_STOP, "7", "Stop")],
        ),
        (
            running_parent(run_id=12, text="Calibrating empathy on <!channel> & co v1…"),
            "Calibrating empathy on &lt;!channel&gt; &amp; co v1…",
            [(ids.CALIBRATION_STOP, "12", "Stop")],
        ),
        (
            ended_parent("Calibrated formality on Support v3: figures and charts in the thread."),
            "Calibrated formality on Support v3: figures and charts in the thread.",
            [],
        ),
        (
            ended_parent(
                "Calibration of empathy on <b> v1 stopped: its profile version was deleted."
            ),
            "Calibration of empathy on &lt;b&gt; v1 stopped: its profile version was deleted.",
            [],
        ),
        (
            running_parent(run_id=3, text="x" * 5000),
            "x" * (limits.SECTION_TEXT - 1) + "…",
            [(ids.CALIBRATION_STOP, "3", "Stop")],
        ),
    ],
)
def test_parent(blocks: list[dict[str, Any]], text: str, stop: list[tuple[str, str, str]]) -> None:
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert shown(blocks) == text
    assert buttons(blocks) == stop


@pytest.mark.parametrize(
    ("label", "traits", "done", "total", "text"),
    [
        (
            "Support v3",
            ("formality",),
            4,
            30,
            "Calibration #9 on *Support v3*: formality — stopped by <@U0001> after 4 of 30 "
            "samples; no figures are posted for a stopped sweep.",
        ),
        (
            "<b>",
            ("technical_depth", "empathy"),
            0,
            60,
            "Calibration #9 on *&lt;b&gt;*: technical depth, empathy — stopped by <@U0001> after "
            "0 of 60 samples; no figures are posted for a stopped sweep.",
        ),
    ],
)
def test_stopped_message(
    label: str, traits: tuple[str, ...], done: int, total: int, text: str
) -> None:
    said, blocks = stopped_message(
        run_id=9, label=label, traits=traits, user_id="U0001", done=done, total=total
    )
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert said == shown(blocks) == text
    assert buttons(blocks) == []  # a stopped sweep is not resumed
