"""Scenario Block Kit, table-driven: the list with each scenario's last run, the form, the
progress message with its Resume button, the figures and comparison lines and one answer's
thread message."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot import ids, limits
from bot.blocks.scenarios import (
    SUMMARY_COLUMNS,
    FormContext,
    RunComparison,
    figures_text,
    item_message,
    progress_message,
    scenario_form,
    scenario_list,
    summary,
    summary_table,
)
from bot.blocks.stats import without_table
from bot.domain.scenarios import Figures, LastRun, Scenario
from tests.block_kit_rules import block_problems, view_problems
from tests.rows import WHEN, result, texts


def scenario(n: int, **changes: Any) -> Scenario:
    row: dict[str, Any] = {
        "id": n,
        "team_id": "T1",
        "name": f"Refund {n}",
        "description": "",
        "messages": ("I want my money back",),
        "behaviours": ("empathetic",),
        "updated_at": WHEN,
    }
    row.update(changes)
    return Scenario(**row)


@pytest.mark.parametrize(
    ("last", "line"),
    [
        (None, "_Last run:_ never run"),
        (LastRun(3, "Support v2", 2, 3, WHEN), "_Last run:_ 2/3 behaviours passed on Support v2"),
        (LastRun(3, "Support v2", 0, 0, WHEN), "_Last run:_ ran on Support v2"),
    ],
)
def test_scenario_list_last_run(last: LastRun | None, line: str) -> None:
    text, blocks = scenario_list([scenario(1)], {} if last is None else {1: last})
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert text == "1 test scenario"
    assert line in blocks[1]["text"]["text"]
    assert "*Refund 1* — _no description_" in blocks[1]["text"]["text"]
    assert blocks[1]["accessory"]["action_id"] == ids.SCENARIO_RUN
    assert blocks[1]["accessory"]["value"] == "1"
    assert blocks[-1]["elements"][0]["action_id"] == ids.SCENARIO_RUN_ALL


@pytest.mark.parametrize(
    ("count", "sections", "more"),
    [(2, 2, None), (60, limits.BLOCKS_PER_MESSAGE - 3, "…and 13 more scenarios")],
)
def test_scenario_list_cap(count: int, sections: int, more: str | None) -> None:
    many = [scenario(n, messages=tuple(f"m{i}" for i in range(7))) for n in range(1, count + 1)]
    _, blocks = scenario_list(many, {})
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert sum(1 for b in blocks if b["type"] == "section") == sections
    assert "• _…and 2 more_" in blocks[1]["text"]["text"]
    contexts = [texts(b) for b in blocks if b["type"] == "context"]
    assert contexts == ([more] if more else [])


@pytest.mark.parametrize(
    ("existing", "title", "initial"),
    [
        (None, "New scenario", {}),
        (
            scenario(4, description="angry", behaviours=("empathetic", "offers a refund")),
            "Edit scenario",
            {
                ids.SCENARIO_NAME: "Refund 4",
                ids.SCENARIO_DESCRIPTION: "angry",
                ids.SCENARIO_MESSAGES: "I want my money back",
                ids.SCENARIO_BEHAVIOURS: "empathetic\noffers a refund",
            },
        ),
    ],
)
def test_scenario_form(existing: Scenario | None, title: str, initial: dict[str, str]) -> None:
    context = FormContext(
        scenario_id=existing.id if existing else None, channel_id="C1", response_url=None
    )
    view = scenario_form(existing, context=context)
    assert view_problems(view) == []
    assert view["callback_id"] == ids.SCENARIO_MODAL
    assert view["title"]["text"] == title
    assert FormContext.load(view["private_metadata"]) == context
    shown = {
        b["block_id"]: b["element"]["initial_value"]
        for b in view["blocks"]
        if "initial_value" in b["element"]
    }
    assert shown == initial


def test_progress_message() -> None:
    text, blocks = progress_message(
        run_id=12, label="Support v3", names=["A", "B"], done=1, total=4
    )
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert text == "Scenario run #12 on *Support v3*: A, B — 1/4 answered…"
    resume, stop = blocks[-1]["elements"]
    assert (resume["action_id"], resume["value"], resume["text"]["text"]) == (
        ids.SCENARIO_RERUN,
        "12",
        "Resume",
    )
    assert (stop["action_id"], stop["value"], stop["text"]["text"]) == (
        ids.SCENARIO_STOP,
        "12",
        "Stop",
    )


FIGURES = Figures(
    name="Refund",
    messages=3,
    failed=1,
    passed=2,
    judged=4,
    mean_alignment=81.4,
    median_ms=1500.0,
    slowest_ms=2600.0,
    tokens=1234,
    unjudged=1,
)
NOTHING = Figures(
    name="Empty",
    messages=1,
    failed=0,
    passed=0,
    judged=0,
    mean_alignment=None,
    median_ms=None,
    slowest_ms=None,
    tokens=None,
)


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        (
            FIGURES,
            "3 messages (1 failed) · 2/4 behaviours passed, 1 not judged · alignment 81 · "
            "median 1.5 s, slowest 2.6 s · 1,234 tokens",
        ),
        (
            NOTHING,
            "1 message · no behaviours judged · alignment n/a · median n/a, slowest n/a · "
            "n/a tokens",
        ),
    ],
)
def test_figures_text(figures: Figures, expected: str) -> None:
    assert figures_text(figures) == expected


@pytest.mark.parametrize(
    ("comparisons", "line"),
    [
        ({}, "_first run of this scenario on this profile_"),
        (
            {
                1: RunComparison(
                    before=NOTHING, version_label="Support v2", run_id=9, arrows={"pass_rate": "▲"}
                )
            },
            "vs run #9 on Support v2: pass rate ▲ (n/a → 50%) · alignment n/a",
        ),
    ],
)
def test_summary(comparisons: dict[int, RunComparison], line: str) -> None:
    text, blocks = summary(
        run_id=12,
        label="Support v3",
        scenarios=[(1, FIGURES)],
        total=FIGURES,
        comparisons=comparisons,
    )
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    assert text == f"Scenario run #12 on Support v3: {figures_text(FIGURES)}"
    assert blocks[0]["text"]["text"] == "Scenario run #12: Support v3"
    assert blocks[1]["type"] == "table"
    assert line in blocks[2]["text"]["text"]
    assert blocks[4]["text"]["text"] == f"*Overall*\n{figures_text(FIGURES)}"
    assert without_table(blocks)[1:] == blocks[2:]


def cells(block: dict[str, Any]) -> list[list[str]]:
    return [[c["text"] for c in row] for row in block["rows"]]


@pytest.mark.parametrize(
    ("scenarios", "rows"),
    [
        (
            [FIGURES, NOTHING],
            [
                list(SUMMARY_COLUMNS),
                ["Refund", "3", "1", "2/4", "50%", "81", "1.5 s", "2.6 s", "1,234"],
                ["Empty", "1", "0", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"],
                ["Overall", "3", "1", "2/4", "50%", "81", "1.5 s", "2.6 s", "1,234"],
            ],
        ),
        (
            [],
            [
                list(SUMMARY_COLUMNS),
                ["Overall", "3", "1", "2/4", "50%", "81", "1.5 s", "2.6 s", "1,234"],
            ],
        ),
    ],
)
def test_summary_table(scenarios: list[Figures], rows: list[list[str]]) -> None:
    block = summary_table(list(enumerate(scenarios)), FIGURES)
    assert block_problems([block], most=1) == []
    assert cells(block) == rows
    # numbers align right, the scenario's name left
    assert [c["align"] for c in block["column_settings"]] == ["left"] + ["right"] * 8


def test_summary_table_keeps_to_slacks_limits() -> None:
    many = [(i, replace(FIGURES, name=f"S{i}")) for i in range(150)]
    block = summary_table(many, FIGURES)
    assert block_problems([block], most=1) == []
    assert len(block["rows"]) == 100  # header, 98 scenarios, overall
    assert cells(block)[-1][0] == "Overall" and cells(block)[-2][0] == "S97"
    assert all(len(row) <= 20 for row in block["rows"])


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        (
            {"scenario_name": "Refund", "alignment": 80.4},
            [
                "*Refund* — _How do I cancel?_",
                "Open Settings, then Billing.",
                "alignment 80/100 · 1.2 s total",
            ],
        ),
        (
            {"error_kind": "timeout", "error": "The model <timed out>.", "answer": ""},
            [":warning: The model &lt;timed out&gt;."],
        ),
        (
            {
                "behaviour_results": [
                    {"behaviour": "empathetic", "passed": True, "score": 90, "reason": "kind"},
                    {"behaviour": "complete answer", "passed": False, "reason": "cut"},
                    {"behaviour": "offers a refund", "passed": None, "reason": "unavailable"},
                ]
            },
            ["✅ empathetic (90): kind\n❌ complete answer: cut\n➖ offers a refund: unavailable"],
        ),
        (
            {"interrupted": True, "knowledge_given": ["F1"], "knowledge_used": []},
            ["· ⚠️ interrupted · knowledge given F1; relied on none"],
        ),
    ],
)
def test_item_message(changes: dict[str, Any], shown: list[str]) -> None:
    text, blocks = item_message(result(**changes))
    assert block_problems(blocks, most=limits.BLOCKS_PER_MESSAGE) == []
    for part in shown:
        assert part in texts(blocks)
    if changes.get("error_kind"):
        assert text == "Failed: How do I cancel?"
    else:
        assert text == "Open Settings, then Billing."
