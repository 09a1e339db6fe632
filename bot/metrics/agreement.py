"""How much A/B voters agree with each other, and the judge with the people. Pure.

κ is 1 for perfect agreement, 0 for what chance alone would give, negative for less. Below 0.4
the people (or the judge and the people) disagree too much for the verdict to mean much on its
own, which is shown as a warning rather than hidden.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import Final

from bot.domain.judges import KappaInterval
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


# ---- κ with its interval, for a judge against people ------------------------------------------

Z_95: Final = 1.959963984540054


def cohen_kappa_interval(pairs: Sequence[tuple[Hashable, Hashable]]) -> KappaInterval:
    """Cohen's κ with the large-sample (non-null) standard error of Fleiss, Cohen & Everitt
    (1969), as in Fleiss, Levin & Paik (2003, §18.1), and a normal 95% interval clipped to
    [−1, 1]. statpsych's ci.kappa(.05, 31, 12, 4, 58) gives κ 0.6757, SE 0.07345,
    0.5317–0.8196, which the tests check."""
    return cohen_kappa_counts(Counter(pairs))


def cohen_kappa_counts(cells: Mapping[tuple[Hashable, Hashable], int]) -> KappaInterval:
    """`cohen_kappa_interval` from the count of items per (first, second) rating."""
    if any(c < 0 for c in cells.values()):
        raise ValueError("counts must be non-negative")
    n = sum(cells.values())
    if n == 0:
        return KappaInterval(None, None, None, 0)
    cats = list(dict.fromkeys([x for x, _ in cells] + [y for _, y in cells]))
    cell = Counter({k: v for k, v in cells.items() if v})
    p = {(i, j): cell[(i, j)] / n for i in cats for j in cats}
    row = {i: sum(p[(i, j)] for j in cats) for i in cats}
    col = {j: sum(p[(i, j)] for i in cats) for j in cats}
    observed = sum(p[(i, i)] for i in cats)
    chance = sum(row[i] * col[i] for i in cats)
    if chance >= 1.0:
        return KappaInterval(None, None, None, n)
    k = (observed - chance) / (1.0 - chance)
    a = sum(p[(i, i)] * (1.0 - (row[i] + col[i]) * (1.0 - k)) ** 2 for i in cats)
    b = (1.0 - k) ** 2 * sum(
        p[(i, j)] * (col[i] + row[j]) ** 2 for i in cats for j in cats if i != j
    )
    c = (k - chance * (1.0 - k)) ** 2
    se = math.sqrt(max(0.0, a + b - c) / (n * (1.0 - chance) ** 2))
    return KappaInterval(round(k, 12), max(-1.0, k - Z_95 * se), min(1.0, k + Z_95 * se), n)
