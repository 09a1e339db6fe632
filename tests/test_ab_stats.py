from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from scipy import stats

from bot.ab.anytime import log_e_value, votes_to_tell
from bot.ab.statistics import (
    bootstrap_intervals,
    bradley_terry,
    leaderboard,
    per_message_majority,
    per_vote_counts,
    prob_b_better,
    sign_test_p,
    verdict,
    wilson_interval,
)
from bot.domain.verdict import (
    ALPHA,
    LOG_THRESHOLD,
    OUTCOME_WORDS,
    Comparison,
    Kappa,
    Outcome,
    describe,
)
from bot.metrics.agreement import cohen_kappa, fleiss_kappa

Z = 1.959963984540054
RECOMMENDATION = re.compile(
    r"^(B is preferred|A is preferred"
    r"|Not enough votes to tell yet: about [1-9][0-9,]* more decisive votes to tell a 60/40 "
    r"preference from a coin flip"
    r"|No decisive votes yet: about [1-9][0-9,]* more decisive votes to tell a 60/40 "
    r"preference from a coin flip)$"
)


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


# --- Anytime-valid evidence -------------------------------------------------------------------


def _log_e_oracle(s: int, f: int) -> float:
    # Independent of scipy: B(1 + s, 1 + f) = s! f! / (s + f + 1)!, times 2^(s + f)
    return math.lgamma(s + 1) + math.lgamma(f + 1) - math.lgamma(s + f + 2) + (s + f) * math.log(2)


@pytest.mark.parametrize(
    ("successes", "failures", "expected"),
    [
        (0, 0, 1.0),
        (1, 0, 1.0),  # one vote is no evidence: 2 x B(2, 1) = 1
        (4, 0, 3.2),  # 2^4 / 5
        (20, 2, 2**22 * 2 / (23 * 22 * 21)),  # B(21, 3) = 2! 20! / 23!
        (5, 5, 2**10 / (11 * math.comb(10, 5))),
    ],
)
def test_e_value_known_values(successes: int, failures: int, expected: float) -> None:
    assert math.exp(log_e_value(successes, failures)) == pytest.approx(expected, rel=1e-12)
    assert log_e_value(successes, failures) == pytest.approx(log_e_value(failures, successes))


def test_e_value_matches_the_closed_form_and_never_overflows() -> None:
    for s in range(0, 40):
        for f in range(0, 40):
            assert log_e_value(s, f) == pytest.approx(_log_e_oracle(s, f), abs=1e-9)
    huge = log_e_value(100_000, 0)
    assert math.isfinite(huge) and huge == pytest.approx(_log_e_oracle(100_000, 0))


@pytest.mark.parametrize(
    ("a_wins", "b_wins", "outcome", "e_value"),
    [
        # 4 of 4 for B: Wilson excludes 50% and the old rule said "B is preferred"; the exact
        # sign test gives p = 0.125 and the evidence is only 3.2
        (0, 4, Outcome.UNDECIDED, 3.2),
        (2, 20, Outcome.B_PREFERRED, 789.44),
        (20, 2, Outcome.A_PREFERRED, 789.44),
        (0, 0, Outcome.NO_DECISIVE_VOTES, 1.0),
        (5, 5, Outcome.UNDECIDED, 2**10 / (11 * math.comb(10, 5))),
        (3, 12, Outcome.UNDECIDED, 4.5011),  # sign test p = 0.035, yet not enough when peeking
    ],
)
def test_verdict_follows_the_evidence(
    a_wins: int, b_wins: int, outcome: Outcome, e_value: float
) -> None:
    result = verdict(a_wins=a_wins, b_wins=b_wins, ties=3, both_bad=1)
    assert result.outcome is outcome
    assert result.e_value == pytest.approx(e_value, rel=1e-3)
    assert RECOMMENDATION.match(result.recommendation), result.recommendation


def test_a_fair_coin_watched_after_every_vote_is_rarely_called() -> None:
    """2,000 tests of a 50/50 preference, each looked at after every one of 200 votes and
    called the first time the rule says "preferred": the share wrongly called stays under 5%."""
    rng = np.random.default_rng(20240611)
    tests, votes = 2_000, 200
    b = rng.integers(0, 2, size=(tests, votes)).cumsum(axis=1)
    n = np.arange(1, votes + 1)
    crossed = log_e_value(b, n - b) >= LOG_THRESHOLD
    called = crossed.any(axis=1).mean()
    assert called < ALPHA
    # and the check has teeth: the exact sign test read the same way (two-sided, doubling the
    # smaller binomial tail) calls a fair coin "preferred" several times more often
    p_values = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(b, n - b), n, 0.5))
    assert (p_values < ALPHA).any(axis=1).mean() > 2 * ALPHA


def test_a_real_preference_is_found() -> None:
    rng = np.random.default_rng(7)
    b = (rng.random(size=(500, 200)) < 0.7).cumsum(axis=1)
    n = np.arange(1, 201)
    assert (log_e_value(b, n - b) >= LOG_THRESHOLD).any(axis=1).mean() > 0.9


def _first_crossing(lead: int, trail: int) -> int:
    extra = 0
    while _log_e_oracle_frac(lead + 0.6 * extra, trail + 0.4 * extra) < math.log(20):
        extra += 1
    return extra


