"""Personality drift over a conversation, per trait. Pure.

The gap at a bot turn is the judge's perceived level minus the profile's set level (signed,
in points of the 0–100 scale). Drift is how that gap moves as the conversation goes on:
- its trend, the least-squares slope of gap on turn number (points per turn), with the
  Student's t 95% interval of the slope, slope ± t(0.975, n−2) · SE (the textbook OLS interval,
  e.g. Montgomery, Peck & Vining, *Introduction to Linear Regression Analysis*, §2.4); "n/a"
  below MIN_TURNS_FOR_TREND judged turns;
- the first turn at which the gap leaves the tolerance band ±TOLERANCE (None: it never did).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats as scipy_stats

from bot.domain.simulation import MIN_TURNS_FOR_TREND as MIN_TURNS_FOR_TREND
from bot.domain.simulation import TOLERANCE as TOLERANCE
from bot.metrics.sampling import CONFIDENCE


@dataclass(frozen=True, slots=True)
class Point:
    turn: int  # the bot's turn, 1, 2, 3...
    gap: float


@dataclass(frozen=True, slots=True)
class TraitDrift:
    trait: str
    target: int
    points: int
    # mean gap per turn (over samples), in turn order: what the chart draws
    gaps: tuple[tuple[int, float], ...]
    slope: float | None
    slope_low: float | None
    slope_high: float | None
    first_outside: int | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["gaps"] = [list(g) for g in self.gaps]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TraitDrift:
        return cls(
            trait=str(data["trait"]),
            target=int(data["target"]),
            points=int(data["points"]),
            gaps=tuple((int(t), float(g)) for t, g in data["gaps"]),
            slope=data.get("slope"),
            slope_low=data.get("slope_low"),
            slope_high=data.get("slope_high"),
            first_outside=data.get("first_outside"),
        )


def trend(points: Sequence[Point]) -> tuple[float, float, float] | None:
    """(slope, low, high); None below MIN_TURNS_FOR_TREND points or over fewer than two
    distinct turns."""
    if len(points) < MIN_TURNS_FOR_TREND or len({p.turn for p in points}) < 2:
        return None
    xs = [float(p.turn) for p in points]
    ys = [p.gap for p in points]
    fit = scipy_stats.linregress(xs, ys)
    slope = float(fit.slope)
    se = float(fit.stderr)
    if math.isnan(se):
        se = 0.0
    half = float(scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, len(points) - 2)) * se
    return slope, slope - half, slope + half


def first_outside(gaps: Sequence[tuple[int, float]], *, tolerance: float = TOLERANCE) -> int | None:
    for turn, gap in gaps:
        if abs(gap) > tolerance:
            return turn
    return None


def trait_drift(trait: str, target: int, points: Sequence[Point]) -> TraitDrift:
    by_turn: dict[int, list[float]] = defaultdict(list)
    for p in points:
        by_turn[p.turn].append(p.gap)
    gaps = tuple((t, statistics.fmean(v)) for t, v in sorted(by_turn.items()))
    fitted = trend(points)
    return TraitDrift(
        trait=trait,
        target=target,
        points=len(points),
        gaps=gaps,
        slope=None if fitted is None else fitted[0],
        slope_low=None if fitted is None else fitted[1],
        slope_high=None if fitted is None else fitted[2],
        first_outside=first_outside(gaps),
    )


def levels_by_turn(
    turns: Sequence[tuple[int, Mapping[str, Any] | None]],
) -> dict[str, tuple[int, list[Point]]]:
    """From each bot turn's stored analysis ({"traits": {name: {target, perceived}}}, or None
    when the judge gave none) to each trait's set level and gap points."""
    out: dict[str, tuple[int, list[Point]]] = {}
    for turn, analysis in turns:
        if not analysis:
            continue
        for name, values in dict(analysis.get("traits", {})).items():
            target = int(values["target"])
            entry = out.setdefault(name, (target, []))
            entry[1].append(Point(turn, float(int(values["perceived"]) - target)))
    return out


def drift(points_by_trait: Mapping[str, tuple[int, Sequence[Point]]]) -> list[TraitDrift]:
    return [trait_drift(name, t, pts) for name, (t, pts) in points_by_trait.items()]


def pooled(conversations: Sequence[Mapping[str, tuple[int, Sequence[Point]]]]) -> list[TraitDrift]:
    """Drift over several samples of one simulation: every sample's points together (the
    crossing turn is read off the mean gap per turn)."""
    merged: dict[str, tuple[int, list[Point]]] = {}
    for conv in conversations:
        for name, (target, pts) in conv.items():
            merged.setdefault(name, (target, []))[1].extend(pts)
    return drift(merged)
