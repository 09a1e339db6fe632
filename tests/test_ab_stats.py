from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import pytest

from bot.ab_stats import (
    A_PREFERRED,
    B_PREFERRED,
    EVENLY_SPLIT,
    NEARLY_EVENLY_SPLIT,
    NO_DECISIVE_VOTES,
    Comparison,
    bootstrap_intervals,
    bradley_terry,
    leaderboard,
    per_message_majority,
    per_vote_counts,
    prob_b_better,
    projected_interval,
    sign_test_p,
    verdict,
    votes_needed,
    wilson_interval,
)

Z = 1.959963984540054
RECOMMENDATION = re.compile(
    r"^(B is preferred|A is preferred"
    r"|Not enough votes to tell: about [1-9][0-9]* more decisive votes needed"
    r"|Not enough votes to tell: no decisive votes yet"
    r"|Not enough votes to tell: the votes are (nearly )?evenly split)$"
)


def _excludes_half(interval: tuple[float, float]) -> bool:
    return interval[0] > 0.5 or interval[1] < 0.5


# --- Wilson interval --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        (15, 20, (0.531, 0.888)),
        (0, 0, (0.0, 1.0)),
        # All-or-nothing has a closed form: the open end is n / (n + z^2) from the boundary.
        (10, 10, (10 / (10 + Z * Z), 1.0)),
        (0, 10, (0.0, Z * Z / (10 + Z * Z))),
        (5, 10, (0.2366, 0.7634)),
    ],
)
def test_wilson_interval_known_values(
    successes: int, n: int, expected: tuple[float, float]
) -> None:
    low, high = wilson_interval(successes, n)
    assert low == pytest.approx(expected[0], abs=1e-3)
    assert high == pytest.approx(expected[1], abs=1e-3)


def test_wilson_interval_is_mirror_symmetric() -> None:
    for n in range(1, 30):
        for k in range(n + 1):
            low, high = wilson_interval(k, n)
            mirror_low, mirror_high = wilson_interval(n - k, n)
            assert low == pytest.approx(1 - mirror_high, abs=1e-12)
            assert high == pytest.approx(1 - mirror_low, abs=1e-12)
            assert 0.0 <= low <= k / n <= high <= 1.0


@pytest.mark.parametrize(("successes", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_interval_rejects_impossible_counts(successes: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


# --- Sign test --------------------------------------------------------------------------------


def _exact_two_sided(k: int, n: int) -> float:
    # Independent oracle: for p = 0.5 the two-sided p-value doubles the smaller tail.
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / (1 << n)
    return min(1.0, 2 * tail)


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        (5, 5, 0.0625),
        (0, 5, 0.0625),
        (0, 0, 1.0),
        (1, 2, 1.0),
        (15, 20, 0.04138946533203125),
        (10, 20, 1.0),
    ],
)
def test_sign_test_known_values(successes: int, n: int, expected: float) -> None:
    assert sign_test_p(successes, n) == pytest.approx(expected, rel=1e-9)


def test_sign_test_is_symmetric_and_exact() -> None:
    for n in range(0, 25):
        for k in range(n + 1):
            p = sign_test_p(k, n)
            assert p == pytest.approx(sign_test_p(n - k, n), rel=1e-12)
            assert p == pytest.approx(_exact_two_sided(k, n), rel=1e-9)


# --- Bayesian probability ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("b_wins", "a_wins", "expected"),
    [
        (0, 0, 0.5),
        (3, 3, 0.5),
        (5, 0, 1 - 0.5**6),
        (0, 5, 0.5**6),
        (1, 0, 0.75),
    ],
)
def test_prob_b_better_known_values(b_wins: int, a_wins: int, expected: float) -> None:
    assert prob_b_better(b_wins, a_wins) == pytest.approx(expected, abs=1e-12)


def test_prob_b_better_is_complementary_and_monotone() -> None:
    for b in range(12):
        for a in range(12):
            assert prob_b_better(b, a) + prob_b_better(a, b) == pytest.approx(1.0, abs=1e-12)
            assert prob_b_better(b + 1, a) > prob_b_better(b, a)


# --- Votes needed -----------------------------------------------------------------------------


