"""Validation of a simulated-customer scenario as typed into the modal. Pure. Slack enforces
each input's max_length in the client; a request that gets past it (an old client, a forged
payload) is refused here with the same bound, named."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot import ids
from bot.domain.scenarios import BEHAVIOUR_MAX, BEHAVIOURS_MAX, NAME_MAX
from bot.domain.simulation import (
    GOAL_MAX,
    PERSONA_FACTS_MAX,
    PERSONA_GIVES_UP_MAX,
    PERSONA_SHORT_MAX,
    PERSONA_WANTS_MAX,
    PERSONA_WHO_MAX,
    TURN_LIMIT_DEFAULT,
    TURN_LIMIT_MAX,
    Persona,
)
from bot.scenarios.form import RESERVED_NAMES, split_behaviours

# "simulations" runs every simulation from the CLI and Slack
SIMULATIONS_KEYWORD = "simulations"

_REQUIRED = (
    (ids.SIMULATION_WHO, "Who the customer is", PERSONA_WHO_MAX),
    (ids.SIMULATION_MOOD, "The mood", PERSONA_SHORT_MAX),
    (ids.SIMULATION_EXPERTISE, "The expertise", PERSONA_SHORT_MAX),
    (ids.SIMULATION_WANTS, "What they want", PERSONA_WANTS_MAX),
    (ids.SIMULATION_GIVES_UP, "What makes them give up", PERSONA_GIVES_UP_MAX),
    (ids.SIMULATION_GOAL, "The goal", GOAL_MAX),
)


@dataclass(frozen=True, slots=True)
class SimulationForm:
    name: str
    persona: Persona
    goal: str
    behaviours: list[str]
    turn_limit: int


def validate(form: Mapping[str, str | None]) -> tuple[SimulationForm | None, dict[str, str]]:
    errors: dict[str, str] = {}
    name = (form.get(ids.SIMULATION_NAME) or "").strip()
    if not name:
        errors[ids.SIMULATION_NAME] = "A scenario needs a name."
    elif len(name) > NAME_MAX:
        errors[ids.SIMULATION_NAME] = f"At most {NAME_MAX} characters (got {len(name)})."
    elif name.lower() in RESERVED_NAMES | {SIMULATIONS_KEYWORD}:
        errors[ids.SIMULATION_NAME] = f"`{name.lower()}` is reserved for running several."
    elif "@" in name:
        errors[ids.SIMULATION_NAME] = "Names cannot contain `@` (it introduces a profile version)."
    values: dict[str, str] = {}
    for block_id, what, limit in _REQUIRED:
        value = (form.get(block_id) or "").strip()
        if not value:
            errors[block_id] = f"{what} is needed: the simulator plays from it."
        elif len(value) > limit:
            errors[block_id] = (
                f"At most {limit:,} characters (got {len(value):,}): the persona is a short "
                "prompt; keep the essentials."
            )
        values[block_id] = value
    facts = (form.get(ids.SIMULATION_FACTS) or "").strip()
    if len(facts) > PERSONA_FACTS_MAX:
        errors[ids.SIMULATION_FACTS] = (
            f"At most {PERSONA_FACTS_MAX:,} characters (got {len(facts):,})."
        )
    behaviours = split_behaviours(form.get(ids.SIMULATION_BEHAVIOURS) or "")
    if len(behaviours) > BEHAVIOURS_MAX:
        errors[ids.SIMULATION_BEHAVIOURS] = (
            f"At most {BEHAVIOURS_MAX} expected behaviours (got {len(behaviours)})."
        )
    elif any(len(b) > BEHAVIOUR_MAX for b in behaviours):
        errors[ids.SIMULATION_BEHAVIOURS] = (
            f"Each behaviour is a short phrase of at most {BEHAVIOUR_MAX} characters."
        )
    raw_limit = (form.get(ids.SIMULATION_TURN_LIMIT) or "").strip() or str(TURN_LIMIT_DEFAULT)
    turn_limit = TURN_LIMIT_DEFAULT
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= TURN_LIMIT_MAX:
        errors[ids.SIMULATION_TURN_LIMIT] = f"A whole number from 1 to {TURN_LIMIT_MAX}."
    else:
        turn_limit = int(raw_limit)
    if errors:
        return None, errors
    persona = Persona(
        who=values[ids.SIMULATION_WHO],
        mood=values[ids.SIMULATION_MOOD],
        expertise=values[ids.SIMULATION_EXPERTISE],
        wants=values[ids.SIMULATION_WANTS],
        gives_up_when=values[ids.SIMULATION_GIVES_UP],
        facts=facts,
    )
    return SimulationForm(name, persona, values[ids.SIMULATION_GOAL], behaviours, turn_limit), {}
