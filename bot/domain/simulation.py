"""Simulated customers: a persona the simulator model plays for a whole conversation with the
bot, and what such a conversation produced."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

# Slack's plain_text_input takes at most 3000 characters; each persona field has its own,
# smaller bound so the whole persona stays a short prompt.
PERSONA_WHO_MAX: Final = 1000
PERSONA_SHORT_MAX: Final = 100  # mood, expertise
PERSONA_WANTS_MAX: Final = 300
PERSONA_GIVES_UP_MAX: Final = 300
PERSONA_FACTS_MAX: Final = 500
GOAL_MAX: Final = 300
TURN_LIMIT_DEFAULT: Final = 8
TURN_LIMIT_MAX: Final = 20
# the customer's message in one turn (the simulator's schema bounds it too)
CUSTOMER_MESSAGE_MAX: Final = 1000
# Drift (bot.simulation.drift): a gap (perceived − set level) up to this many points either way
# is within what the judge's own noise and a reasonable rendering of the level allow; beyond it
# the trait has drifted. A trend needs at least MIN_TURNS_FOR_TREND judged turns.
TOLERANCE: Final = 15
MIN_TURNS_FOR_TREND: Final = 3


@dataclass(frozen=True, slots=True)
class Persona:
    who: str
    mood: str
    expertise: str
    wants: str
    gives_up_when: str
    facts: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Persona:
        return cls(
            who=str(data.get("who", "")),
            mood=str(data.get("mood", "")),
            expertise=str(data.get("expertise", "")),
            wants=str(data.get("wants", "")),
            gives_up_when=str(data.get("gives_up_when", "")),
            facts=str(data.get("facts", "")),
        )


@dataclass(frozen=True, slots=True)
class Simulation:
    """A "simulated customer" scenario."""

    id: int
    team_id: str
    name: str
    persona: Persona
    goal: str
    behaviours: tuple[str, ...]
    turn_limit: int
    updated_at: datetime | None = None

    def plan_json(self) -> dict[str, Any]:
        return {
            "simulation_id": self.id,
            "name": self.name,
            "persona": self.persona.to_json(),
            "goal": self.goal,
            "behaviours": list(self.behaviours),
            "turn_limit": self.turn_limit,
        }

    @classmethod
    def from_plan(cls, team_id: str, data: dict[str, Any]) -> Simulation:
        return cls(
            id=int(data["simulation_id"]),
            team_id=team_id,
            name=str(data["name"]),
            persona=Persona.from_json(dict(data["persona"])),
            goal=str(data["goal"]),
            behaviours=tuple(str(b) for b in data.get("behaviours", [])),
            turn_limit=int(data.get("turn_limit", TURN_LIMIT_DEFAULT)),
        )


class CustomerState(StrEnum):
    """What the simulator says after its message: a structured field, not read from prose."""

    CONTINUE = "continue"
    GOAL_MET = "goal_met"
    GAVE_UP = "gave_up"


class Ending(StrEnum):
    GOAL_MET = "goal_met"
    GAVE_UP = "gave_up"
    TURN_LIMIT = "turn_limit"
    # the simulator returned nothing usable or broke character: not counted against the bot
    SIMULATOR_FAULT = "simulator_fault"
    # the bot's model failed mid-conversation: the turns so far are kept, marked
    MODEL_ERROR = "model_error"
    INTERNAL = "internal"


ENDING_TEXT: Final = {
    Ending.GOAL_MET: "the customer said their goal was met",
    Ending.GAVE_UP: "the customer gave up",
    Ending.TURN_LIMIT: "the turn limit was reached",
    Ending.SIMULATOR_FAULT: "simulator fault (not counted against the bot)",
    Ending.MODEL_ERROR: "the bot's model failed mid-conversation (turns so far kept)",
    Ending.INTERNAL: "internal error (turns so far kept)",
}


@dataclass(frozen=True, slots=True)
class SimulationRun:
    id: int
    team_id: str
    profile_version_id: int
    started_by: str
    status: str
    plan: list[dict[str, Any]]
    repeat: int
    channel_id: str | None
    parent_ts: str | None
    summary: dict[str, Any] | None

    def simulations(self) -> list[Simulation]:
        return [Simulation.from_plan(self.team_id, p) for p in self.plan]

    @property
    def total(self) -> int:
        return len(self.plan) * self.repeat


@dataclass(frozen=True, slots=True)
class StoredTurn:
    turn: int
    text: str
    state: str | None
    result_id: int | None
    # its thread post is settled (posted, refused, or not confirmed)
    posted: bool
    # the row's id: what its thread post's claim and metadata mark name
    id: int

    @property
    def is_customer(self) -> bool:
        return self.turn % 2 == 0


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    run_id: int
    simulation_id: int
    sample: int
    ending: str | None
    fault: str | None
    outcome: dict[str, Any] | None
    done: bool
    # the seed sent with its simulator calls (A/B over simulations), and whether the endpoint
    # took it; None when no seed was asked for
    seed: int | None = None
    seed_honoured: bool | None = None