def test_projected_interval_matches_wilson_on_whole_votes() -> None:
    assert projected_interval(12, 8, 0) == wilson_interval(12, 20)
    # 3:1 stays 3:1 when 4 more votes split 3 to 1.
    assert projected_interval(3, 1, 4) == pytest.approx(wilson_interval(6, 8), abs=1e-12)
    assert projected_interval(0, 0, 10) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("b_wins", "a_wins"),
    [(1, 0), (3, 0), (0, 3), (3, 1), (1, 3), (12, 8), (8, 12), (7, 3), (2, 5), (11, 9)],
)
def test_votes_needed_is_the_first_count_that_settles_it(b_wins: int, a_wins: int) -> None:
    needed = votes_needed(b_wins, a_wins)
    assert isinstance(needed, int)
    assert needed > 0
    assert _excludes_half(projected_interval(b_wins, a_wins, needed))
    assert not _excludes_half(projected_interval(b_wins, a_wins, needed - 1))
    # Oracle: Wilson inverts the score test, so with share p the interval excludes 0.5 exactly
    # when the total count exceeds z^2 / (4 (p - 0.5)^2).
    n = a_wins + b_wins
    threshold = Z * Z / (4 * (b_wins / n - 0.5) ** 2)
    assert n + needed - 1 <= threshold < n + needed


@pytest.mark.parametrize(("b_wins", "extra"), [(1, 3), (3, 1)])
def test_votes_needed_with_unanimous_votes_uses_whole_counts(b_wins: int, extra: int) -> None:
    # A unanimous share projects to whole votes, so the public interval can check it directly.
    assert votes_needed(b_wins, 0) == extra
    assert _excludes_half(wilson_interval(b_wins + extra, b_wins + extra))
    assert not _excludes_half(wilson_interval(b_wins + extra - 1, b_wins + extra - 1))


@pytest.mark.parametrize(
    ("b_wins", "a_wins", "max_extra", "expected"),
    [
        (0, 0, 10_000, None),
        (5, 5, 10_000, None),
        (5001, 5000, 10_000, None),
        (12, 8, 50, None),
        (12, 8, 77, 77),
        (15, 5, 10_000, 0),
        (5, 15, 10_000, 0),
    ],
)
def test_votes_needed_edge_cases(
    b_wins: int, a_wins: int, max_extra: int, expected: int | None
) -> None:
    assert votes_needed(b_wins, a_wins, max_extra=max_extra) == expected


# --- Verdict ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a_wins", "b_wins", "expected"),
    [
        (2, 18, B_PREFERRED),
        (5, 15, B_PREFERRED),
        (18, 2, A_PREFERRED),
        (15, 5, A_PREFERRED),
        (8, 12, "Not enough votes to tell: about 77 more decisive votes needed"),
        (12, 8, "Not enough votes to tell: about 77 more decisive votes needed"),
        (0, 1, "Not enough votes to tell: about 3 more decisive votes needed"),
        (0, 0, NO_DECISIVE_VOTES),
        (5, 5, EVENLY_SPLIT),
        (5000, 5001, NEARLY_EVENLY_SPLIT),
    ],
)
def test_verdict_recommendation(a_wins: int, b_wins: int, expected: str) -> None:
    result = verdict(a_wins=a_wins, b_wins=b_wins, ties=3, both_bad=1)
    assert result.recommendation == expected
    assert RECOMMENDATION.match(result.recommendation)


def test_verdict_carries_ties_and_both_bad_without_mixing_them_in() -> None:
    plain = verdict(a_wins=5, b_wins=15, ties=0, both_bad=0)
    noisy = verdict(a_wins=5, b_wins=15, ties=40, both_bad=30)
    assert (noisy.ties, noisy.both_bad) == (40, 30)
    assert noisy.decisive == 20
    assert noisy.b_share == pytest.approx(0.75)
    assert (noisy.wilson_low, noisy.wilson_high) == (plain.wilson_low, plain.wilson_high)
    assert noisy.wilson_low == pytest.approx(0.531, abs=1e-3)
    assert noisy.wilson_high == pytest.approx(0.888, abs=1e-3)
    assert noisy.sign_test_p == plain.sign_test_p == sign_test_p(15, 20)
    assert noisy.prob_b_better == plain.prob_b_better == prob_b_better(15, 5)
    assert noisy.recommendation == plain.recommendation == B_PREFERRED
    assert noisy.votes_needed == 0


def test_verdict_without_decisive_votes() -> None:
    result = verdict(a_wins=0, b_wins=0, ties=4, both_bad=2)
    assert result.b_share is None
    assert (result.wilson_low, result.wilson_high) == (0.0, 1.0)
    assert result.sign_test_p == 1.0
    assert result.prob_b_better == 0.5
    assert result.votes_needed is None


def test_verdict_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        verdict(a_wins=1, b_wins=1, ties=-1, both_bad=0)


