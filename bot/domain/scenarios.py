"""Scripted conversations and their runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


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
