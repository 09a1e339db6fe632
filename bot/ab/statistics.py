"""Statistics for blind A/B tests that a team votes on, and Bradley–Terry leaderboards.

Everything here is pure: counts in, numbers and plain-language verdicts out. Only decisive
votes (A or B) count as evidence; ties and "both bad" are carried along for display but never
folded into the proportion, because they say nothing about which side is preferred. Which side
is preferred is decided by the anytime-valid test in `bot.ab.anytime`; the Wilson interval, the
sign test and P(B better) are descriptive figures next to it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import sparse, stats

from bot.ab import anytime
from bot.domain.verdict import CHOICES, LOG_THRESHOLD, Comparison, Outcome, Ranked, Verdict

# Wilson is shared with repeated scenario samples; re-exported for the A/B figures
from bot.metrics.sampling import Z_95 as Z_95
from bot.metrics.sampling import _check_counts
from bot.metrics.sampling import wilson_interval as wilson_interval

_FloatArray = npt.NDArray[np.float64]


def sign_test_p(successes: int, n: int) -> float:
    """Exact two-sided binomial sign test of `successes` out of `n` against p = 0.5.

    Returns 1.0 when n == 0: no votes are no evidence against "no preference".
    """
    _check_counts(successes=successes, n=n)
    if successes > n:
        raise ValueError(f"successes ({successes}) cannot exceed n ({n})")
    if n == 0:
        return 1.0
    return min(1.0, float(stats.binomtest(successes, n, 0.5).pvalue))


def prob_b_better(b_wins: int, a_wins: int) -> float:
    """Posterior probability that B's true share of decisive votes exceeds 0.5.

    Uses a uniform Beta(1, 1) prior, so the posterior is Beta(1 + b_wins, 1 + a_wins) and the
    result is 1 - BetaCDF(0.5); with no votes at all it is exactly 0.5.
    """
    _check_counts(b_wins=b_wins, a_wins=a_wins)
    # sf rather than 1 - cdf keeps precision when the answer is very close to 1.
    return float(stats.beta.sf(0.5, 1 + b_wins, 1 + a_wins))


def verdict(*, a_wins: int, b_wins: int, ties: int, both_bad: int) -> Verdict:
    """Summarise an A/B vote. "B is preferred" / "A is preferred" only when the e-value of the
    decisive votes against a coin flip reaches 1/α = 20 (valid whenever the test is closed),
    with the side that leads; otherwise "not enough votes" with the power figure."""
    _check_counts(a_wins=a_wins, b_wins=b_wins, ties=ties, both_bad=both_bad)
    decisive = a_wins + b_wins
    log_e = anytime.log_e_value(b_wins, a_wins)
    if decisive == 0:
        outcome = Outcome.NO_DECISIVE_VOTES
    elif log_e >= LOG_THRESHOLD:
        outcome = Outcome.B_PREFERRED if b_wins > a_wins else Outcome.A_PREFERRED
    else:
        outcome = Outcome.UNDECIDED
    low, high = wilson_interval(b_wins, decisive) if decisive else (None, None)
    return Verdict(
        a_wins=a_wins,
        b_wins=b_wins,
        ties=ties,
        both_bad=both_bad,
        decisive=decisive,
        b_share=b_wins / decisive if decisive else None,
        log_e_value=log_e,
        outcome=outcome,
        votes_to_tell=anytime.votes_to_tell(b_wins, a_wins),
        wilson_low=low,
        wilson_high=high,
        sign_test_p=sign_test_p(b_wins, decisive) if decisive else None,
        prob_b_better=prob_b_better(b_wins, a_wins) if decisive else None,
    )


def _tally(choices: Iterable[str]) -> tuple[int, int, int, int]:
    counts = Counter(choices)
    unknown = set(counts) - CHOICES
    if unknown:
        raise ValueError(f"unknown vote choice(s): {sorted(unknown)}")
    return (counts["a"], counts["b"], counts["tie"], counts["both_bad"])


def per_vote_counts(votes: Sequence[tuple[str, str]]) -> tuple[int, int, int, int]:
    """(a_wins, b_wins, ties, both_bad) counting every person's vote on every message."""
    return _tally(choice for _, choice in votes)


