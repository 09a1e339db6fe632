"""Figures for a scenario run, per scenario and overall, and the change against an earlier run.
Pure: computed from stored result rows only, with None wherever nothing was measured."""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from bot.domain.results import TestResult
from bot.domain.scenarios import Figures
from bot.domain.stats import arrow


def figures(name: str, results: Iterable[TestResult]) -> Figures:
    rows = list(results)
    ok = [r for r in rows if not r.error_kind]
    expected = [v for r in rows for v in (r.behaviour_results or [])]
    verdicts = [v for v in expected if v.get("passed") is not None]
    alignments = [r.alignment for r in rows if r.alignment is not None]
    times = [r.total_ms for r in ok if r.total_ms is not None]
    token_rows = [
        r.prompt_tokens + r.completion_tokens
        for r in ok
        if r.prompt_tokens is not None and r.completion_tokens is not None
    ]
    return Figures(
        name=name,
        messages=len(rows),
        failed=len(rows) - len(ok),
        passed=sum(1 for v in verdicts if v["passed"]),
        judged=len(verdicts),
        mean_alignment=round(statistics.fmean(alignments), 1) if alignments else None,
        median_ms=statistics.median(times) if times else None,
        slowest_ms=max(times) if times else None,
        tokens=sum(token_rows) if token_rows else None,
        unjudged=len(expected) - len(verdicts),
    )


def per_scenario(results: list[TestResult]) -> list[tuple[int, Figures]]:
    """(scenario id, figures) in the order the scenarios first appear."""
    order: dict[int, list[TestResult]] = {}
    names: dict[int, str] = {}
    for r in results:
        if r.scenario_id is None:
            continue
        order.setdefault(r.scenario_id, []).append(r)
        names[r.scenario_id] = r.scenario_name or str(r.scenario_id)
    return [(sid, figures(names[sid], rows)) for sid, rows in order.items()]


def overall(results: list[TestResult]) -> Figures:
    return figures("Overall", results)


# ---- comparison ---------------------------------------------------------------------------------

# For each compared figure: whether a higher value is better (arrows show direction of change;
# the label says whether that is good).
COMPARED: dict[str, bool] = {
    "pass_rate": True,
    "mean_alignment": True,
    "median_ms": False,
    "slowest_ms": False,
    "tokens": False,
}


def _value(f: Figures, key: str) -> float | None:
    value = getattr(f, key)
    return None if value is None else float(value)


def changes(now: Figures, before: Figures) -> dict[str, str | None]:
    return {key: arrow(_value(now, key), _value(before, key)) for key in COMPARED}
