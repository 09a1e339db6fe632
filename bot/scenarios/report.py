"""Scenario run results for terminals and CI systems: a table, JSON and JUnit XML. Pure."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.blocks.common import counted
from bot.domain.results import TestResult
from bot.domain.scenarios import Figures
from bot.scenarios.figures import overall, per_scenario


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_pass_rate: float | None
    min_alignment: float | None

    def failures(self, total: Figures) -> list[str]:
        """Why the run falls short; a figure that could not be measured cannot meet a bar, and
        a run in which nothing was judged does not pass, gates or none."""
        problems = []
        if total.judged == 0 and total.unjudged:
            problems.append(f"no expected behaviour was judged ({total.unjudged} not judged)")
        elif total.judged == 0 and total.mean_alignment is None:
            problems.append("nothing was judged (no behaviour verdict and no alignment)")
        if self.min_pass_rate is not None:
            rate = total.pass_rate
            if rate is None or rate < self.min_pass_rate:
                shown = "n/a" if rate is None else f"{rate:.0%}"
                problems.append(f"pass rate {shown} is below {self.min_pass_rate:.0%}")
        if self.min_alignment is not None:
            mean = total.mean_alignment
            if mean is None or mean < self.min_alignment:
                shown = "n/a" if mean is None else f"{mean:.1f}"
                problems.append(f"mean alignment {shown} is below {self.min_alignment:g}")
        return problems


def _verdicts(result: TestResult) -> list[dict[str, Any]]:
    return list(result.behaviour_results or [])


NOT_JUDGED = "not judged"


def _status(result: TestResult) -> str:
    """error, fail, not judged (a behaviour without a verdict, or no behaviours and no
    alignment), or pass."""
    verdicts = _verdicts(result)
    if result.error_kind:
        return "error"
    if any(v.get("passed") is False for v in verdicts):
        return "fail"
    if any(v.get("passed") is None for v in verdicts):
        return NOT_JUDGED
    if not verdicts and result.alignment is None:
        return NOT_JUDGED
    return "pass"


def _not_judged_reason(result: TestResult) -> str:
    open_ = [v for v in _verdicts(result) if v.get("passed") is None]
    if not open_:
        return f"not judged: {result.analysis_error or 'no verdict'}"
    reasons = dict.fromkeys(str(v.get("reason", "")).removeprefix("not judged: ") for v in open_)
    names = ", ".join(str(v["behaviour"]) for v in open_)
    return f"not judged ({names}): {'; '.join(reasons)}"


def _verdict_text(v: dict[str, Any]) -> str:
    # a behaviour checked in code ("complete answer") has no judge's score
    score = "" if v.get("score") is None else f" ({v['score']})"
    return f"{v['behaviour']}{score}: {v.get('reason', '')}"


def _cell(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def table(label: str, results: Sequence[TestResult], problems: list[str]) -> str:
    rows = [("scenario", "message", "behaviours", "alignment", "time", "status")]
    for r in results:
        verdicts = _verdicts(r)
        judged = [v for v in verdicts if v.get("passed") is not None]
        passed = sum(1 for v in judged if v["passed"])
        message = r.question if len(r.question) <= 40 else r.question[:39] + "…"
        rows.append(
            (
                r.scenario_name or "",
                message,
                f"{passed}/{len(judged)}" if judged else "n/a",
                _cell(r.alignment, "{:.0f}"),
                _cell(None if r.total_ms is None else r.total_ms / 1000, "{:.1f} s"),
                _status(r),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"Scenario run on {label}"]
    lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    total = overall(list(results))
    lines.append("")
    for _, f in per_scenario(list(results)):
        lines.append(_figures_line(f))
    lines.append(_figures_line(total))
    lines.append("RESULT: " + ("FAILED: " + "; ".join(problems) if problems else "OK"))
    return "\n".join(lines)


def _figures_line(f: Figures) -> str:
    return (
        f"{f.name}: {counted(f.messages, 'message')}, {f.failed} failed, "
        f"{f.passed}/{counted(f.judged, 'behaviour')} passed, "
        f"alignment {_cell(f.mean_alignment, '{:.1f}')}, median "
        f"{_cell(None if f.median_ms is None else f.median_ms / 1000, '{:.1f} s')}, slowest "
        f"{_cell(None if f.slowest_ms is None else f.slowest_ms / 1000, '{:.1f} s')}, "
        f"tokens {_cell(f.tokens, '{:,.0f}')}"
    )


def as_json(run_id: int, label: str, results: Sequence[TestResult], problems: list[str]) -> str:
    rows = list(results)
    return json.dumps(
        {
            "run_id": run_id,
            "profile_version": label,
            "passed": not problems,
            "problems": problems,
            "overall": overall(rows).to_json(),
            "scenarios": [f.to_json() for _, f in per_scenario(rows)],
            "results": [
                {
                    "scenario": r.scenario_name,
                    "message": r.question,
                    "answer": r.answer,
                    "status": _status(r),
                    "behaviours": _verdicts(r),
                    "alignment": r.alignment,
                    "finish_reason": r.finish_reason,
                    "judge_outcomes": r.judge_outcomes,
                    "total_ms": r.total_ms,
                    "ttft_ms": r.ttft_ms,
                    "prompt_tokens": r.prompt_tokens,
                    "completion_tokens": r.completion_tokens,
                    "confidence": r.confidence,
                    "error": r.error,
                }
                for r in rows
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def junit(label: str, results: Sequence[TestResult]) -> str:
    """One test suite per scenario, one test case per message; a failed behaviour is a
    failure, a model error an error and a message not judged is skipped (with why), so CI
    dashboards show which message regressed and never count the unjudged as passed. A time
    that was not measured is left out rather than written as 0."""
    root = ET.Element("testsuites", name=f"romashka scenarios: {label}")
    by_scenario: dict[str, list[TestResult]] = {}
    for r in results:
        by_scenario.setdefault(r.scenario_name or "", []).append(r)
    for name, rows in by_scenario.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(rows)),
            failures=str(sum(1 for r in rows if _status(r) == "fail")),
            errors=str(sum(1 for r in rows if _status(r) == "error")),
            skipped=str(sum(1 for r in rows if _status(r) == NOT_JUDGED)),
        )
        for r in rows:
            case = ET.SubElement(suite, "testcase", classname=name, name=r.question)
            if r.total_ms is not None:
                case.set("time", f"{r.total_ms / 1000:.3f}")
            status = _status(r)
            if status == NOT_JUDGED:
                ET.SubElement(case, "skipped", message=_not_judged_reason(r))
            elif status == "error":
                ET.SubElement(case, "error", message=r.error or "error")
            elif status == "fail":
                failed = [v for v in _verdicts(r) if v.get("passed") is False]
                element = ET.SubElement(
                    case,
                    "failure",
                    message=", ".join(str(v["behaviour"]) for v in failed) + " not shown",
                )
                element.text = "\n".join(_verdict_text(v) for v in failed)
            out = ET.SubElement(case, "system-out")
            out.text = r.answer
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
