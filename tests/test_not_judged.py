"""Unjudged is not passed: a message, a run, a knowledge check or a style figure that nothing
measured is shown as such everywhere (CLI JSON and JUnit, the thread, Details), never as a pass
or a 0. Pure builders, table-driven."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.blocks.answer import details_view, metrics_line
from bot.blocks.scenarios import figures_text, item_message
from bot.domain.results import TestResult
from bot.scenarios.figures import overall
from bot.scenarios.report import Thresholds, as_json, junit, table

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def row(**changes: Any) -> TestResult:
    base = TestResult(
        id=1,
        team_id="T1",
        profile_version_id=1,
        kind="scenario",
        channel_id=None,
        thread_ts=None,
        message_ts=None,
        user_id="U1",
        question="Can I get a refund?",
        answer="Yes, within 30 days.",
        model="m",
        total_ms=1200.0,
        ttft_ms=300.0,
        prompt_tokens=100,
        completion_tokens=20,
        confidence=None,
        proxies=None,
        analysis=None,
        alignment=80.0,
        analysis_error=None,
        interrupted=False,
        error_kind=None,
        error=None,
        dropped_turns=0,
        created_at=NOW,
        run_id=7,
        scenario_id=3,
        scenario_name="Billing",
        position=0,
    )
    return replace(base, **changes)


def verdict(name: str, passed: bool | None, score: int | None = 80, reason: str = "r") -> Any:
    return {"behaviour": name, "score": score, "passed": passed, "reason": reason}


UNJUDGED = [
    verdict("empathetic", None, None, "not judged: The AI service took too long to answer."),
    verdict("polite", None, None, "not judged: The AI service took too long to answer."),
]


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"behaviour_results": [verdict("empathetic", True)]}, "pass"),
        ({"behaviour_results": [verdict("empathetic", True), verdict("polite", False)]}, "fail"),
        ({"behaviour_results": UNJUDGED}, "not judged"),
        ({"behaviour_results": [verdict("empathetic", True), UNJUDGED[1]]}, "not judged"),
        ({"behaviour_results": [verdict("empathetic", False), UNJUDGED[1]]}, "fail"),
        ({"behaviour_results": None}, "pass"),  # no behaviours expected, alignment judged
        ({"behaviour_results": None, "alignment": None}, "not judged"),
        ({"error_kind": "timeout", "error": "slow", "answer": ""}, "error"),
    ],
)
def test_message_status_in_the_cli_json(changes: dict[str, Any], status: str) -> None:
    report = json.loads(as_json(7, "Support v1", [row(**changes)], []))
    assert report["results"][0]["status"] == status


def test_run_with_nothing_judged_is_not_passed_even_without_gates() -> None:
    rows = [row(id=i, behaviour_results=UNJUDGED) for i in range(3)]
    problems = Thresholds(None, None).failures(overall(rows))
    assert problems == ["no expected behaviour was judged (6 not judged)"]
    report = json.loads(as_json(7, "Support v1", rows, problems))
    assert report["passed"] is False
    assert report["overall"]["judged"] == 0 and report["overall"]["unjudged"] == 6
    assert table("Support v1", rows, problems).endswith(
        "RESULT: FAILED: no expected behaviour was judged (6 not judged)"
    )


@pytest.mark.parametrize(
    ("rows", "problems"),
    [
        ([row(behaviour_results=[verdict("polite", True)])], []),
        ([row(behaviour_results=[verdict("polite", True)]), row(behaviour_results=UNJUDGED)], []),
        ([row(behaviour_results=None)], []),  # no behaviours expected; alignment was judged
        (
            [row(behaviour_results=None, alignment=None)],
            ["nothing was judged (no behaviour verdict and no alignment)"],
        ),
        (
            [row(error_kind="timeout", error="slow", alignment=None)],
            ["nothing was judged (no behaviour verdict and no alignment)"],
        ),
    ],
)
def test_what_counts_as_nothing_judged(rows: list[TestResult], problems: list[str]) -> None:
    assert Thresholds(None, None).failures(overall(rows)) == problems


def test_junit_skips_what_was_not_judged_with_the_reason_and_omits_unknown_times() -> None:
    rows = [
        row(id=1, behaviour_results=[verdict("polite", True)]),
        row(id=2, question="Refund late?", behaviour_results=UNJUDGED, total_ms=None),
        row(id=3, question="Cut?", behaviour_results=[verdict("complete answer", False, None)]),
    ]
    root = ET.fromstring(junit("Support v1", rows))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert cases[0].get("time") == "1.200"
    assert cases[0].find("skipped") is None and cases[0].find("failure") is None
    assert cases[1].get("time") is None  # unknown, not "0.000"
    skipped = cases[1].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == (
        "not judged (empathetic, polite): The AI service took too long to answer."
    )
    failure = cases[2].find("failure")
    assert failure is not None and failure.text == "complete answer: r"


def test_summary_counts_the_unjudged() -> None:
    rows = [row(behaviour_results=[verdict("polite", True), *UNJUDGED])]
    assert "1/1 behaviour passed, 2 not judged" in figures_text(overall(rows))
    assert "no behaviours judged" in figures_text(overall([row(behaviour_results=UNJUDGED)]))


@pytest.mark.parametrize(
    ("used", "shown"),
    [(None, "relied on not judged"), ([], "relied on none"), (["P1"], "relied on P1")],
)
def test_thread_says_relied_on_none_only_when_knowledge_use_was_judged(
    used: list[str] | None, shown: str
) -> None:
    _, blocks = item_message(row(knowledge_given=["C", "P1"], knowledge_used=used))
    assert shown in json.dumps(blocks, ensure_ascii=False)


def test_thread_verdict_of_complete_answer_has_no_score() -> None:
    bad = verdict("complete answer", False, None, "cut at the concise style's 150-token limit")
    _, blocks = item_message(row(behaviour_results=[bad]))
    text = json.dumps(blocks, ensure_ascii=False)
    assert "❌ complete answer: cut at the concise style" in text
    assert "None" not in text


@pytest.mark.parametrize(
    ("limit", "note"),
    [
        (150, "✂️ cut at the concise style's 150-token limit"),
        (500, "✂️ cut at the detailed style's 500-token limit"),
        (321, "✂️ cut at the 321-token limit"),
        (None, "✂️ cut at the model server's own length limit"),
    ],
)
def test_cut_answer_is_marked_in_the_thread_footer_and_details(
    limit: int | None, note: str
) -> None:
    cut = row(kind="test", finish_reason="length", token_limit=limit)
    assert note in metrics_line(cut)
    assert note in json.dumps(details_view(cut, label="Support v1"), ensure_ascii=False)
    _, blocks = item_message(cut)
    assert note in json.dumps(blocks, ensure_ascii=False)
    whole = row(kind="test", finish_reason="stop", token_limit=limit)
    assert "✂️" not in metrics_line(whole)


def test_details_show_unmeasured_proxies_as_n_a() -> None:
    proxies = {
        "exclamations_per_sentence": None,
        "contractions_per_100_words": None,
        "mean_sentence_length": None,
        "reading_grade": None,
        "emoji_count": 0.0,
        "question_count": 0.0,
        "word_count": 0.0,
        "sentence_count": 0.0,
    }
    view = json.dumps(details_view(row(answer="", proxies=proxies), label="v1"), ensure_ascii=False)
    for label in ("Reading grade (Flesch–Kincaid)", "Mean sentence length (words)"):
        assert f"{label}: n/a" in view
    assert "Exclamations per sentence: n/a" in view
    assert "Words: 0" in view
