"""How far a judge agrees with people: the values shown next to its verdicts. The labels and
statistics behind them are defined in `bot.metrics.judges`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# re-exported: the judges' figures use the A/B verdicts' threshold
from bot.domain.verdict import LOW_KAPPA as LOW_KAPPA


@dataclass(frozen=True, slots=True)
class KappaInterval:
    """Cohen's κ over `labels` items with its 95% interval; all None when κ is undefined (no
    items, or both raters always in one category)."""

    value: float | None
    low: float | None
    high: float | None
    labels: int


# below this many labels the interval is too wide (and the normal approximation too rough)
# for κ to say anything: "not enough labels to rate the judge"
MIN_LABELS: Final = 20
# κ below LOW_KAPPA (0.4, Landis & Koch's "fair" and below, the A/B verdicts' threshold
# too): the judge's verdicts carry a warning
# alignment at or above this counts as the traits judge saying "on target"
ON_TARGET: Final = 75.0
# flagged share at or above this (with at least MIN_LABELS verdicts): the behaviour verdicts
# carry a warning; it is a floor on the error rate, so the judge is at least this often wrong
FLAGGED_WARNING: Final = 0.2
PAIRWISE_CATEGORIES: Final = frozenset({"a", "b", "tie"})


class Judge(StrEnum):
    TRAITS = "traits"
    BEHAVIOURS = "behaviours"
    PAIRWISE = "pairwise"


JUDGE_NAMES: Final = {
    Judge.TRAITS: "Traits judge",
    Judge.BEHAVIOURS: "Behaviours judge",
    Judge.PAIRWISE: "Pairwise (A/B) judge",
}


@dataclass(frozen=True, slots=True)
class Flagged:
    """`flagged` of `verdicts` verdicts of the judge that at least one person flagged as wrong."""

    flagged: int
    verdicts: int
    low: float | None
    high: float | None

    @property
    def share(self) -> float | None:
        return self.flagged / self.verdicts if self.verdicts else None


@dataclass(frozen=True, slots=True)
class JudgeAgreement:
    """One judge in one workspace: κ with people (two-sided labels) or the flagged share."""

    judge: Judge
    kappa: KappaInterval | None = None
    flagged: Flagged | None = None

    @property
    def labels(self) -> int:
        if self.kappa is not None:
            return self.kappa.labels
        return 0 if self.flagged is None else self.flagged.verdicts

    @property
    def enough(self) -> bool:
        return self.labels >= MIN_LABELS

    @property
    def warning(self) -> bool:
        """Whether this judge's verdicts should carry a warning."""
        if not self.enough:
            return False
        if self.kappa is not None:
            return self.kappa.value is not None and self.kappa.value < LOW_KAPPA
        share = None if self.flagged is None else self.flagged.share
        return share is not None and share >= FLAGGED_WARNING
