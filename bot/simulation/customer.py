"""The simulator: the model that plays the customer. Its reply is structured (the message and
whether the customer goes on, got what they wanted or gives up), so the end of a conversation
is read from a field, never guessed from the prose. A reply that is empty or breaks character
is a simulator fault, not something the bot did."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.domain.simulation import CUSTOMER_MESSAGE_MAX, CustomerState, Persona
from bot.model.judge_call import CHARS_PER_TOKEN, STRUCTURE_TOKENS, budget
from bot.model.llm import LLM, LLMError, LLMErrorKind

log = logging.getLogger(__name__)

SCHEMA_NAME: Final = "simulated_customer"
# Marks simulator requests in logs (the schema name identifies them to the server).
SIMULATOR_MARKER: Final = "You are role-playing a customer who is talking to a support bot."
MAX_TOKENS: Final = budget(CUSTOMER_MESSAGE_MAX // CHARS_PER_TOKEN + 4 * STRUCTURE_TOKENS)

# Phrases with which a model playing a customer steps out of the role: it speaks as an AI or
# assistant, or about the role-play itself. Matched on the customer's message only; a real
# customer rarely writes these, so a match is reported as a simulator fault (with the phrase),
# and what it misses is a known limit (README).
_BROKE_CHARACTER: Final = re.compile(
    r"\bas an ai\b|\bas a language model\b|\bI(?:'m| am) (?:an ai|a language model|an assistant"
    r"|a virtual assistant|chatgpt|an artificial intelligence)\b|\bI(?:'m| am) not (?:a real|an "
    r"actual) (?:customer|person|human)\b|\b(?:this|the) role-?play\b|\bsimulated customer\b"
    r"|\bI can(?:no|')t (?:role-?play|pretend)\b|\bhow can I (?:help|assist) you\b",
    re.IGNORECASE,
)


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str
    state: CustomerState


def schema() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "message": {
                "type": "string",
                "maxLength": CUSTOMER_MESSAGE_MAX,
                "description": "your next message to the support bot, in character",
            },
            "state": {
                "type": "string",
                "enum": [s.value for s in CustomerState],
                "description": "continue; goal_met once you got what you wanted; gave_up "
                "when what makes you give up happened",
            },
        },
        "required": ["message", "state"],
    }


@dataclass(frozen=True, slots=True)
class Line:
    """A turn of the conversation so far, as the simulator sees it."""

    customer: bool
    text: str


def messages_for(persona: Persona, goal: str, lines: Sequence[Line]) -> list[dict[str, str]]:
    facts = f"\nFacts you know (use them when asked): {persona.facts}" if persona.facts else ""
    system = (
        f"{SIMULATOR_MARKER} Stay in character for the whole conversation: never say you are "
        "an AI, a model or an assistant, never offer help, never mention the role-play.\n"
        f"Who you are: {persona.who}\nYour mood: {persona.mood}\n"
        f"Your expertise: {persona.expertise}\nWhat you want: {persona.wants}\n"
        f"You give up when: {persona.gives_up_when}{facts}\nYour goal: {goal}\n"
        "Write only your next message, as this customer would type it in a chat (one to four "
        "sentences). Set state to goal_met once the bot has given you what you wanted, to "
        "gave_up when what makes you give up has happened, else continue."
    )
    if lines:
        transcript = "\n".join(
            f"{'You' if line.customer else 'Support bot'}: {line.text}" for line in lines
        )
        user = f"<conversation>\n{transcript}\n</conversation>\nWrite your next message."
    else:
        user = "Start the conversation: write your first message to the support bot."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@dataclass(frozen=True, slots=True)
class CustomerTurn:
    text: str
    state: CustomerState
    # a seed was asked for and the endpoint refused it: this turn was played without
    seed_refused: bool = False


@dataclass(frozen=True, slots=True)
class SimulatorFault:
    reason: str  # safe to show: ours, or the matched phrase of the simulator's own message


def broke_character(text: str) -> str | None:
    """The phrase with which the message steps out of the customer's role, if any."""
    found = _BROKE_CHARACTER.search(text)
    return found.group(0) if found else None


async def next_turn(
    llm: LLM,
    *,
    model: str,
    persona: Persona,
    goal: str,
    lines: Sequence[Line],
    raise_rate_limited: bool = False,
    temperature: float = 0.0,
    seed: int | None = None,
) -> CustomerTurn | SimulatorFault:
    """The customer's next message. A rate limit is raised (the caller retries the job);
    other model errors, an empty message or one out of character are simulator faults.
    `seed` is sent where the endpoint takes it (the LLM drops it for a model that refuses it,
    and the turn says so)."""
    try:
        raw = await llm.complete_json(
            messages=messages_for(persona, goal, lines),
            schema_name=SCHEMA_NAME,
            schema=schema(),
            model=model,
            max_tokens=MAX_TOKENS,
            temperature=temperature,
            seed=seed,
        )
    except LLMError as err:
        if raise_rate_limited and err.kind is LLMErrorKind.RATE_LIMITED:
            raise
        log.warning("simulator on model %s failed: %s", model, err.kind)
        return SimulatorFault(f"the simulator model failed: {err.message}")
    try:
        out = _Output.model_validate(raw)
    except ValidationError:
        return SimulatorFault("the simulator's reply did not match its schema")
    text = out.message.strip()
    if not text:
        return SimulatorFault("the simulator returned an empty message")
    phrase = broke_character(text)
    if phrase is not None:
        return SimulatorFault(f"the simulator broke character (“{phrase}”)")
    refused = seed is not None and llm.seed_refused(model)
    return CustomerTurn(text[:CUSTOMER_MESSAGE_MAX], out.state, seed_refused=refused)
