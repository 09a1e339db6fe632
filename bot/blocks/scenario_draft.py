"""Block Kit for saving a conversation as a scenario: the modal while the judge drafts, the
modal saying why there is nothing to save, and the scenario form prefilled with the draft. Pure.

The form is the scenario form itself (same callback_id, inputs and limits), so Save goes
through the same validation and save as `/bot scenario new`; only its title, initial values
and a note on top differ."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from bot import ids, limits
from bot.blocks.common import Block, escape, mrkdwn, plain, truncate
from bot.blocks.scenarios import FormContext, scenario_form

TITLE: Final = "Save as scenario"
DRAFTING: Final = (
    "Reading the conversation and asking the judge model to draft the expected behaviours… "
    "The form appears here in a few seconds."
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


def drafting_view() -> dict[str, Any]:
    """Opened at once (a trigger_id lasts three seconds); replaced by the form."""
    return _modal(
        [{"type": "section", "text": mrkdwn(f":hourglass: {DRAFTING}", limits.SECTION_TEXT)}],
        close="Cancel",
    )


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


def draft_form(draft: DraftForm, *, context: FormContext) -> dict[str, Any]:
    view = scenario_form(None, context=context)
    initial = {
        ids.SCENARIO_NAME: draft.name,
        ids.SCENARIO_DESCRIPTION: draft.description,
        ids.SCENARIO_MESSAGES: "\n".join(draft.messages),
        ids.SCENARIO_BEHAVIOURS: "\n".join(draft.behaviours),
    }
    for block in view["blocks"]:
        value = initial.get(block.get("block_id", ""))
        element = block.get("element") or {}
        if value and element.get("type") == "plain_text_input":
            element["initial_value"] = truncate(value, int(element["max_length"]))
    view["title"] = plain(TITLE, limits.MODAL_TITLE)
    if draft.notes:
        note = "\n".join(draft.notes)
        view["blocks"] = [
            {"type": "context", "elements": [mrkdwn(note, CONTEXT_TEXT)]},
            *view["blocks"],
        ]
    return view


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
