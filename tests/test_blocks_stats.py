"""`/bot stats` Block Kit, table-driven: the formatting of each figure, n/a where nothing was
measured, the arrows against the previous version and the cap on versions shown."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import ids
from bot.blocks.stats import (
    VERSIONS_SHOWN,
    chart_value,
    ms,
    percent,
    period_text,
    signed,
    stats_message,
    times,
)
from bot.metrics.versions import compare
from tests.block_kit_rules import block_problems
from tests.rows import version_stats


@pytest.mark.parametrize(
    ("fn", "value", "shown"),
    [
        (ms, None, "n/a"),
        (ms, 850.0, "850 ms"),
        (ms, 1234.0, "1.23 s"),
        (percent, None, "n/a"),
        (percent, 0.756, "76%"),
        (signed, None, "n/a"),
        (signed, 5.0, "+5.0"),
        (signed, -3.25, "−3.2"),
        (times, 1, "once"),
        (times, 3, "3 times"),
        (period_text, 1, "the last day"),
        (period_text, 30, "the last 30 days"),
    ],
)
def test_formats(fn: Any, value: Any, shown: str) -> None:
    assert fn(value) == shown


def test_chart_value() -> None:
    assert json.loads(chart_value(5, 30)) == {"p": 5, "d": 30}


def _fields(blocks: list[dict[str, Any]], version: int) -> str:
    section = next(
        b for b in blocks if b["type"] == "section" and f"*v{version}*" in b["text"]["text"]
    )
    head: str = section["text"]["text"]
    return head + "\n" + "\n".join(f["text"] for f in section["fields"])


@pytest.mark.parametrize(
    ("older", "newer", "shown"),
    [
        (
            None,
            {},
            [
                "no earlier version used in the period",
                "*Answers*\n7\ntests 4 · follow-ups 1 · scenario 0 · A/B 2",
                "median 850 ms · p95 1.50 s",
                "*First token*\nmedian n/a · p95 n/a",
                "*Alignment*\n82.5/100 (4 judged)",
                "Formality +5.0",
                "Enthusiasm −3.0",
                "Technical depth n/a",
                "*Satisfaction*\n75% 👍 of 4 ratings",
                "*Behaviours* (scenario runs)\nn/a",
                "*A/B record*\n1 won · 0 lost · 1 inconclusive",
                "*Tokens*\n700 (≈100 per answer)",
            ],
        ),
        (
            {"version": 2, "alignment": 70.0, "median_ms": 2000.0},
            {"failed": 1, "cut_off": 2, "judge_unavailable": 1},
            [
                "compared with v2",
                "82.5/100 ▲",
                "median 850 ms ▼",
                "1 failed · 2 cut at the length limit · judge unavailable once",
            ],
        ),
        (
            None,
            {"alignment": None, "aligned": 0, "thumbs_up": 0, "thumbs_down": 0, "tokens": None},
            ["*Alignment*\nn/a", "*Satisfaction*\nn/a", "*Tokens*\nn/a"],
        ),
    ],
)
def test_version_figures(
    older: dict[str, Any] | None, newer: dict[str, Any], shown: list[str]
) -> None:
    rows = [version_stats(**newer)] + ([version_stats(**older)] if older is not None else [])
    text, blocks = stats_message(compare(rows), profile_name="Support", profile_id=5, days=30)
    assert block_problems(blocks, most=50) == []
    used = "2 versions" if older is not None else "1 version"
    assert text == f"Stats of Support over the last 30 days: {used} used."
    figures = _fields(blocks, 3)
    for part in shown:
        assert part in figures
    assert blocks[0]["text"]["text"] == "Stats: Support, the last 30 days"
    assert blocks[-1]["elements"][0]["action_id"] == ids.STATS_CHART
    assert json.loads(blocks[-1]["elements"][0]["value"]) == {"p": 5, "d": 30}


@pytest.mark.parametrize(
    ("versions", "sections", "note"),
    [
        (0, 1, None),
        (3, 3, None),
        (VERSIONS_SHOWN + 5, VERSIONS_SHOWN, "…and 5 older versions not shown (v1–v5)"),
    ],
)
def test_versions_shown(versions: int, sections: int, note: str | None) -> None:
    rows = [version_stats(version=n, version_id=n) for n in range(versions, 0, -1)]
    text, blocks = stats_message(compare(rows), profile_name="Support", profile_id=5, days=7)
    assert block_problems(blocks, most=50) == []
    if not versions:
        assert text.startswith("No answers from *Support* in the last 7 days")
        assert [b["type"] for b in blocks] == ["section"]
        return
    assert sum(1 for b in blocks if b["type"] == "section") == sections
    notes = [b["elements"][0]["text"] for b in blocks[2:] if b["type"] == "context"]
    assert notes == ([note + "; a shorter `--days` narrows the list."] if note else [])