# --- Aggregation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        ([], (0, 0, 0, 0)),
        ([("m1", "a"), ("m2", "b"), ("m3", "b")], (1, 2, 0, 0)),
        ([("m1", "a"), ("m1", "a"), ("m1", "b")], (1, 0, 0, 0)),
        ([("m1", "b"), ("m1", "b"), ("m1", "a"), ("m1", "tie")], (0, 1, 0, 0)),
        # a and b level on one message: a tie, not a win for either.
        ([("m1", "a"), ("m1", "b")], (0, 0, 1, 0)),
        ([("m1", "a"), ("m1", "b"), ("m1", "a"), ("m1", "b"), ("m1", "tie")], (0, 0, 1, 0)),
        ([("m1", "both_bad"), ("m1", "both_bad"), ("m1", "a")], (0, 0, 0, 1)),
        ([("m1", "tie"), ("m1", "tie"), ("m1", "b")], (0, 0, 1, 0)),
        # Any split at the top is no evidence either way.
        ([("m1", "a"), ("m1", "both_bad")], (0, 0, 1, 0)),
        ([("m1", "a"), ("m1", "b"), ("m1", "both_bad")], (0, 0, 1, 0)),
        # Interleaved messages: one outcome each, however many people voted.
        (
            [("m1", "a"), ("m2", "b"), ("m1", "a"), ("m2", "b"), ("m1", "b"), ("m3", "b")]
            + [("m4", "b")] * 9,
            (1, 3, 0, 0),
        ),
    ],
)
def test_per_message_majority(
    votes: list[tuple[str, str]], expected: tuple[int, int, int, int]
) -> None:
    assert per_message_majority(votes) == expected


def test_per_vote_counts_counts_every_vote() -> None:
    votes = [("m1", "a"), ("m1", "b"), ("m2", "b"), ("m2", "tie"), ("m3", "both_bad")]
    assert per_vote_counts(votes) == (1, 2, 1, 1)


@pytest.mark.parametrize("aggregate", [per_message_majority, per_vote_counts])
def test_aggregation_rejects_unknown_choices(
    aggregate: Callable[[Sequence[tuple[str, str]]], tuple[int, int, int, int]],
) -> None:
    with pytest.raises(ValueError):
        aggregate([("m1", "A")])


# --- Bradley–Terry ----------------------------------------------------------------------------


def _mixed_comparisons() -> list[Comparison]:
    # Deterministic, uneven data: champ usually wins, mid and low trade wins, one tie-heavy pair.
    pattern = [
        ("champ", "mid", 8, 2, 1),
        ("champ", "low", 9, 1, 0),
        ("mid", "low", 6, 4, 2),
        ("champ", "rookie", 2, 0, 0),
        ("mid", "rookie", 3, 3, 2),
        ("low", "rookie", 2, 4, 1),
    ]
    comparisons: list[Comparison] = []
    for first, second, first_wins, second_wins, ties in pattern:
        comparisons += [Comparison(first, second)] * first_wins
        comparisons += [Comparison(second, first)] * second_wins
        comparisons += [Comparison(first, second, tie=True)] * ties
    return comparisons


def test_bradley_terry_dominant_item_ranks_first() -> None:
    ratings = bradley_terry(_mixed_comparisons())
    assert max(ratings, key=ratings.__getitem__) == "champ"
    assert ratings["champ"] > ratings["mid"] > ratings["low"]


@pytest.mark.parametrize(
    "comparisons",
    [
        [Comparison("a", "b"), Comparison("b", "a")],
        [Comparison("a", "b"), Comparison("b", "c"), Comparison("c", "a")],
        [Comparison("a", "b", tie=True)] * 3,
        [
            Comparison("a", "b"),
            Comparison("b", "a"),
            Comparison("c", "d"),
            Comparison("d", "c"),
            Comparison("a", "c", tie=True),
            Comparison("b", "d", tie=True),
        ],
    ],
)
def test_bradley_terry_symmetric_data_gives_equal_ratings(
    comparisons: list[Comparison],
) -> None:
    ratings = bradley_terry(comparisons)
    for rating in ratings.values():
        assert rating == pytest.approx(1000.0, abs=1e-6)


def test_bradley_terry_geometric_centre_is_1000() -> None:
    ratings = bradley_terry(_mixed_comparisons())
    assert len(ratings) == 4
    assert sum(ratings.values()) / len(ratings) == pytest.approx(1000.0, abs=1e-9)


