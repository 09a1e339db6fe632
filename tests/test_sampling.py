"""Statistics for repeated samples, on inputs whose answers are published."""

from __future__ import annotations

import math
import random

import pytest

from bot.metrics.sampling import (
    is_flaky,
    mean_interval,
    means_differ,
    pass_hat_k,
    rate,
    rate_difference,
    rates_differ,
    slope,
    spearman,
    wilson_interval,
)


def test_wilson_matches_newcombe_1998() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 → 0.2553 to 0.3662
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    # and 0/10 → 0 to 0.2775
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and round(high, 4) == 0.2775


def test_a_rate_from_fewer_than_two_samples_has_no_interval() -> None:
    assert rate(1, 1).low is None and rate(1, 1).high is None
    assert rate(0, 0).value is None
    two = rate(1, 2)
    assert two.low is not None and two.high is not None and two.low < 0.5 < two.high


@pytest.mark.parametrize(
    ("passed", "n", "k", "expected"),
    [
        (3, 5, 2, 0.3),  # C(3,2)/C(5,2) = 3/10
        (5, 5, 5, 1.0),  # every sample passed
        (4, 5, 5, 0.0),  # one failure among five: not all five pass
        (4, 8, 1, 0.5),  # pass^1 is the pass rate
        (2, 3, 4, None),  # fewer samples than k
    ],
)
def test_pass_hat_k_is_taubench_estimator(
    passed: int, n: int, k: int, expected: float | None
) -> None:
    assert pass_hat_k(passed=passed, n=n, k=k) == (
        None if expected is None else pytest.approx(expected)
    )


def test_mean_interval_uses_students_t() -> None:
    # t(0.975, 4) = 2.776 (any t table); sd of 1..5 is √2.5
    m = mean_interval([1, 2, 3, 4, 5])
    assert m is not None and m.value == 3 and m.n == 5
    half = 2.776445 * math.sqrt(2.5) / math.sqrt(5)
    assert m.low == pytest.approx(3 - half, abs=1e-5)
    assert m.high == pytest.approx(3 + half, abs=1e-5)


def test_mean_interval_is_clipped_to_the_scale_and_absent_for_one_sample() -> None:
    m = mean_interval([0, 100, 100], lowest=0, highest=100)
    assert m is not None and m.low == 0 and m.high == 100
    one = mean_interval([70])
    assert one is not None and one.value == 70 and one.low is None and one.high is None
    assert mean_interval([]) is None


def test_spearman_on_the_wikipedia_example() -> None:
    # IQ against hours of TV a week: ρ = −29/165 ≈ −0.1758 (Wikipedia, "Spearman's rank
    # correlation coefficient", example)
    iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110]
    tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17]
    c = spearman(iq, tv)
    assert c is not None and c.n == 10
    assert c.rho == pytest.approx(-29 / 165)
    z, half = math.atanh(-29 / 165), 1.959964 * math.sqrt(1.06 / 7)
    assert c.low == pytest.approx(math.tanh(z - half), abs=1e-5)
    assert c.high == pytest.approx(math.tanh(z + half), abs=1e-5)
    assert c.low < 0 < c.high


def test_spearman_is_na_over_fewer_than_three_levels() -> None:
    assert spearman([0, 0, 100, 100], [10, 20, 80, 90]) is None
    assert spearman([0, 50, 100], [1, 2, 3]) is None  # three pairs: no interval exists
    assert spearman([0, 50, 100, 100], [5, 5, 5, 5]) is None  # nothing moved
    c = spearman([0, 50, 100, 100], [1, 2, 3, 4])
    assert c is not None and c.rho == pytest.approx(0.9486833)


def test_slope() -> None:
    assert slope([0, 25, 50, 75, 100], [10, 20, 30, 40, 50]) == pytest.approx(0.4)
    assert slope([50, 50], [1, 2]) is None


def test_flaky_on_a_seeded_fifty_fifty_behaviour() -> None:
    coin = random.Random(17)
    fifty_fifty = [coin.random() < 0.5 for _ in range(10)]
    assert is_flaky(fifty_fifty)
    assert not is_flaky([True] * 10)
    assert not is_flaky([False] * 10)
    assert not is_flaky([True, None, True])  # not judged is neither pass nor fail
    assert is_flaky([True, None, False])
    # over many seeded 50/50 behaviours sampled 5 times, all but about 2/32 are flaky
    runs = [[coin.random() < 0.5 for _ in range(5)] for _ in range(1000)]
    share = sum(is_flaky(r) for r in runs) / len(runs)
    assert 0.9 < share < 0.97


def test_rates_differ_only_when_newcombe_interval_excludes_zero() -> None:
    assert rates_differ(rate(10, 10), rate(0, 10)) is True
    assert rates_differ(rate(6, 10), rate(5, 10)) is False
    assert rates_differ(rate(1, 1), rate(0, 1)) is None  # one sample each: cannot tell
    # Newcombe (1998) table II example: 56/70 vs 48/80, difference 0.2 with 0.0524 to 0.3339
    assert rates_differ(rate(56, 70), rate(48, 80)) is True


def test_means_differ_by_welch() -> None:
    a, b = mean_interval([80, 82, 81, 79]), mean_interval([60, 61, 59, 62])
    assert a is not None and b is not None and means_differ(a, b) is True
    c, d = mean_interval([70, 90, 60, 80]), mean_interval([75, 65, 85, 70])
    assert c is not None and d is not None and means_differ(c, d) is False
    one = mean_interval([70])
    assert one is not None and means_differ(one, a) is None


@pytest.mark.parametrize(
    ("now", "before", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873, Table II example (a), method 10
        ((56, 70), (48, 80), (0.2, 0.0524, 0.3339)),
        ((1, 1), (3, 4), None),  # a side with fewer than two samples
    ],
)
def test_rate_difference_is_newcombes_interval(
    now: tuple[int, int],
    before: tuple[int, int],
    expected: tuple[float, float, float] | None,
) -> None:
    found = rate_difference(rate(*now), rate(*before))
    if expected is None:
        assert found is None
        return
    assert found == pytest.approx(expected, abs=5e-4)
