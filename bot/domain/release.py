"""Labels, their moves, promotion gates and API tokens as plain values (no I/O): what the
storage layer returns and the Block Kit builders show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bot.domain.profile import Profile

# the labels every profile shows, set or not; a team adds others by promoting to them
STANDARD_LABELS: Final = ("production", "staging")


@dataclass(frozen=True, slots=True)
class Label:
    profile_id: int
    label: str
    version: int
    moved_by: str
    moved_at: datetime


@dataclass(frozen=True, slots=True)
class LabelMove:
    id: int
    profile_id: int
    label: str
    from_version: int | None
    to_version: int
    moved_by: str
    moved_at: datetime
    gates: str | None
    override_reason: str | None


@dataclass(frozen=True, slots=True)
class ProfileLabels:
    profile: Profile
    labels: list[Label]


@dataclass(frozen=True, slots=True)
class Gate:
    label: str
    scenario_id: int | None
    scenario_name: str | None  # None when the scenario was deleted since
    require_ab: bool


@dataclass(frozen=True, slots=True)
class ScenarioEvidence:
    run_id: int
    figures: dict[str, Any]  # the scenario's figures as stored in the run's totals


@dataclass(frozen=True, slots=True)
class AbEvidence:
    ab_id: int
    candidate_is_a: bool
    verdict_code: str | None


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    team_id: str
    name: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
