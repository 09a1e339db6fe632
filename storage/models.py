"""Typed rows handed out by the repositories. Immutable: a saved version never changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final


class ResponseStyle(StrEnum):
    CONCISE = "concise"
    DETAILED = "detailed"
    CONVERSATIONAL = "conversational"


TRAITS: Final = ("formality", "enthusiasm", "technical_depth", "empathy")
TRAIT_LABELS: Final = {
    "formality": "Formality",
    "enthusiasm": "Enthusiasm",
    "technical_depth": "Technical depth",
    "empathy": "Empathy",
}


@dataclass(frozen=True, slots=True)
class ProfileFields:
    """Everything a version holds that a person can edit."""

    bot_name: str
    avatar_emoji: str
    formality: int
    enthusiasm: int
    technical_depth: int
    empathy: int
    response_style: ResponseStyle
    custom_instructions: str
    model: str | None

    def trait(self, name: str) -> int:
        value: int = getattr(self, name)
        return value

    def as_dict(self) -> dict[str, str | int | None]:
        return {
            "bot_name": self.bot_name,
            "avatar_emoji": self.avatar_emoji,
            "formality": self.formality,
            "enthusiasm": self.enthusiasm,
            "technical_depth": self.technical_depth,
            "empathy": self.empathy,
            "response_style": self.response_style.value,
            "custom_instructions": self.custom_instructions,
            "model": self.model,
        }


DEFAULT_FIELDS: Final = ProfileFields(
    bot_name="ROMASHKA Assistant",
    avatar_emoji=":robot_face:",
    formality=50,
    enthusiasm=50,
    technical_depth=50,
    empathy=50,
    response_style=ResponseStyle.CONVERSATIONAL,
    custom_instructions="",
    model=None,
)


@dataclass(frozen=True, slots=True)
class Profile:
    id: int
    team_id: str
    name: str
    current_version: int
    is_default: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ProfileVersion:
    id: int
    team_id: str
    profile_id: int
    profile_name: str
    version: int
    fields: ProfileFields
    created_by: str
    created_at: datetime
    note: str | None

    @property
    def label(self) -> str:
        return f"{self.profile_name} v{self.version}"


@dataclass(frozen=True, slots=True)
class TestResult:
    __test__ = False  # a row type, not a pytest test class

    id: int
    team_id: str
    profile_version_id: int
    kind: str
    channel_id: str | None
    thread_ts: str | None
    message_ts: str | None
    user_id: str
    question: str
    answer: str
    model: str | None
    total_ms: float | None
    ttft_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    confidence: float | None
    proxies: dict[str, float | None] | None
    analysis: dict[str, object] | None
    alignment: float | None
    analysis_error: str | None
    interrupted: bool
    error_kind: str | None
    error: str | None
    dropped_turns: int
    created_at: datetime
    run_id: int | None = None
    scenario_id: int | None = None
    scenario_name: str | None = None
    position: int | None = None
    behaviour_results: list[dict[str, object]] | None = None
    knowledge_given: list[str] | None = None
    knowledge_used: list[str] | None = None
    finish_reason: str | None = None
    token_limit: int | None = None
    judge_outcomes: dict[str, str] | None = None

    @property
    def cut_off(self) -> bool:
        """The answer stopped at its output limit rather than where the model ended it."""
        return self.finish_reason == "length"


@dataclass(frozen=True, slots=True)
class FeedbackTally:
    up: int
    down: int


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