def test_bradley_terry_ties_count_as_half_wins() -> None:
    wins_only = bradley_terry([Comparison("a", "b")] * 3)
    with_ties = bradley_terry([Comparison("a", "b")] * 3 + [Comparison("a", "b", tie=True)] * 2)
    ties_reversed = bradley_terry([Comparison("a", "b")] * 3 + [Comparison("b", "a", tie=True)] * 2)
    assert with_ties["a"] > with_ties["b"]
    # Half a win each pulls the pair together; treating a tie as a win for the first-named
    # item, or ignoring it, would leave the gap at least as wide as with no ties.
    assert with_ties["a"] - with_ties["b"] < wins_only["a"] - wins_only["b"]
    # Which item is named first in a tie must not matter.
    assert with_ties == pytest.approx(ties_reversed, abs=1e-9)


def test_bradley_terry_matches_win_odds() -> None:
    ratings = bradley_terry([Comparison("a", "b")] * 30 + [Comparison("b", "a")] * 10)
    # 3:1 odds would be 400 * log10(3) ≈ 190.8 points; the prior shrinks it only a little.
    full = 400 * math.log10(3)
    assert 0.95 * full < ratings["a"] - ratings["b"] < full


def test_bradley_terry_item_with_only_wins_stays_finite() -> None:
    ratings = bradley_terry([Comparison("a", "b")] * 50 + [Comparison("b", "c")] * 5)
    assert all(math.isfinite(r) for r in ratings.values())
    assert ratings["a"] > ratings["b"] > ratings["c"]
    # A finite but wide margin: 50 straight wins is strong evidence.
    assert 400 < ratings["a"] - ratings["b"] < 2000


def test_bradley_terry_empty_and_invalid() -> None:
    assert bradley_terry([]) == {}
    assert bootstrap_intervals([]) == {}
    assert leaderboard([]) == []
    with pytest.raises(ValueError):
        bradley_terry([Comparison("a", "a")])


def test_bootstrap_intervals_contain_point_estimate() -> None:
    comparisons = _mixed_comparisons() * 3
    ratings = bradley_terry(comparisons)
    intervals = bootstrap_intervals(comparisons, samples=300, seed=1)
    assert set(intervals) == set(ratings)
    for item, rating in ratings.items():
        low, high = intervals[item]
        assert low < rating < high
        assert high - low < 600


def test_bootstrap_intervals_are_deterministic_and_nested() -> None:
    comparisons = _mixed_comparisons()
    first = bootstrap_intervals(comparisons, samples=200, seed=7)
    assert bootstrap_intervals(comparisons, samples=200, seed=7) == first
    assert bootstrap_intervals(comparisons, samples=200, seed=8) != first
    narrow = bootstrap_intervals(comparisons, samples=200, seed=7, level=0.5)
    for item, (low, high) in first.items():
        # The level must actually widen the interval, not just be accepted.
        assert low < narrow[item][0] < narrow[item][1] < high


@pytest.mark.parametrize(("samples", "level"), [(0, 0.95), (10, 0.0), (10, 1.0)])
def test_bootstrap_intervals_reject_bad_settings(samples: int, level: float) -> None:
    with pytest.raises(ValueError):
        bootstrap_intervals([Comparison("a", "b")], samples=samples, level=level)


def test_leaderboard_sorts_and_marks_preliminary() -> None:
    comparisons = _mixed_comparisons()
    board = leaderboard(comparisons, min_votes=10, samples=100)
    ratings = bradley_terry(comparisons)
    assert [r.item for r in board] == sorted(ratings, key=ratings.__getitem__, reverse=True)
    assert [r.rating for r in board] == sorted((r.rating for r in board), reverse=True)
    by_item = {r.item: r for r in board}
    # champ 11+10+2, mid 11+12+8, low 10+12+7, rookie 2+8+7 comparisons.
    assert {item: r.votes for item, r in by_item.items()} == {
        "champ": 23,
        "mid": 31,
        "low": 29,
        "rookie": 17,
    }
    assert not any(r.preliminary for r in board)
    strict = {r.item: r.preliminary for r in leaderboard(comparisons, min_votes=20, samples=50)}
    assert strict == {"champ": False, "mid": False, "low": False, "rookie": True}
    # Exactly min_votes comparisons is enough; one fewer is preliminary.
    at_boundary = {
        r.item: r.preliminary for r in leaderboard(comparisons, min_votes=17, samples=20)
    }
    assert at_boundary["rookie"] is False
    below = {r.item: r.preliminary for r in leaderboard(comparisons, min_votes=18, samples=20)}
    assert below["rookie"] is True
    for r in board:
        assert r.rating == pytest.approx(ratings[r.item])
        assert r.low <= r.rating <= r.high