def majority(choices: Iterable[str]) -> str | None:
    """A message's one most common choice; None when nobody voted or several share the top.
    The one definition for the per-message verdict and the judge's agreement with people."""
    counts = Counter(choices)
    if not counts:
        return None
    top = max(counts.values())
    leaders = [choice for choice, count in counts.items() if count == top]
    return leaders[0] if len(leaders) == 1 else None


def _message_outcome(choices: list[str]) -> str:
    # A message whose voters split evenly between options is no evidence for either side, so
    # it must never become a decisive win; "tie" is the neutral outcome for any such split.
    return majority(choices) or "tie"


def per_message_majority(votes: Sequence[tuple[str, str]]) -> tuple[int, int, int, int]:
    """(a_wins, b_wins, ties, both_bad) where each message contributes one outcome.

    Each vote is `(message_key, choice)` with choice in {"a", "b", "tie", "both_bad"}. A
    message's outcome is the plurality choice among its votes; if several choices share the
    top count (e.g. as many "a" as "b") the message counts as a tie. This stops one message
    that many people voted on from outweighing the rest.
    """
    by_message: defaultdict[str, list[str]] = defaultdict(list)
    for key, choice in votes:
        if choice not in CHOICES:
            raise ValueError(f"unknown vote choice: {choice!r}")
        by_message[key].append(choice)
    return _tally(_message_outcome(choices) for choices in by_message.values())


# Half a pseudo-win and half a pseudo-loss for every item against a virtual opponent of
# strength 1. Without it, an item that won (or lost) every comparison has no finite maximum
# likelihood strength and MM would push it to infinity (or zero); the prior is symmetric, so
# it only shrinks ratings towards the middle and matters less as real comparisons pile up.
_PRIOR_WINS: Final = 0.5
_PRIOR_GAMES: Final = 2 * _PRIOR_WINS
_ELO_SCALE: Final = 400.0
_ELO_CENTRE: Final = 1000.0
_ITERATIONS: Final = 1000
_TOL: Final = 1e-9
# intervals are read to the rating point; 1e-6 in log strength is 0.0002 points
_BOOTSTRAP_TOL: Final = 1e-6


def _items(comparisons: Sequence[Comparison]) -> list[str]:
    for c in comparisons:
        if c.winner == c.loser:
            raise ValueError(f"an item cannot be compared with itself: {c.winner!r}")
    return sorted({c.winner for c in comparisons} | {c.loser for c in comparisons})


