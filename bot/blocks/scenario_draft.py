"""Block Kit for saving a conversation as a scenario: the modal while the judge drafts, the
modal saying why there is nothing to save, and the scenario form prefilled with the draft. Pure.

The form is the scenario form itself (same callback_id, inputs and limits), so Save goes
through the same validation and save as `/bot scenario new`; only its title, initial values
and a note on top differ."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bot import ids, limits
from bot.blocks.common import Block, escape, metadata, mrkdwn, plain, truncate
from bot.blocks.scenarios import FormContext, scenario_form
from bot.blocks.simulation import simulation_form, with_kind_choice
from bot.domain.simulation import Persona

TITLE: Final = "Save as scenario"
DRAFTING: Final = (
    "Reading the conversation and asking the judge model to draft the expected behaviours… "
    "The form appears here in a few seconds."
)
DRAFTING_PERSONA: Final = (
    "Reading the conversation and asking the judge model to draft the simulated customer "
    "(persona, goal and expected behaviours)… The form appears here in a few seconds."
)
CONTEXT_TEXT: Final = 2000


def _modal(blocks: list[Block], *, close: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": ids.SCENARIO_DRAFT_NOTICE,
        "title": plain(TITLE, limits.MODAL_TITLE),
        "close": plain(close, limits.MODAL_BUTTON),
        "blocks": blocks,
    }


def drafting_view(kind: str = ids.SCENARIO_KIND_SINGLE) -> dict[str, Any]:
    """Opened at once (a trigger_id lasts three seconds), or shown while the other kind is
    drafted; replaced by the form. It has no kind choice: one draft at a time."""
    text = DRAFTING_PERSONA if kind == ids.SCENARIO_KIND_SIMULATED else DRAFTING
    return _modal(
        [{"type": "section", "text": mrkdwn(f":hourglass: {text}", limits.SECTION_TEXT)}],
        close="Cancel",
    )


@dataclass(frozen=True, slots=True)
class DraftContext:
    """A drafted form's private_metadata: the form's own context (what its Save reads) and the
    thread it was drafted from, so choosing the other kind drafts from the same thread."""

    form: FormContext
    thread_ts: str

    def dump(self) -> str:
        data: dict[str, Any] = json.loads(self.form.dump())
        return metadata({**data, "t": self.thread_ts})

    @classmethod
    def load(cls, raw: str) -> DraftContext:
        """Raises ValueError / KeyError / TypeError on a malformed or forged one."""
        thread_ts = json.loads(raw)["t"]
        if not isinstance(thread_ts, str) or not thread_ts:
            raise ValueError("no thread")
        return cls(FormContext.load(raw), thread_ts)


def _prefill(view: dict[str, Any], initial: Mapping[str, str]) -> None:
    for block in view["blocks"]:
        value = initial.get(block.get("block_id", ""))
        element = block.get("element") or {}
        if value and element.get("type") == "plain_text_input":
            element["initial_value"] = truncate(value, int(element["max_length"]))


def _finish(
    view: dict[str, Any], *, notes: Sequence[str], kind: str, context: DraftContext
) -> dict[str, Any]:
    """Our title, the notes on top, then the kind choice above them, and the thread kept."""
    view["title"] = plain(TITLE, limits.MODAL_TITLE)
    if notes:
        note = "\n".join(notes)
        view["blocks"] = [
            {"type": "context", "elements": [mrkdwn(note, CONTEXT_TEXT)]},
            *view["blocks"],
        ]
    view = with_kind_choice(view, chosen=kind, action_id=ids.SCENARIO_DRAFT_KIND)
    view["private_metadata"] = context.dump()
    return view


def notice_view(text: str) -> dict[str, Any]:
    """Why there is no form: `text` is one of our messages (mrkdwn), not model text."""
    return _modal(
        [{"type": "section", "text": mrkdwn(text, limits.SECTION_TEXT)}],
        close="Close",
    )


@dataclass(frozen=True, slots=True)
class DraftForm:
    name: str
    description: str
    messages: Sequence[str]
    behaviours: Sequence[str]
    notes: Sequence[str]  # our own sentences (mrkdwn), shown above the inputs


def draft_form(draft: DraftForm, *, context: DraftContext) -> dict[str, Any]:
    """The scenario form (single messages) prefilled; its Save is `/bot scenario new`'s."""
    view = scenario_form(None, context=context.form)
    _prefill(
        view,
        {
            ids.SCENARIO_NAME: draft.name,
            ids.SCENARIO_DESCRIPTION: draft.description,
            ids.SCENARIO_MESSAGES: "\n".join(draft.messages),
            ids.SCENARIO_BEHAVIOURS: "\n".join(draft.behaviours),
        },
    )
    return _finish(view, notes=draft.notes, kind=ids.SCENARIO_KIND_SINGLE, context=context)


@dataclass(frozen=True, slots=True)
class SimulationDraftForm:
    name: str
    persona: Persona  # "" where nothing was drafted: the form then asks for it
    goal: str
    behaviours: Sequence[str]
    notes: Sequence[str]  # our own sentences (mrkdwn), shown above the inputs


def simulation_draft_form(draft: SimulationDraftForm, *, context: DraftContext) -> dict[str, Any]:
    """The simulated customer's form prefilled; its Save is the simulation form's."""
    view = simulation_form(context.form)
    p = draft.persona
    _prefill(
        view,
        {
            ids.SIMULATION_NAME: draft.name,
            ids.SIMULATION_WHO: p.who,
            ids.SIMULATION_MOOD: p.mood,
            ids.SIMULATION_EXPERTISE: p.expertise,
            ids.SIMULATION_WANTS: p.wants,
            ids.SIMULATION_GIVES_UP: p.gives_up_when,
            ids.SIMULATION_FACTS: p.facts,
            ids.SIMULATION_GOAL: draft.goal,
            ids.SIMULATION_BEHAVIOURS: "\n".join(draft.behaviours),
        },
    )
    return _finish(view, notes=draft.notes, kind=ids.SCENARIO_KIND_SIMULATED, context=context)


def drafted_note(*, judge_model: str, messages: int, behaviours: int) -> str:
    if behaviours:
        return (
            f"The {behaviours} expected behaviours were drafted by the judge model "
            f"`{escape(judge_model)}` from {messages} customer message"
            f"{'' if messages == 1 else 's'}: edit them before saving."
        )
    return (
        f"The judge model `{escape(judge_model)}` proposed no expected behaviours; add your own "
        "(or save without, to compare answers only)."
    )


def drafted_persona_note(*, judge_model: str, messages: int, missing: int) -> str:
    said = (
        f"The simulated customer (persona, goal, expected behaviours) was drafted by the judge "
        f"model `{escape(judge_model)}` from {messages} customer message"
        f"{'' if messages == 1 else 's'}: check the facts and edit before saving."
    )
    if missing:
        said += f" It left {missing} required field{'' if missing == 1 else 's'} empty."
    return said
