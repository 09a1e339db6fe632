"""How much A/B voters agree with each other, and the judge with the people. Pure.

κ is 1 for perfect agreement, 0 for what chance alone would give, negative for less. Below 0.4
the people (or the judge and the people) disagree too much for the verdict to mean much on its
own, which is shown as a warning rather than hidden.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Final

from bot.domain.verdict import Kappa

MIN_RATERS: Final = 2


def fleiss_kappa(table: Sequence[Sequence[int]]) -> Kappa:
    """Fleiss' κ over subjects (rows) rated into categories (columns: counts of raters).

    Rows with fewer than two ratings say nothing about agreement and are left out. Subjects may
    have different numbers of raters: each subject's agreement P_i = Σ_j n_ij(n_ij − 1) /
    (n_i(n_i − 1)) is averaged with equal weight, and chance agreement P_e = Σ_j p_j² comes from
    the category shares over every rating (Fleiss 1971, with varying raters per subject).
    """
    rows = [list(r) for r in table if sum(r) >= MIN_RATERS]
    if any(c < 0 for r in rows for c in r):
        raise ValueError("rating counts must be non-negative")
    if not rows:
        return Kappa(None, 0)
    width = max(len(r) for r in rows)
    padded = [r + [0] * (width - len(r)) for r in rows]
    per_subject = [sum(c * (c - 1) for c in r) / (sum(r) * (sum(r) - 1)) for r in padded]
    observed = sum(per_subject) / len(per_subject)
    total = sum(sum(r) for r in padded)
    shares = [sum(r[j] for r in padded) / total for j in range(width)]
    chance = sum(p * p for p in shares)
    if chance >= 1.0:
        return Kappa(None, len(rows))
    return Kappa((observed - chance) / (1.0 - chance), len(rows))


def cohen_kappa(pairs: Sequence[tuple[Hashable, Hashable]]) -> Kappa:
    """Cohen's κ between two raters, one (first, second) pair per item."""
    if not pairs:
        return Kappa(None, 0)
    n = len(pairs)
    observed = sum(1 for x, y in pairs if x == y) / n
    first = Counter(x for x, _ in pairs)
    second = Counter(y for _, y in pairs)
    chance = sum(first[k] * second[k] for k in first) / (n * n)
    if chance >= 1.0:
        return Kappa(None, n)
    return Kappa((observed - chance) / (1.0 - chance), n)
