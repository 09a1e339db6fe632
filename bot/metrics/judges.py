"""How well each judge agrees with the people of a workspace, from the labels they left. Pure.

Every human signal is turned into a label the judge's verdict can be compared with:

- **pairwise judge** (A/B): per A/B message of a *closed* test, the judge's verdict (A, B or
  tie; "inconsistent" and "unavailable" are no verdict) against the people's majority vote on
  that message (A, B or tie; "both bad" is no preference, and a split top is no majority).
  One label per message. Cohen's κ over the three categories.
- **traits judge**: per answer people rated, the judge says "on target" when its alignment
  (100 − mean |perceived − target|) is at least `ON_TARGET`, else "off target"; the people say
  "good" when the answer has more 👍 than 👎, "bad" when fewer (equal counts are no label).
  One label per answer. Cohen's κ over the two categories. A 👍 judges the whole answer, not
  only its tone, so this κ measures how far the judge's "on target" predicts what people like.
- **behaviours judge**: people only *flag* verdicts they think are wrong ("judge was wrong");
  nobody confirms a right one. Every label is then a disagreement, and an unflagged verdict is
  not an agreement (nobody may have read it), so κ, which needs both, is not computed. Shown
  instead: the share of the judge's verdicts (pass/fail with a score) flagged wrong, with its
  Wilson 95% interval — a floor
  on the judge's error rate, never an agreement score.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from bot.ab.statistics import majority
from bot.domain.judges import (
    FLAGGED_WARNING,
    JUDGE_NAMES,
    LOW_KAPPA,
    MIN_LABELS,
    ON_TARGET,
    PAIRWISE_CATEGORIES,
    Flagged,
    Judge,
    JudgeAgreement,
    KappaInterval,
)
from bot.metrics.agreement import cohen_kappa_counts, cohen_kappa_interval
from bot.metrics.sampling import wilson_interval

__all__ = [
    "FLAGGED_WARNING",
    "JUDGE_NAMES",
    "LOW_KAPPA",
    "MIN_LABELS",
    "ON_TARGET",
    "Flagged",
    "Judge",
    "JudgeAgreement",
    "KappaInterval",
    "behaviours",
    "pairwise",
    "traits",
    "traits_from_cells",
    "traits_label",
]


def pairwise(messages: Sequence[tuple[str | None, Sequence[str]]]) -> JudgeAgreement:
    """(judge verdict, the votes' choices) per A/B message of closed tests."""
    pairs: list[tuple[str, str]] = []
    for verdict, votes in messages:
        people = majority(votes)
        if verdict in PAIRWISE_CATEGORIES and people in PAIRWISE_CATEGORIES:
            pairs.append((verdict, people))
    return JudgeAgreement(Judge.PAIRWISE, kappa=cohen_kappa_interval(pairs))


def traits_label(alignment: float, up: int, down: int) -> tuple[str, str] | None:
    """(the judge's label, the people's) for one rated answer; None when the people split."""
    if up == down:
        return None
    return ("good" if alignment >= ON_TARGET else "bad", "good" if up > down else "bad")


def traits(answers: Sequence[tuple[float, int, int]]) -> JudgeAgreement:
    """(alignment, 👍 count, 👎 count) per judged answer people rated."""
    pairs = [p for a in answers if (p := traits_label(*a)) is not None]
    return JudgeAgreement(Judge.TRAITS, kappa=cohen_kappa_interval(pairs))


def traits_from_cells(cells: Mapping[tuple[bool, bool], int]) -> JudgeAgreement:
    """The same from counts per (on target, liked), as SQL counts them (`traits_label`'s
    mapping, with `ON_TARGET` passed to the query)."""
    label = {True: "good", False: "bad"}
    counts: dict[tuple[Hashable, Hashable], int] = {
        (label[judge], label[people]): n for (judge, people), n in cells.items()
    }
    return JudgeAgreement(Judge.TRAITS, kappa=cohen_kappa_counts(counts))


def behaviours(*, flagged: int, verdicts: int) -> JudgeAgreement:
    """Posted pass/fail verdicts and how many of them someone flagged as wrong."""
    if verdicts < 2:
        return JudgeAgreement(Judge.BEHAVIOURS, flagged=Flagged(flagged, verdicts, None, None))
    low, high = wilson_interval(flagged, verdicts)
    return JudgeAgreement(Judge.BEHAVIOURS, flagged=Flagged(flagged, verdicts, low, high))
