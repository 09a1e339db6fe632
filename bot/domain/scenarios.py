"""Scripted conversations and their runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Scenario:
    id: int
    team_id: str
    name: str
    description: str
    messages: tuple[str, ...]
    behaviours: tuple[str, ...]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ScenarioRun:
    id: int
    team_id: str
    profile_version_id: int
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    concurrency: int
    plan: list[dict[str, object]]
    totals: dict[str, object] | None
    channel_id: str | None
    parent_ts: str | None
    # counted up by each resume: the process running this attempt owns the run's writes
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class LastRun:
    run_id: int
    version_label: str
    passed: int
    total: int
    finished_at: Any


@dataclass(frozen=True, slots=True)
class Figures:
    name: str
    messages: int
    failed: int
    passed: int
    judged: int
    mean_alignment: float | None
    median_ms: float | None
    slowest_ms: float | None
    tokens: int | None
    unjudged: int = 0  # expected behaviours the judge gave no verdict on
    # Repeated samples (`repeat`): the most samples any message had, the pass rate's Wilson 95%
    # interval, pass^k (k = repeat) and the mean alignment's t interval; None below two samples.
    repeat: int = 1
    pass_low: float | None = None
    pass_high: float | None = None
    pass_k: float | None = None
    aligned: int = 0
    alignment_sd: float | None = None
    alignment_low: float | None = None
    alignment_high: float | None = None
    # "message → behaviour" that passed in some samples and failed in others
    flaky: tuple[str, ...] = ()

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.judged if self.judged else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


NAME_MAX: Final = 60


DESCRIPTION_MAX: Final = 300


MESSAGES_MAX: Final = 20


MESSAGE_MAX: Final = 4000


BEHAVIOURS_MAX: Final = 10


BEHAVIOUR_MAX: Final = 60


REPEAT_MAX: Final = 20


# Pass rate and alignment are samples of a model: a comparison says they changed only when the
# 95% interval of the difference excludes zero, and shows this mark otherwise.
NO_DETECTABLE_CHANGE: Final = "≈"
