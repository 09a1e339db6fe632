"""A profile and its versions: the traits, the response styles and what they mean."""

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


MAX_TOKENS_BY_STYLE: Final[dict[ResponseStyle, int]] = {
    ResponseStyle.CONCISE: 150,
    ResponseStyle.CONVERSATIONAL: 300,
    ResponseStyle.DETAILED: 500,
}


BOT_NAME_MAX: Final = 80


INSTRUCTIONS_MAX: Final = 2000


MODEL_MAX: Final = 100


FIELD_LABELS = {
    "bot_name": "name",
    "avatar_emoji": "avatar",
    "formality": "formality",
    "enthusiasm": "enthusiasm",
    "technical_depth": "technical depth",
    "empathy": "empathy",
    "response_style": "style",
    "custom_instructions": "instructions",
    "model": "model",
}


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    old: str | int | None
    new: str | int | None

    @property
    def label(self) -> str:
        return FIELD_LABELS[self.field]
