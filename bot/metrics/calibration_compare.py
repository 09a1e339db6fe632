"""A calibration against the last one of the same profile, trait and scenario. Pure.

A change is called *detectable* only when its interval allows: ρ by the difference of the two
Fisher z values (each with variance 1.06 / (n − 3), as the intervals themselves), a setting's
perceived level by Welch's interval (`means_differ`). Dead ranges and leaks are compared as
found, since each was already found by an interval; the slope has no interval and is only
shown.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.metrics.calibration import Calibration, Level
from bot.metrics.sampling import SPEARMAN_VARIANCE, Z_95, Correlation, Mean, means_differ


def _mean(raw: Mapping[str, Any] | None) -> Mean | None:
    if raw is None:
        return None
    return Mean(
        value=float(raw["value"]),
        n=int(raw["n"]),
        low=None if raw.get("low") is None else float(raw["low"]),
        high=None if raw.get("high") is None else float(raw["high"]),
        sd=None if raw.get("sd") is None else float(raw["sd"]),
    )


def _correlation(raw: Mapping[str, Any] | None) -> Correlation | None:
    if raw is None:
        return None
    return Correlation(
        rho=float(raw["rho"]), n=int(raw["n"]), low=float(raw["low"]), high=float(raw["high"])
    )


def from_json(raw: Mapping[str, Any]) -> Calibration:
    """A stored `to_json(calibration)` back into a Calibration."""
    return Calibration(
        trait=str(raw["trait"]),
        levels=tuple(
            Level(
                setting=int(lv["setting"]),
                samples=int(lv["samples"]),
                perceived=_mean(lv.get("perceived")),
                proxies={str(k): v for k, v in (lv.get("proxies") or {}).items()},
            )
            for lv in raw["levels"]
        ),
        correlation=_correlation(raw.get("correlation")),
        slope=None if raw.get("slope") is None else float(raw["slope"]),
        dead_ranges=tuple((int(a), int(b)) for a, b in raw.get("dead_ranges") or ()),
        leaks={str(t): c for t, v in (raw.get("leaks") or {}).items() if (c := _correlation(v))},
    )


def correlations_differ(now: Correlation, before: Correlation) -> bool:
    """Whether the 95% interval of the difference of the two Fisher z values excludes zero."""
    if now.n <= 3 or before.n <= 3:
        return False

    def z(r: float) -> float:
        return math.atanh(max(-1 + 1e-15, min(1 - 1e-15, r)))

    se = math.sqrt(SPEARMAN_VARIANCE / (now.n - 3) + SPEARMAN_VARIANCE / (before.n - 3))
    return abs(z(now.rho) - z(before.rho)) > Z_95 * se


@dataclass(frozen=True, slots=True)
class Change:
    rho: tuple[float | None, float | None]
    rho_detectable: bool | None  # None: one side has no ρ
    slope: tuple[float | None, float | None]
    dead_gone: tuple[tuple[int, int], ...]
    dead_new: tuple[tuple[int, int], ...]
    leaks_gone: tuple[str, ...]
    leaks_new: tuple[str, ...]
    moved: tuple[int, ...]  # settings whose perceived mean changed detectably
    same_inputs: bool


def _pairs(ranges: tuple[tuple[int, int], ...], settings: list[int]) -> set[tuple[int, int]]:
    """Dead ranges as the adjacent setting pairs they cover, so 0–50 and 0–25 compare."""
    out: set[tuple[int, int]] = set()
    for low, high in ranges:
        inside = [s for s in settings if low <= s <= high]
        out |= set(itertools.pairwise(inside))
    return out


def _merge(pairs: set[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(pairs):
        if merged and merged[-1][1] == low:
            merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return tuple(merged)


def compare(now: Calibration, before: Calibration, *, same_inputs: bool) -> Change:
    settings = sorted({lv.setting for lv in now.levels} | {lv.setting for lv in before.levels})
    dead_now, dead_before = _pairs(now.dead_ranges, settings), _pairs(before.dead_ranges, settings)
    earlier = {lv.setting: lv.perceived for lv in before.levels}
    moved = tuple(
        lv.setting
        for lv in now.levels
        if lv.perceived is not None
        and (old := earlier.get(lv.setting)) is not None
        and means_differ(lv.perceived, old) is True
    )
    rn, rb = now.correlation, before.correlation
    return Change(
        rho=(None if rb is None else rb.rho, None if rn is None else rn.rho),
        rho_detectable=None if rn is None or rb is None else correlations_differ(rn, rb),
        slope=(before.slope, now.slope),
        dead_gone=_merge(dead_before - dead_now),
        dead_new=_merge(dead_now - dead_before),
        leaks_gone=tuple(sorted(set(before.leaks) - set(now.leaks))),
        leaks_new=tuple(sorted(set(now.leaks) - set(before.leaks))),
        moved=moved,
        same_inputs=same_inputs,
    )


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _ranges(r: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(f"{a}–{b}" for a, b in r)


def change_lines(c: Change, *, before_label: str) -> list[str]:
    """Plain lines (a terminal; escaped for Slack) saying what changed since `before_label`."""
    verdict = {
        None: "no test (ρ n/a on one side)",
        True: "a detectable change (the Fisher z interval of the difference excludes 0)",
        False: "within noise (the intervals cannot tell them apart)",
    }[c.rho_detectable]
    lines = [
        f"Against the last calibration ({before_label}"
        + ("" if c.same_inputs else "; the prompt inputs changed since")
        + "):",
        f"  ρ {_num(c.rho[0])} → {_num(c.rho[1])}: {verdict}",
        f"  slope {_num(c.slope[0])} → {_num(c.slope[1])} (no interval: shown, not tested)",
    ]
    dead = []
    if c.dead_gone:
        dead.append(f"gone {_ranges(c.dead_gone)}")
    if c.dead_new:
        dead.append(f"new {_ranges(c.dead_new)}")
    lines.append("  dead ranges: " + ("; ".join(dead) if dead else "as before"))
    leaks = []
    if c.leaks_gone:
        leaks.append("gone " + ", ".join(t.replace("_", " ") for t in c.leaks_gone))
    if c.leaks_new:
        leaks.append("new " + ", ".join(t.replace("_", " ") for t in c.leaks_new))
    lines.append("  leaks: " + ("; ".join(leaks) if leaks else "as before"))
    lines.append(
        "  perceived level moved detectably (Welch) at "
        + (", ".join(str(s) for s in c.moved) if c.moved else "no setting")
    )
    return lines


def to_json(c: Change) -> dict[str, Any]:
    return {
        "rho": list(c.rho),
        "rho_detectable": c.rho_detectable,
        "slope": list(c.slope),
        "dead_ranges_gone": [list(r) for r in c.dead_gone],
        "dead_ranges_new": [list(r) for r in c.dead_new],
        "leaks_gone": list(c.leaks_gone),
        "leaks_new": list(c.leaks_new),
        "moved_at": list(c.moved),
        "same_inputs": c.same_inputs,
    }
