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
from bot.scenarios.figures import MessageFigures, overall, per_message, per_scenario


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_pass_rate: float | None
    min_alignment: float | None
    # the gates apply to the 95% interval's lower bound: a run passes only if it would pass
    # with the worst value its samples leave plausible
    strict: bool = False

    def failures(self, total: Figures) -> list[str]:
        """Why the run falls short; a figure that could not be measured cannot meet a bar, and
        a run in which nothing was judged does not pass, gates or none. Strict, a figure
        without an interval (fewer than two samples) cannot meet a bar either."""
        problems = []
        if total.judged == 0 and total.unjudged:
            problems.append(f"no expected behaviour was judged ({total.unjudged} not judged)")
        elif total.judged == 0 and total.mean_alignment is None:
            problems.append("nothing was judged (no behaviour verdict and no alignment)")
        if self.min_pass_rate is not None:
            rate, what = (
                (total.pass_low, "pass rate's lower bound")
                if self.strict
                else (total.pass_rate, "pass rate")
            )
            if rate is None or rate < self.min_pass_rate:
                shown = "n/a" if rate is None else f"{rate:.0%}"
                problems.append(f"{what} {shown} is below {self.min_pass_rate:.0%}")
        if self.min_alignment is not None:
            mean, what = (
                (total.alignment_low, "mean alignment's lower bound")
                if self.strict
                else (total.mean_alignment, "mean alignment")
            )
            if mean is None or mean < self.min_alignment:
                shown = "n/a" if mean is None else f"{mean:.1f}"
                problems.append(f"{what} {shown} is below {self.min_alignment:g}")
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
    if total.repeat > 1:
        lines.append("")
        lines += _sampled_table(results)
    lines.append("")
    for _, f in per_scenario(list(results)):
        lines.append(_figures_line(f))
    lines.append(_figures_line(total))
    lines.append("RESULT: " + ("FAILED: " + "; ".join(problems) if problems else "OK"))
    return "\n".join(lines)


def _interval(low: float | None, high: float | None, fmt: str) -> str:
    # a figure from fewer than two samples has no interval, and shows none
    return "" if low is None or high is None else f" [{fmt.format(low)}–{fmt.format(high)}]"


def _sampled_table(results: Sequence[TestResult]) -> list[str]:
    """Per message over its samples: pass rate with Wilson 95%, pass^k, mean alignment with
    its t interval, and the behaviours that were flaky."""
    rows = [("scenario", "message", "samples", "pass rate", "pass^k", "alignment", "flaky")]
    for m in per_message(results):
        message = m.question if len(m.question) <= 40 else m.question[:39] + "…"
        a, p = m.alignment, m.passing
        rows.append(
            (
                m.scenario,
                message,
                str(m.samples),
                _cell(p.value, "{:.0%}") + _interval(p.low, p.high, "{:.0%}"),
                _cell(m.pass_k, "{:.0%}"),
                "n/a" if a is None else f"{a.value:.0f}" + _interval(a.low, a.high, "{:.0f}"),
                ", ".join(m.flaky) if m.flaky else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]


def _figures_line(f: Figures) -> str:
    if f.repeat > 1:
        return (
            f"{f.name}: {counted(f.messages, 'answer')} ({f.repeat} samples per message), "
            f"{f.failed} failed, {f.passed}/{counted(f.judged, 'behaviour')} passed, pass rate "
            f"{_cell(f.pass_rate, '{:.0%}')}{_interval(f.pass_low, f.pass_high, '{:.0%}')}, "
            f"pass^{f.repeat} {_cell(f.pass_k, '{:.0%}')}, alignment "
            f"{_cell(f.mean_alignment, '{:.1f}')}"
            f"{_interval(f.alignment_low, f.alignment_high, '{:.1f}')}, "
            f"{counted(len(f.flaky), 'flaky behaviour')}, tokens {_cell(f.tokens, '{:,.0f}')}"
        )
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
            "messages": [_message_json(m) for m in per_message(rows)],
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


def _message_json(m: MessageFigures) -> dict[str, Any]:
    a = m.alignment
    return {
        "scenario": m.scenario,
        "message": m.question,
        "samples": m.samples,
        "failed": m.failed,
        "passed": m.passing.passed,
        "judged": m.passing.n,
        "pass_rate": m.passing.value,
        "pass_rate_low": m.passing.low,
        "pass_rate_high": m.passing.high,
        "pass_k": m.pass_k,
        "mean_alignment": None if a is None else a.value,
        "alignment_low": None if a is None else a.low,
        "alignment_high": None if a is None else a.high,
        "flaky": list(m.flaky),
    }


def _properties(suite: ET.Element, f: Figures) -> None:
    """The scenario's figures over its samples, for CI dashboards that show properties."""
    properties = ET.SubElement(suite, "properties")
    values = {
        "samples_per_message": f.repeat,
        "pass_rate": f.pass_rate,
        "pass_rate_low": f.pass_low,
        "pass_rate_high": f.pass_high,
        f"pass^{f.repeat}": f.pass_k,
        "mean_alignment": f.mean_alignment,
        "alignment_low": f.alignment_low,
        "alignment_high": f.alignment_high,
        "flaky": "; ".join(f.flaky),
    }
    for name, value in values.items():
        shown = "n/a" if value is None else (f"{value:.4g}" if isinstance(value, float) else value)
        ET.SubElement(properties, "property", name=name, value=str(shown))


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
        figures = overall(rows)
        if figures.repeat > 1:
            _properties(suite, figures)
        seen: dict[str, int] = {}
        for r in rows:
            seen[r.question] = seen.get(r.question, 0) + 1
            case_name = (
                f"{r.question} [sample {seen[r.question]}]" if figures.repeat > 1 else r.question
            )
            case = ET.SubElement(suite, "testcase", classname=name, name=case_name)
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