def _pair_indices(
    comparisons: Sequence[Comparison], index: dict[str, int]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    winners = np.array([index[c.winner] for c in comparisons], dtype=np.intp)
    losers = np.array([index[c.loser] for c in comparisons], dtype=np.intp)
    ties = np.array([c.tie for c in comparisons], dtype=np.bool_)
    return winners, losers, ties


def _pair_wins(
    winners: npt.NDArray[np.intp],
    losers: npt.NDArray[np.intp],
    ties: npt.NDArray[np.bool_],
    counts: _FloatArray,
) -> tuple[_FloatArray, _FloatArray, npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Wins per distinct pair of items, for each sample.

    `counts[s, c]` is how often comparison c is in sample s. Returns (wins of the pair's first
    item, wins of its second, first items, second items); ties give each side half a win.
    Working per pair rather than on items x items matrices keeps the cost proportional to the
    pairs actually compared, which stays small while the number of versions grows.
    """
    first = np.minimum(winners, losers)
    second = np.maximum(winners, losers)
    pairs, pair_of = np.unique(np.stack([first, second], axis=1), axis=0, return_inverse=True)
    pair_of = pair_of.ravel()
    first_share = np.where(ties, 0.5, (winners == first).astype(np.float64))
    n_comparisons, n_pairs = len(winners), len(pairs)
    rows = np.arange(n_comparisons)
    to_first = sparse.csr_matrix((first_share, (rows, pair_of)), shape=(n_comparisons, n_pairs))
    to_second = sparse.csr_matrix(
        (1.0 - first_share, (rows, pair_of)), shape=(n_comparisons, n_pairs)
    )
    wins_first = np.asarray((to_first.T @ counts.T).T, dtype=np.float64)
    wins_second = np.asarray((to_second.T @ counts.T).T, dtype=np.float64)
    return wins_first, wins_second, pairs[:, 0].astype(np.intp), pairs[:, 1].astype(np.intp)


def _per_item(values: _FloatArray, items: npt.NDArray[np.intp], k: int) -> _FloatArray:
    """Sum per-pair values onto items: out[s, i] = sum of values[s, p] over pairs p whose
    (first or second) item is i, as one sparse product."""
    n_pairs = len(items)
    incidence = sparse.csr_matrix(
        (np.ones(n_pairs), (np.arange(n_pairs), items)), shape=(n_pairs, k)
    )
    return np.asarray((incidence.T @ values.T).T, dtype=np.float64)


def _fit_log_strengths(
    wins_first: _FloatArray,
    wins_second: _FloatArray,
    first: npt.NDArray[np.intp],
    second: npt.NDArray[np.intp],
    k: int,
    iterations: int,
    tol: float,
    start: _FloatArray | None = None,
) -> _FloatArray:
    """MM (Hunter 2004) for Bradley–Terry on a batch of samples; returns log strengths.

    All samples are iterated together so bootstrapping costs a few array operations per step
    rather than a Python loop per resample.
    """
    games = wins_first + wins_second
    total_wins = _per_item(wins_first, first, k) + _per_item(wins_second, second, k) + _PRIOR_WINS

    def step(log_strength: _FloatArray) -> _FloatArray:
        strength = np.exp(log_strength)
        share = games / (strength[:, first] + strength[:, second])
        denom = _per_item(share, first, k) + _per_item(share, second, k)
        return np.asarray(
            np.log(total_wins) - np.log(denom + _PRIOR_GAMES / (strength + 1.0)), dtype=np.float64
        )

    x = np.zeros((wins_first.shape[0], k), dtype=np.float64)
    if start is not None:
        x = x + np.log(start)
    # Plain MM creeps along sparse comparison graphs (a thousand steps is common); SQUAREM
    # (Varadhan & Roland 2008) extrapolates from two MM steps per row, and a final MM step
    # keeps every update a descent, so it reaches the same fixed point in a few dozen rounds.
    for _ in range(iterations):
        x1 = step(x)
        x2 = step(x1)
        r = x1 - x
        v = x2 - x1 - r
        r_norm = np.sqrt((r * r).sum(axis=1, keepdims=True))
        v_norm = np.sqrt((v * v).sum(axis=1, keepdims=True))
        alpha = -r_norm / np.where(v_norm > 0, v_norm, 1.0)
        alpha = np.minimum(alpha, -1.0)
        jumped = x - 2.0 * alpha * r + alpha * alpha * v
        candidate = step(np.where(np.isfinite(jumped), jumped, x2))
        change = float(np.max(np.abs(candidate - x)))
        x = candidate
        if change < tol:
            break
    return x


def _to_ratings(log_strength: _FloatArray, present: npt.NDArray[np.bool_]) -> _FloatArray:
    """Elo-like ratings centred so the geometric mean strength of present items is 1000."""
    masked = np.where(present, log_strength, np.nan)
    centre: _FloatArray = np.nanmean(masked, axis=-1, keepdims=True)
    ratings: _FloatArray = _ELO_CENTRE + _ELO_SCALE * (masked - centre) / math.log(10.0)
    return ratings


def bradley_terry(
    comparisons: Sequence[Comparison], *, iterations: int = _ITERATIONS, tol: float = _TOL
) -> dict[str, float]:
    """Bradley–Terry ratings on an Elo-like scale: 1000 + 400 * log10(strength / geo. mean).

    Fitted by the MM algorithm with ties as half a win for each side and a small symmetric
    prior (see `_PRIOR_WINS`), so every rating is finite. Rating differences read like Elo:
    +400 means about 10:1 odds of winning a comparison.
    """
    items = _items(comparisons)
    if not items:
        return {}
    index = {item: i for i, item in enumerate(items)}
    winners, losers, ties = _pair_indices(comparisons, index)
    counts = np.ones((1, len(comparisons)), dtype=np.float64)
    pair_wins = _pair_wins(winners, losers, ties, counts)
    log_strength = _fit_log_strengths(*pair_wins, len(items), iterations, tol)
    ratings = _to_ratings(log_strength, np.ones_like(log_strength, dtype=np.bool_))[0]
    return {item: float(ratings[i]) for item, i in index.items()}


def bootstrap_intervals(
    comparisons: Sequence[Comparison], *, samples: int = 500, seed: int = 0, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals for `bradley_terry` ratings.

    Comparisons are resampled with replacement from a seeded numpy Generator, so the result is
    deterministic for a given seed. An item that happens to be missing from a resample is left
    out of that resample (rather than rated at the prior's average), and the centring uses only
    the items present, so absences do not drag intervals towards 1000.
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    items = _items(comparisons)
    if not items:
        return {}
    index = {item: i for i, item in enumerate(items)}
    winners, losers, ties = _pair_indices(comparisons, index)
    k = len(items)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(comparisons), size=(samples, len(comparisons)), dtype=np.intp)
    counts = np.zeros((samples, len(comparisons)), dtype=np.float64)
    np.add.at(counts, (np.repeat(np.arange(samples), len(comparisons)), picks.ravel()), 1.0)
    wins_first, wins_second, first, second = _pair_wins(winners, losers, ties, counts)
    games = wins_first + wins_second
    present = (_per_item(games, first, k) + _per_item(games, second, k)) > 0
    point = _fit_log_strengths(
        *_pair_wins(winners, losers, ties, np.ones((1, len(comparisons)))), k, _ITERATIONS, _TOL
    )
    log_strength = _fit_log_strengths(
        wins_first, wins_second, first, second, k, _ITERATIONS, _BOOTSTRAP_TOL, np.exp(point)
    )
    ratings = _to_ratings(log_strength, present)
    alpha = (1.0 - level) / 2.0
    result: dict[str, tuple[float, float]] = {}
    for item, i in index.items():
        column = ratings[:, i]
        column = column[~np.isnan(column)]
        if column.size == 0:
            # Only reachable with very few resamples; the point estimate is all we know.
            rating = bradley_terry(comparisons)[item]
            result[item] = (rating, rating)
            continue
        low, high = np.quantile(column, [alpha, 1.0 - alpha])
        result[item] = (float(low), float(high))
    return result


def leaderboard(
    comparisons: Sequence[Comparison], *, min_votes: int = 10, samples: int = 500, seed: int = 0
) -> list[Ranked]:
    """Items by Bradley–Terry rating, best first, with bootstrap intervals.

    `votes` counts every comparison the item took part in (ties included); fewer than
    `min_votes` marks the rating as preliminary.
    """
    ratings = bradley_terry(comparisons)
    intervals = bootstrap_intervals(comparisons, samples=samples, seed=seed)
    votes: Counter[str] = Counter()
    for c in comparisons:
        votes[c.winner] += 1
        votes[c.loser] += 1
    ranked = [
        Ranked(
            item=item,
            rating=rating,
            low=intervals[item][0],
            high=intervals[item][1],
            votes=votes[item],
            preliminary=votes[item] < min_votes,
        )
        for item, rating in ratings.items()
    ]
    # Name as the tie-breaker keeps the order stable for equal ratings.
    ranked.sort(key=lambda r: (-r.rating, r.item))
    return ranked