def _log_e_oracle_frac(s: float, f: float) -> float:
    return math.lgamma(s + 1) + math.lgamma(f + 1) - math.lgamma(s + f + 2) + (s + f) * math.log(2)


@pytest.mark.parametrize(("b_wins", "a_wins"), [(0, 0), (4, 0), (0, 4), (3, 1), (12, 8), (15, 3)])
def test_votes_to_tell_is_the_first_count_that_would_decide(b_wins: int, a_wins: int) -> None:
    needed = votes_to_tell(b_wins, a_wins)
    assert needed == _first_crossing(max(a_wins, b_wins), min(a_wins, b_wins))
    assert needed is not None and needed > 0


def test_votes_to_tell_comes_from_the_data() -> None:
    from_nothing, after_four = votes_to_tell(0, 0), votes_to_tell(4, 0)
    assert from_nothing == 279
    assert after_four is not None and after_four < from_nothing
    assert votes_to_tell(20, 2) == 0  # already decided
    assert votes_to_tell(5000, 5000, max_extra=100) is None
    with pytest.raises(ValueError):
        votes_to_tell(-1, 0)


def test_verdict_descriptive_figures_are_only_descriptive() -> None:
    plain = verdict(a_wins=5, b_wins=15, ties=0, both_bad=0)
    noisy = verdict(a_wins=5, b_wins=15, ties=40, both_bad=30)
    assert (noisy.ties, noisy.both_bad) == (40, 30)
    assert noisy.decisive == 20
    assert noisy.b_share == pytest.approx(0.75)
    assert (noisy.wilson_low, noisy.wilson_high) == (plain.wilson_low, plain.wilson_high)
    assert noisy.wilson_low == pytest.approx(0.531, abs=1e-3)  # excludes 50%...
    assert noisy.sign_test_p == plain.sign_test_p == sign_test_p(15, 20)  # p = 0.041...
    assert noisy.prob_b_better == plain.prob_b_better == prob_b_better(15, 5)
    # ...yet E = 2^20 B(16, 6) ≈ 3.2 < 20: not decided
    assert noisy.outcome is plain.outcome is Outcome.UNDECIDED
    assert noisy.recommendation.startswith("Not enough votes to tell yet: about ")


def test_verdict_without_decisive_votes_shows_no_interval_or_p_value() -> None:
    result = verdict(a_wins=0, b_wins=0, ties=4, both_bad=2)
    assert result.outcome is Outcome.NO_DECISIVE_VOTES
    assert result.recommendation.startswith("No decisive votes yet")
    assert result.b_share is None
    assert (result.wilson_low, result.wilson_high) == (None, None)
    assert result.sign_test_p is None
    assert result.prob_b_better is None


def test_verdict_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        verdict(a_wins=1, b_wins=1, ties=-1, both_bad=0)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_outcome_words_come_from_the_code(outcome: Outcome) -> None:
    assert describe(outcome, 12).startswith(OUTCOME_WORDS[outcome])
    assert Outcome(outcome.value) is outcome


# --- Agreement (κ) ----------------------------------------------------------------------------


def test_fleiss_kappa_textbook_example() -> None:
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories;
    # P-bar = 0.378, P_e = 0.213, kappa = 0.210
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    k = fleiss_kappa(table)
    assert k.value == pytest.approx(0.210, abs=5e-4)
    assert k.items == 10 and k.low


@pytest.mark.parametrize(
    ("table", "value", "items"),
    [
        # a, b, tie, both bad per message
        ([[2, 0, 0, 0], [0, 2, 0, 0]], 1.0, 2),  # P-bar 1, P_e 0.5
        ([[1, 1, 0, 0], [1, 1, 0, 0]], -1.0, 2),  # P-bar 0, P_e 0.5
        # varying raters: P1 = 2/6, P2 = 1, P-bar = 2/3; p = (2/5, 3/5), P_e = 13/25
        ([[2, 1, 0, 0], [0, 2, 0, 0]], (2 / 3 - 13 / 25) / (12 / 25), 2),
        ([[2, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0]], (2 / 3 - 13 / 25) / (12 / 25), 2),
        ([[1, 0, 0, 0], [0, 1, 0, 0]], None, 0),  # no message with two votes
        ([[3, 0, 0, 0], [2, 0, 0, 0]], None, 2),  # all alike: chance agreement is 1
        ([], None, 0),
    ],
)
def test_fleiss_kappa_by_hand(table: list[list[int]], value: float | None, items: int) -> None:
    k = fleiss_kappa(table)
    assert k.items == items
    if value is None:
        assert k.value is None and not k.low
    else:
        assert k.value == pytest.approx(value, abs=1e-12)


def test_cohen_kappa_by_hand() -> None:
    # 50 items: both yes 20, yes/no 5, no/yes 10, both no 15: p_o = 0.7, p_e = 0.5, kappa = 0.4
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    k = cohen_kappa(pairs)
    assert k.value == pytest.approx(0.4, abs=1e-12) and k.items == 50 and not k.low
    assert cohen_kappa([("a", "b"), ("b", "a")]).value == pytest.approx(-1.0)
    assert cohen_kappa([("a", "a"), ("b", "b"), ("a", "b")]).value == pytest.approx(
        (2 / 3 - 4 / 9) / (5 / 9)
    )
    assert cohen_kappa([]) == Kappa(None, 0)
    assert cohen_kappa([("a", "a"), ("a", "a")]) == Kappa(None, 2)


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
