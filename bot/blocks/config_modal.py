"""The profile configuration modal and the reading of its submitted state. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot import ids, limits
from bot.blocks.common import Block, metadata, metadata_id, metadata_version, plain, truncate
from bot.domain.profile import (
    BOT_NAME_MAX,
    INSTRUCTIONS_MAX,
    MODEL_MAX,
    TRAIT_LABELS,
    TRAITS,
    ProfileVersion,
    ResponseStyle,
)

_STYLE_LABELS = {
    ResponseStyle.CONCISE: "Concise — short and to the point",
    ResponseStyle.DETAILED: "Detailed — thorough, step by step",
    ResponseStyle.CONVERSATIONAL: "Conversational — natural and friendly",
}


@dataclass(frozen=True, slots=True)
class ModalContext:
    """What the submission needs to know, carried in `private_metadata`."""

    profile_id: int
    base_version: int
    channel_id: str
    response_url: str | None

    def dump(self) -> str:
        return metadata(
            {
                "p": self.profile_id,
                "v": self.base_version,
                "c": self.channel_id,
                "r": self.response_url,
            }
        )

    @classmethod
    def load(cls, raw: str) -> ModalContext:
        data = json.loads(raw)
        return cls(
            metadata_id(data["p"]), metadata_version(data["v"]), str(data["c"]), data.get("r")
        )


def _input(
    block_id: str, label: str, element: Block, *, optional: bool = False, hint: str | None = None
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, limits.INPUT_LABEL),
        "element": {**element, "action_id": block_id + ids.INPUT_SUFFIX},
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, limits.INPUT_LABEL)
    return block


def _text(initial: str, *, max_length: int, multiline: bool = False) -> Block:
    element: Block = {"type": "plain_text_input", "multiline": multiline, "max_length": max_length}
    if initial:
        element["initial_value"] = truncate(initial, max_length)
    return element


def config_modal(version: ProfileVersion, *, context: ModalContext) -> Block:
    f = version.fields
    style_options = [
        {"text": plain(label, 75), "value": style.value} for style, label in _STYLE_LABELS.items()
    ]
    blocks: list[Block] = [
        _input(ids.FIELD_BOT_NAME, "Bot name", _text(f.bot_name, max_length=BOT_NAME_MAX)),
        _input(
            ids.FIELD_AVATAR,
            "Avatar emoji",
            _text(f.avatar_emoji, max_length=100),
            hint="An emoji shortcode such as :sparkles: or :robot_face:",
        ),
    ]
    for trait in TRAITS:
        blocks.append(
            _input(
                trait,
                f"{TRAIT_LABELS[trait]} (0–100)",
                {
                    "type": "number_input",
                    "is_decimal_allowed": False,
                    "min_value": "0",
                    "max_value": "100",
                    "initial_value": str(f.trait(trait)),
                },
            )
        )
    blocks += [
        _input(
            ids.FIELD_STYLE,
            "Response style",
            {
                "type": "static_select",
                "options": style_options,
                "initial_option": next(
                    o for o in style_options if o["value"] == f.response_style.value
                ),
            },
        ),
        _input(
            ids.FIELD_INSTRUCTIONS,
            "Custom instructions",
            _text(f.custom_instructions, max_length=INSTRUCTIONS_MAX, multiline=True),
            optional=True,
            hint=f"What the bot must always do or avoid; at most {INSTRUCTIONS_MAX:,} characters.",
        ),
        _input(
            ids.FIELD_MODEL,
            "Model",
            _text(f.model or "", max_length=MODEL_MAX),
            optional=True,
            hint="Leave blank to use the server's default model.",
        ),
    ]
    return {
        "type": "modal",
        "callback_id": ids.CONFIG_MODAL,
        "title": plain(f"Edit {version.profile_name}", limits.MODAL_TITLE),
        "submit": plain("Save", limits.MODAL_BUTTON),
        "close": plain("Cancel", limits.MODAL_BUTTON),
        "private_metadata": context.dump(),
        "blocks": blocks,
    }


def read_state(view: dict[str, Any]) -> dict[str, str | None]:
    """Submitted values keyed by block id (= ProfileFields attribute); missing inputs are None."""
    values: dict[str, Any] = view.get("state", {}).get("values", {})
    out: dict[str, str | None] = {}
    for block_id, actions in values.items():
        element = actions.get(block_id + ids.INPUT_SUFFIX) or {}
        if element.get("type") == "static_select":
            selected = element.get("selected_option") or {}
            out[block_id] = selected.get("value")
        else:
            value = element.get("value")
            out[block_id] = value if isinstance(value, str) else None
    return out
