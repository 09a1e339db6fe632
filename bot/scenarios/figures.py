"""Figures for a scenario run, per scenario, per message and overall, and the change against an
earlier run. Pure: computed from stored result rows only, with None wherever nothing was
measured. A message asked `repeat` times has one row per sample; its samples are the rows of
the same scenario with the same question."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.domain.results import TestResult
from bot.domain.scenarios import NO_DETECTABLE_CHANGE, Figures
from bot.domain.stats import arrow
from bot.metrics.sampling import (
    Mean,
    Rate,
    is_flaky,
    mean_interval,
    means_differ,
    pass_hat_k,
    rate,
    rates_differ,
)

ALIGNMENT_SCALE = (0.0, 100.0)


def _samples(rows: Iterable[TestResult]) -> dict[tuple[int | None, str], list[TestResult]]:
    groups: dict[tuple[int | None, str], list[TestResult]] = {}
    for r in rows:
        groups.setdefault((r.scenario_id, r.question), []).append(r)
    return groups


def _outcomes(samples: Sequence[TestResult]) -> dict[str, list[bool | None]]:
    """Each expected behaviour's outcome per sample; a sample that failed (model error) did
    not pass any, a verdict the judge did not give is None."""
    names = list(
        dict.fromkeys(str(v["behaviour"]) for r in samples for v in (r.behaviour_results or []))
    )
    by_name: dict[str, list[bool | None]] = {n: [] for n in names}
    for r in samples:
        given = {str(v["behaviour"]): v.get("passed") for v in (r.behaviour_results or [])}
        for n in names:
            if r.error_kind and n not in given:
                by_name[n].append(False)
            else:
                value = given.get(n)
                by_name[n].append(None if value is None else bool(value))
    return by_name


def _pass_k(groups: Iterable[Sequence[TestResult]], k: int) -> float | None:
    """Mean pass^k over (message, behaviour) pairs with at least k judged samples."""
    values = []
    for samples in groups:
        for outcomes in _outcomes(samples).values():
            judged = [o for o in outcomes if o is not None]
            value = pass_hat_k(passed=sum(judged), n=len(judged), k=k)
            if value is not None:
                values.append(value)
    return statistics.fmean(values) if values else None


def _flaky(groups: dict[tuple[int | None, str], list[TestResult]]) -> tuple[str, ...]:
    return tuple(
        f"{question} → {name}"
        for (_, question), samples in groups.items()
        for name, outcomes in _outcomes(samples).items()
        if is_flaky([o for r, o in zip(samples, outcomes, strict=True) if not r.error_kind])
    )


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
    groups = _samples(rows)
    repeat = max((len(g) for g in groups.values()), default=1)
    passed = sum(1 for v in verdicts if v["passed"])
    passing = rate(passed, len(verdicts))
    mean = mean_interval(alignments, lowest=ALIGNMENT_SCALE[0], highest=ALIGNMENT_SCALE[1])
    return Figures(
        name=name,
        messages=len(rows),
        failed=len(rows) - len(ok),
        passed=passed,
        judged=len(verdicts),
        mean_alignment=round(mean.value, 1) if mean else None,
        median_ms=statistics.median(times) if times else None,
        slowest_ms=max(times) if times else None,
        tokens=sum(token_rows) if token_rows else None,
        unjudged=len(expected) - len(verdicts),
        repeat=repeat,
        pass_low=passing.low,
        pass_high=passing.high,
        pass_k=_pass_k(groups.values(), repeat) if repeat > 1 else None,
        aligned=len(alignments),
        alignment_sd=mean.sd if mean else None,
        alignment_low=mean.low if mean else None,
        alignment_high=mean.high if mean else None,
        flaky=_flaky(groups) if repeat > 1 else (),
    )


@dataclass(frozen=True, slots=True)
class MessageFigures:
    """One message over its repeated samples."""

    scenario: str
    question: str
    samples: int
    failed: int
    passing: Rate
    pass_k: float | None
    alignment: Mean | None
    flaky: tuple[str, ...]  # behaviours that passed in some samples and failed in others


def per_message(results: Sequence[TestResult]) -> list[MessageFigures]:
    out = []
    for (_, question), samples in _samples(results).items():
        verdicts = [
            v for r in samples for v in (r.behaviour_results or []) if v.get("passed") is not None
        ]
        alignments = [r.alignment for r in samples if r.alignment is not None]
        f = figures("", samples)
        out.append(
            MessageFigures(
                scenario=samples[0].scenario_name or "",
                question=question,
                samples=len(samples),
                failed=f.failed,
                passing=rate(sum(1 for v in verdicts if v["passed"]), len(verdicts)),
                pass_k=f.pass_k,
                alignment=mean_interval(
                    alignments, lowest=ALIGNMENT_SCALE[0], highest=ALIGNMENT_SCALE[1]
                ),
                flaky=tuple(item.removeprefix(f"{question} → ") for item in f.flaky),
            )
        )
    return out


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


def _mean(f: Figures) -> Mean | None:
    if f.mean_alignment is None:
        return None
    low_n = f.alignment_sd is None
    return Mean(f.mean_alignment, f.aligned, None if low_n else 0.0, None, f.alignment_sd)


def _sampled(now: Figures, before: Figures, key: str) -> str | None:
    mark = arrow(_value(now, key), _value(before, key))
    if mark is None:
        return None
    if key == "pass_rate":
        differ = rates_differ(rate(now.passed, now.judged), rate(before.passed, before.judged))
    else:
        m_now, m_before = _mean(now), _mean(before)
        differ = None if m_now is None or m_before is None else means_differ(m_now, m_before)
    return mark if differ else NO_DETECTABLE_CHANGE


def changes(now: Figures, before: Figures) -> dict[str, str | None]:
    return {
        key: _sampled(now, before, key)
        if key in {"pass_rate", "mean_alignment"}
        else arrow(_value(now, key), _value(before, key))
        for key in COMPARED
    }
