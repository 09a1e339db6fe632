"""Statistics for repeated samples of one behaviour: how often it passed, whether it always
passes, how large a figure is, and whether a setting moves what the judge perceives. Pure.

Every figure carries its count. A figure from fewer than two samples has no interval, and a
correlation over fewer than three distinct settings is not a correlation ("n/a"): both are
None here rather than a number that looks like knowledge.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from scipy import stats as scipy_stats

Z_95: Final = 1.959963984540054
CONFIDENCE: Final = 0.95
MIN_LEVELS: Final = 3  # distinct settings below which a rank correlation says nothing
# Fieller, Hartley & Pearson (1957): Spearman's z = atanh(ρ) has variance about 1.06 / (n − 3)
SPEARMAN_VARIANCE: Final = 1.06


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"{name} must be non-negative, got {value}")


def _wilson(successes: float, n: float, z: float) -> tuple[float, float]:
    # Accepts fractional counts so that projections ("what if more votes arrive in the same
    # proportion") use exactly the same arithmetic as the observed interval.
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = (z / denom) * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    # At 0 or n successes the bound is exactly 0 or 1 mathematically, but centre - half
    # cancels to a few ulps above zero; pin it so "0 of n" never claims a positive floor.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return (low, high)


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a proportion (95% by default); (0.0, 1.0) when n == 0.

    Wilson rather than the textbook normal interval because counts are small and often
    lopsided, where the normal interval collapses to zero width or leaves [0, 1].
    """
    _check_counts(successes=successes, n=n)
    if successes > n:
        raise ValueError(f"successes ({successes}) cannot exceed n ({n})")
    if z <= 0:
        raise ValueError(f"z must be positive, got {z}")
    return _wilson(successes, n, z)


@dataclass(frozen=True, slots=True)
class Rate:
    """`passed` of `n`, with its Wilson 95% interval when there are two samples or more."""

    passed: int
    n: int
    low: float | None
    high: float | None

    @property
    def value(self) -> float | None:
        return self.passed / self.n if self.n else None


def rate(passed: int, n: int) -> Rate:
    if n < 2:
        return Rate(passed, n, None, None)
    low, high = wilson_interval(passed, n)
    return Rate(passed, n, low, high)


def pass_hat_k(*, passed: int, n: int, k: int) -> float | None:
    """pass^k: the chance that k samples drawn from these n all pass, C(passed, k) / C(n, k)
    (Yao et al. 2024, τ-bench). With k = n it is 1 when every sample passed, else 0. None when
    fewer than k samples were judged."""
    _check_counts(passed=passed, n=n, k=k)
    if passed > n:
        raise ValueError(f"passed ({passed}) cannot exceed n ({n})")
    if k == 0 or n < k:
        return None
    return math.comb(passed, k) / math.comb(n, k)


@dataclass(frozen=True, slots=True)
class Mean:
    value: float
    n: int
    low: float | None
    high: float | None
    sd: float | None


def mean_interval(
    values: Sequence[float], *, lowest: float = -math.inf, highest: float = math.inf
) -> Mean | None:
    """Mean with Student's t 95% interval (clipped to the scale's ends); None for no values, no
    interval for one."""
    n = len(values)
    if n == 0:
        return None
    mean = statistics.fmean(values)
    if n < 2:
        return Mean(mean, n, None, None, None)
    sd = statistics.stdev(values)
    half = float(scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * sd / math.sqrt(n)
    return Mean(mean, n, max(lowest, mean - half), min(highest, mean + half), sd)


@dataclass(frozen=True, slots=True)
class Correlation:
    rho: float
    n: int
    low: float
    high: float


def spearman(x: Sequence[float], y: Sequence[float]) -> Correlation | None:
    """Spearman's ρ (average ranks for ties) with a Fisher-z 95% interval using the variance
    1.06 / (n − 3) of Fieller, Hartley & Pearson (1957). None ("n/a") over fewer than three
    distinct x, four pairs, or a y that never moves."""
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length ({len(x)} and {len(y)})")
    n = len(x)
    if len(set(x)) < MIN_LEVELS or n < 4 or len(set(y)) < 2:
        return None
    rho = float(scipy_stats.spearmanr(x, y).statistic)
    # |ρ| = 1 has an infinite z; the interval then shrinks to the point, as Fisher's z implies
    z = math.atanh(max(-1 + 1e-15, min(1 - 1e-15, rho)))
    half = Z_95 * math.sqrt(SPEARMAN_VARIANCE / (n - 3))
    return Correlation(rho, n, math.tanh(z - half), math.tanh(z + half))


def slope(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Least-squares slope of y on x; None when x does not vary."""
    if len(x) < 2 or len(set(x)) < 2:
        return None
    return float(statistics.linear_regression(x, y).slope)


def is_flaky(outcomes: Sequence[bool | None]) -> bool:
    """A behaviour is flaky when, over repeated samples of the same message, it passed in some
    and failed in others; samples the judge gave no verdict on count for neither."""
    judged = {o for o in outcomes if o is not None}
    return judged == {True, False}


# ---- comparing two runs -------------------------------------------------------------------------


def rate_difference(now: Rate, before: Rate) -> tuple[float, float, float] | None:
    """now − before with Newcombe's (1998, method 10) 95% interval for the difference of two
    independent proportions, from each side's Wilson interval; None when either side has fewer
    than two samples."""
    if now.low is None or before.low is None or now.high is None or before.high is None:
        return None
    p1, p2 = now.passed / now.n, before.passed / before.n
    diff = p1 - p2
    low = diff - math.sqrt((p1 - now.low) ** 2 + (before.high - p2) ** 2)
    high = diff + math.sqrt((now.high - p1) ** 2 + (p2 - before.low) ** 2)
    return diff, low, high


def rates_differ(now: Rate, before: Rate) -> bool | None:
    """Whether Newcombe's (1998, method 10) 95% interval for the difference of two proportions
    excludes zero; None when either side has fewer than two samples."""
    found = rate_difference(now, before)
    if found is None:
        return None
    _, low, high = found
    return low > 0 or high < 0


def means_differ(now: Mean, before: Mean) -> bool | None:
    """Whether Welch's 95% interval for the difference of two means excludes zero; None when
    either side has fewer than two samples."""
    if now.sd is None or before.sd is None:
        return None
    v1, v2 = now.sd**2 / now.n, before.sd**2 / before.n
    diff = now.value - before.value
    if v1 + v2 == 0:
        return diff != 0
    df = (v1 + v2) ** 2 / (v1**2 / (now.n - 1) + v2**2 / (before.n - 1))
    half = float(scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, df)) * math.sqrt(v1 + v2)
    return abs(diff) > half
