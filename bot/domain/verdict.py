"""How an A/B test came out: the decision rule's constants, the outcome words, the verdict."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Final

ALPHA: Final = 0.05
THRESHOLD: Final = 1.0 / ALPHA
LOG_THRESHOLD: Final = math.log(THRESHOLD)
# "a 60/40 preference": the effect the power figure is about
PLANNED_SHARE: Final = 0.6
MAX_EXTRA_VOTES: Final = 10_000
CHOICES: Final = frozenset({"a", "b", "tie", "both_bad"})
B_PREFERRED: Final = "B is preferred"
A_PREFERRED: Final = "A is preferred"
NOT_ENOUGH_PREFIX: Final = "Not enough votes to tell yet"
NO_DECISIVE_VOTES: Final = "No decisive votes yet"


class Outcome(StrEnum):
    """What a count of decisive votes supports; stored as this code, worded by `describe`."""

    A_PREFERRED = "a_preferred"
    B_PREFERRED = "b_preferred"
    UNDECIDED = "undecided"
    NO_DECISIVE_VOTES = "no_decisive_votes"


OUTCOME_WORDS: Final = {
    Outcome.A_PREFERRED: A_PREFERRED,
    Outcome.B_PREFERRED: B_PREFERRED,
    Outcome.UNDECIDED: NOT_ENOUGH_PREFIX,
    Outcome.NO_DECISIVE_VOTES: NO_DECISIVE_VOTES,
}


WON: Final = {Outcome.A_PREFERRED: "a", Outcome.B_PREFERRED: "b"}


def describe(outcome: Outcome, votes_to_tell: int | None) -> str:
    """The one plain line of a verdict, built from its code and the power figure."""
    if outcome in WON:
        return OUTCOME_WORDS[outcome]
    if votes_to_tell is None:
        power = (
            f"over {MAX_EXTRA_VOTES:,} more decisive votes would be needed to tell a "
            "60/40 preference from a coin flip"
        )
    else:
        power = (
            f"about {votes_to_tell:,} more decisive vote{'s' if votes_to_tell != 1 else ''} "
            "to tell a 60/40 preference from a "
            "coin flip"
        )
    return f"{OUTCOME_WORDS[outcome]}: {power}"


@dataclass(frozen=True)
class Verdict:
    """A count of votes judged by the anytime-valid rule (`bot.ab.anytime`). The Wilson interval,
    the sign test and P(B better) describe the votes and are None without decisive votes;
    they never decide the outcome, because read after every vote they are not valid."""

    a_wins: int
    b_wins: int
    ties: int
    both_bad: int
    decisive: int
    b_share: float | None
    log_e_value: float
    outcome: Outcome
    votes_to_tell: int | None
    wilson_low: float | None
    wilson_high: float | None
    sign_test_p: float | None
    prob_b_better: float | None

    @property
    def e_value(self) -> float:
        return math.exp(min(self.log_e_value, _MAX_LOG_E))

    @property
    def recommendation(self) -> str:
        return describe(self.outcome, self.votes_to_tell)


# e^700 is still a finite float; beyond that "E" is shown as a power of ten from the log
_MAX_LOG_E: Final = 700.0


@dataclass(frozen=True)
class Comparison:
    """One pairwise judgement; for a tie, `winner` and `loser` are simply the two items."""

    winner: str
    loser: str
    tie: bool = False


@dataclass(frozen=True)
class Ranked:
    item: str
    rating: float
    low: float
    high: float
    votes: int
    preliminary: bool


@dataclass(frozen=True, slots=True)
class SideMetrics:
    answers: int
    failed: int
    mean_ms: float | None
    mean_alignment: float | None
    tokens: int | None


@dataclass(frozen=True, slots=True)
class AbVerdict:
    per_person: Verdict
    per_message: Verdict
    judge: dict[str, int]
    judge_agreed: int
    judge_compared: int
    side_a: SideMetrics
    side_b: SideMetrics
    voters_kappa: Kappa
    judge_kappa: Kappa

    @property
    def outcome(self) -> Outcome:
        return self.per_person.outcome

    @property
    def recommendation(self) -> str:
        return self.per_person.recommendation

    def to_json(self) -> dict[str, Any]:
        return {
            "per_person": {
                **asdict(self.per_person),
                "recommendation": self.per_person.recommendation,
            },
            "per_message": {
                **asdict(self.per_message),
                "recommendation": self.per_message.recommendation,
            },
            "judge": self.judge,
            "judge_agreed": self.judge_agreed,
            "judge_compared": self.judge_compared,
            "side_a": asdict(self.side_a),
            "side_b": asdict(self.side_b),
            "voters_kappa": asdict(self.voters_kappa),
            "judge_kappa": asdict(self.judge_kappa),
        }


LOW_KAPPA: Final = 0.4


@dataclass(frozen=True, slots=True)
class Kappa:
    """κ over `items` items; `value` None ("n/a") when there is nothing to compare, or when
    every rating is the same category (chance agreement is then 1 and κ is undefined)."""

    value: float | None
    items: int

    def __post_init__(self) -> None:
        # κ is read to two decimals and compared with 0.4: keep float noise (0.39999…) out
        if self.value is not None:
            object.__setattr__(self, "value", round(self.value, 12))

    @property
    def low(self) -> bool:
        return self.value is not None and self.value < LOW_KAPPA
