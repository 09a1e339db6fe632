"""Validation of a scenario as typed into the modal. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bot import ids
from bot.domain.scenarios import (
    BEHAVIOUR_MAX,
    BEHAVIOURS_MAX,
    DESCRIPTION_MAX,
    MESSAGE_MAX,
    MESSAGES_MAX,
    NAME_MAX,
)

RESERVED_NAMES: Final = frozenset({"all"})


@dataclass(frozen=True, slots=True)
class ScenarioForm:
    name: str
    description: str
    messages: list[str]
    behaviours: list[str]


def split_behaviours(raw: str) -> list[str]:
    seen: set[str] = set()
    out = []
    for part in re.split(r"[\n,]", raw):
        phrase = part.strip()
        if phrase and phrase.lower() not in seen:
            seen.add(phrase.lower())
            out.append(phrase)
    return out


def validate(form: Mapping[str, str | None]) -> tuple[ScenarioForm | None, dict[str, str]]:
    errors: dict[str, str] = {}
    name = (form.get(ids.SCENARIO_NAME) or "").strip()
    if not name:
        errors[ids.SCENARIO_NAME] = "A scenario needs a name."
    elif len(name) > NAME_MAX:
        errors[ids.SCENARIO_NAME] = f"At most {NAME_MAX} characters (got {len(name)})."
    elif name.lower() in RESERVED_NAMES:
        errors[ids.SCENARIO_NAME] = "`all` is reserved for running every scenario."
    elif "@" in name:
        errors[ids.SCENARIO_NAME] = "Names cannot contain `@` (it introduces a profile version)."

    description = (form.get(ids.SCENARIO_DESCRIPTION) or "").strip()
    if len(description) > DESCRIPTION_MAX:
        errors[ids.SCENARIO_DESCRIPTION] = f"At most {DESCRIPTION_MAX} characters."

    messages = [m.strip() for m in (form.get(ids.SCENARIO_MESSAGES) or "").splitlines()]
    messages = [m for m in messages if m]
    if not messages:
        errors[ids.SCENARIO_MESSAGES] = "Add at least one customer message, one per line."
    elif len(messages) > MESSAGES_MAX:
        errors[ids.SCENARIO_MESSAGES] = (
            f"At most {MESSAGES_MAX} messages (got {len(messages)}); split it into two scenarios."
        )
    elif any(len(m) > MESSAGE_MAX for m in messages):
        errors[ids.SCENARIO_MESSAGES] = f"Each message is at most {MESSAGE_MAX:,} characters."

    behaviours = split_behaviours(form.get(ids.SCENARIO_BEHAVIOURS) or "")
    if len(behaviours) > BEHAVIOURS_MAX:
        errors[ids.SCENARIO_BEHAVIOURS] = (
            f"At most {BEHAVIOURS_MAX} expected behaviours (got {len(behaviours)})."
        )
    elif any(len(b) > BEHAVIOUR_MAX for b in behaviours):
        errors[ids.SCENARIO_BEHAVIOURS] = (
            f"Each behaviour is a short phrase of at most {BEHAVIOUR_MAX} characters, "
            "e.g. `empathetic` or `offers a next step`."
        )
    if errors:
        return None, errors
    return ScenarioForm(name, description, messages, behaviours), {}
