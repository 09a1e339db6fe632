"""What changed between two versions: the one definition used by history, set and rollback."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.profile import ProfileFields

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


def diff(old: ProfileFields, new: ProfileFields) -> list[Change]:
    before, after = old.as_dict(), new.as_dict()
    return [Change(k, before[k], after[k]) for k in FIELD_LABELS if before[k] != after[k]]
