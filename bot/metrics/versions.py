"""The figures `/bot stats` shows per version and how each moved against the previous version.
Pure: works on the aggregates storage computed, with None wherever nothing was measured."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

from bot.domain.profile import TRAITS
from bot.domain.stats import Compared, VersionStats, arrow
from bot.domain.verdict import Comparison

DEFAULT_DAYS: Final = 30
MIN_DAYS: Final = 1
MAX_DAYS: Final = 365


def _gap(trait: str) -> Callable[[VersionStats], float | None]:
    return lambda s: s.trait_gaps.get(trait)


def _count(s: VersionStats) -> float | None:
    return float(s.total_answers)


# Every figure that gets a ▲ / ▼ / = against the previous version. Totals that only grow with
# use (tokens) are compared per answer, so a busier version does not look "worse".
COMPARED: Final[dict[str, Callable[[VersionStats], float | None]]] = {
    "answers": _count,
    "median_ms": lambda s: s.median_ms,
    "p95_ms": lambda s: s.p95_ms,
    "median_ttft_ms": lambda s: s.median_ttft_ms,
    "p95_ttft_ms": lambda s: s.p95_ttft_ms,
    "alignment": lambda s: s.alignment,
    **{f"gap_{t}": _gap(t) for t in TRAITS},
    "satisfaction": lambda s: s.satisfaction,
    "pass_rate": lambda s: s.pass_rate,
    "ab_win_share": lambda s: s.ab_win_share,
    "tokens_per_answer": lambda s: s.tokens_per_answer,
}


def changes(now: VersionStats, before: VersionStats | None) -> dict[str, str | None]:
    if before is None:
        return {key: None for key in COMPARED}
    return {key: arrow(get(now), get(before)) for key, get in COMPARED.items()}


def compare(newest_first: Sequence[VersionStats]) -> list[Compared]:
    """Each version against the next older one in the list (the previous version that was used
    in the period, which is not always version number − 1)."""
    out = []
    for i, now in enumerate(newest_first):
        before = newest_first[i + 1] if i + 1 < len(newest_first) else None
        out.append(Compared(stats=now, previous=before, arrows=changes(now, before)))
    return out


def leaderboard_comparisons(votes: Iterable[tuple[int, int, str]]) -> list[Comparison]:
    """(version A id, version B id, choice) votes as the leaderboard's pairwise comparisons, the
    way `/bot leaderboard` counts them: ties count half, "both bad" not at all."""
    out = []
    for a, b, choice in votes:
        if choice == "a":
            out.append(Comparison(winner=str(a), loser=str(b)))
        elif choice == "b":
            out.append(Comparison(winner=str(b), loser=str(a)))
        elif choice == "tie":
            out.append(Comparison(winner=str(a), loser=str(b), tie=True))
    return out
