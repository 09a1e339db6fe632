"""What a trait's slider does, from samples answered at a sweep of settings. Pure.

For the swept trait: the level the judge perceived at each setting (mean with its t interval),
the code-measured proxies at each setting, Spearman's ρ between set and perceived level with its
Fisher-z interval, the least-squares slope, **dead ranges** (adjacent settings whose perceived
means Welch's interval cannot tell apart) and **leaks** (other traits whose perceived level
moves with this setting: their ρ's interval excludes zero).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from bot.metrics.sampling import Correlation, Mean, mean_interval, means_differ, slope, spearman

LEVELS: Final = (0, 25, 50, 75, 100)
SCALE: Final = (0.0, 100.0)


@dataclass(frozen=True, slots=True)
class Sample:
    """One answer at one setting: the judge's perceived level per trait and the proxies."""

    setting: int
    perceived: Mapping[str, int]
    proxies: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Level:
    setting: int
    samples: int
    perceived: Mean | None  # None when the judge gave no level at this setting
    proxies: dict[str, float | None]  # mean of each proxy over the samples that have it


@dataclass(frozen=True, slots=True)
class Calibration:
    trait: str
    levels: tuple[Level, ...]
    correlation: Correlation | None  # "n/a" below three distinct settings
    slope: float | None  # perceived points per set point
    dead_ranges: tuple[tuple[int, int], ...]
    leaks: dict[str, Correlation]


def _proxy_means(samples: Sequence[Sample]) -> dict[str, float | None]:
    names = list(dict.fromkeys(n for s in samples for n in s.proxies))
    out: dict[str, float | None] = {}
    for name in names:
        values = [v for s in samples if (v := s.proxies.get(name)) is not None]
        out[name] = statistics.fmean(values) if values else None
    return out


def _merged(pairs: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Adjacent indistinguishable pairs joined into ranges: (0, 25), (25, 50) is 0–50."""
    ranges: list[tuple[int, int]] = []
    for low, high in pairs:
        if ranges and ranges[-1][1] == low:
            ranges[-1] = (ranges[-1][0], high)
        else:
            ranges.append((low, high))
    return tuple(ranges)


def calibrate(trait: str, samples: Sequence[Sample]) -> Calibration:
    settings = sorted({s.setting for s in samples})
    levels = []
    for setting in settings:
        at = [s for s in samples if s.setting == setting]
        values = [float(s.perceived[trait]) for s in at if trait in s.perceived]
        levels.append(
            Level(
                setting=setting,
                samples=len(at),
                perceived=mean_interval(values, lowest=SCALE[0], highest=SCALE[1]),
                proxies=_proxy_means(at),
            )
        )
    judged = [s for s in samples if trait in s.perceived]
    x = [float(s.setting) for s in judged]
    y = [float(s.perceived[trait]) for s in judged]
    dead = _merged(
        [
            (a.setting, b.setting)
            for a, b in itertools.pairwise(levels)
            if a.perceived is not None
            and b.perceived is not None
            and means_differ(a.perceived, b.perceived) is False
        ]
    )
    others = sorted({t for s in samples for t in s.perceived} - {trait})
    leaks: dict[str, Correlation] = {}
    for other in others:
        pairs = [
            (float(s.setting), float(s.perceived[other])) for s in samples if other in s.perceived
        ]
        c = spearman([p[0] for p in pairs], [p[1] for p in pairs])
        if c is not None and (c.low > 0 or c.high < 0):
            leaks[other] = c
    return Calibration(
        trait=trait,
        levels=tuple(levels),
        correlation=spearman(x, y),
        slope=slope(x, y),
        dead_ranges=dead,
        leaks=leaks,
    )


def _interval(m: Mean | None) -> str:
    if m is None:
        return "n/a"
    if m.low is None or m.high is None:
        return f"{m.value:.0f} (1 sample, no interval)"
    return f"{m.value:.0f} [{m.low:.0f}–{m.high:.0f}]"


def summary_lines(c: Calibration) -> list[str]:
    """Plain lines for a terminal (and, escaped, for Slack)."""
    name = c.trait.replace("_", " ")
    lines = [f"{name}: set → perceived (mean [95% interval], n)"]
    for lv in c.levels:
        proxies = ", ".join(
            f"{k.replace('_', ' ')} {'n/a' if v is None else f'{v:.1f}'}"
            for k, v in lv.proxies.items()
        )
        lines.append(f"  {lv.setting:>3} → {_interval(lv.perceived)}, n={lv.samples}; {proxies}")
    rho = c.correlation
    lines.append(
        "Spearman ρ "
        + (
            "n/a (fewer than 3 settings)"
            if rho is None
            else f"{rho.rho:.2f} [{rho.low:.2f}, {rho.high:.2f}], n={rho.n}"
        )
        + ", slope "
        + ("n/a" if c.slope is None else f"{c.slope:.2f} perceived points per set point")
    )
    lines.append(
        "dead ranges: "
        + (", ".join(f"{a}–{b}" for a, b in c.dead_ranges) if c.dead_ranges else "none found")
    )
    lines.append(
        "leaks: "
        + (
            ", ".join(
                f"{t.replace('_', ' ')} ρ {x.rho:.2f} [{x.low:.2f}, {x.high:.2f}]"
                for t, x in c.leaks.items()
            )
            if c.leaks
            else "none found"
        )
    )
    return lines


def to_json(c: Calibration) -> dict[str, Any]:
    return asdict(c)
