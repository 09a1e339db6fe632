"""A calibration sweep as queued work: the run (what was asked, copied at the start) and its
cells (one answer at one setting of one trait, for one question and sample)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CellOutcome(StrEnum):
    OK = "ok"  # the judge's levels are stored
    NO_LEVELS = "no_levels"  # model error, empty answer or no verdict: the sample says nothing
    FAILED = "failed"  # the job failed on our side after the queue's retries


@dataclass(frozen=True, slots=True)
class CellKey:
    trait: str
    level: int
    question_idx: int
    sample: int


@dataclass(frozen=True, slots=True)
class CalibrationRun:
    id: int
    team_id: str
    profile_id: int
    profile_version_id: int
    label: str
    traits: tuple[str, ...]
    levels: tuple[int, ...]
    questions: tuple[str, ...]
    samples: int
    scenario: str | None
    cost: str
    channel_id: str | None
    thread_ts: str | None
    status: str
    failure: str | None
    created_by: str
    created_at: datetime

    def cells(self) -> list[CellKey]:
        """Every cell in the order the in-process sweep answered them: by trait, setting,
        question, sample."""
        return [
            CellKey(trait, level, q, s)
            for trait in self.traits
            for level in self.levels
            for q in range(len(self.questions))
            for s in range(self.samples)
        ]

    @property
    def total(self) -> int:
        return len(self.traits) * len(self.levels) * len(self.questions) * self.samples


@dataclass(frozen=True, slots=True)
class Cell:
    key: CellKey
    outcome: CellOutcome
    perceived: Mapping[str, int] | None
    proxies: Mapping[str, float | None] | None
    error: str | None
