"""Figures per profile version and the rows the App Home and exports show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.results import TestResult


@dataclass(frozen=True, slots=True)
class VersionStats:
    """One profile version's figures over a period; None wherever nothing was measured."""

    version_id: int
    version: int
    created_at: datetime
    answers: dict[str, int]  # by kind: test, followup, scenario, ab
    failed: int
    median_ms: float | None
    p95_ms: float | None
    median_ttft_ms: float | None
    p95_ttft_ms: float | None
    alignment: float | None
    aligned: int
    trait_gaps: dict[str, float | None]  # mean of perceived − target, in points
    thumbs_up: int
    thumbs_down: int
    behaviours_passed: int
    behaviours_judged: int
    ab_won: int
    ab_lost: int
    ab_inconclusive: int
    tokens: int | None
    metered: int  # answers whose token usage is known
    cut_off: int = 0  # answers that stopped at their output limit (finish_reason "length")
    judge_unavailable: int = 0  # judge calls (traits, behaviours) that gave no verdict

    @property
    def total_answers(self) -> int:
        return sum(self.answers.values())

    @property
    def rated(self) -> int:
        return self.thumbs_up + self.thumbs_down

    @property
    def satisfaction(self) -> float | None:
        return self.thumbs_up / self.rated if self.rated else None

    @property
    def pass_rate(self) -> float | None:
        return self.behaviours_passed / self.behaviours_judged if self.behaviours_judged else None

    @property
    def ab_tests(self) -> int:
        return self.ab_won + self.ab_lost + self.ab_inconclusive

    @property
    def ab_win_share(self) -> float | None:
        return self.ab_won / self.ab_tests if self.ab_tests else None

    @property
    def tokens_per_answer(self) -> float | None:
        return self.tokens / self.metered if self.tokens is not None and self.metered else None


@dataclass(frozen=True, slots=True)
class HomeProfile:
    profile_id: int
    name: str
    version: int
    bot_name: str
    avatar_emoji: str
    traits: dict[str, int]
    response_style: str
    is_default: bool


@dataclass(frozen=True, slots=True)
class RecentTest:
    result_id: int
    label: str
    question: str
    alignment: float | None
    total_ms: float | None
    error_kind: str | None
    user_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AbSummary:
    ab_id: int
    label_a: str
    label_b: str
    status: str
    started_at: datetime
    closed_at: datetime | None
    verdict_code: str | None
    failure_reason: str | None
    votes: int
    # Fleiss' κ of the voters and Cohen's κ of the judge with them, from the stored verdict
    voters_kappa: float | None = None
    voters_kappa_items: int = 0
    judge_kappa: float | None = None
    judge_kappa_items: int = 0


@dataclass(frozen=True, slots=True)
class ExportedResult:
    profile_name: str
    version: int
    result: TestResult


@dataclass(frozen=True, slots=True)
class ExportedVote:
    ab_test_id: int
    status: str
    started_at: datetime
    closed_at: datetime | None
    version_a: str
    version_b: str
    position: int
    message: str
    a_first: bool
    judge_verdict: str | None
    user_id: str
    choice: str
    voted_at: datetime


def arrow(now: float | None, before: float | None) -> str | None:
    if now is None or before is None:
        return None
    if abs(now - before) < 1e-9:
        return "="
    return "▲" if now > before else "▼"


@dataclass(frozen=True, slots=True)
class Compared:
    stats: VersionStats
    previous: VersionStats | None  # the next older version used in the same period
    arrows: dict[str, str | None]  # None where either side has no figure

    def arrow(self, key: str) -> str | None:
        return self.arrows.get(key)
