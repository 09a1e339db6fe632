"""The profile edit modal, table-driven: one input per editable field with the version's
values, the style select, the carried context, and reading a submission back."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot import ids
from bot.blocks.config_modal import ModalContext, config_modal, read_state
from bot.domain.profile import DEFAULT_FIELDS, ResponseStyle
from tests.block_kit_rules import view_problems
from tests.rows import version

CONTEXT = ModalContext(profile_id=5, base_version=3, channel_id="C1", response_url="https://r")


def initial(view: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for block in view["blocks"]:
        element = block["element"]
        assert element["action_id"] == block["block_id"] + ids.INPUT_SUFFIX
        if element["type"] == "static_select":
            out[block["block_id"]] = element["initial_option"]["value"]
        else:
            out[block["block_id"]] = element.get("initial_value")
    return out


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {},
            {
                ids.FIELD_BOT_NAME: "ROMASHKA Assistant",
                ids.FIELD_AVATAR: ":robot_face:",
                ids.FIELD_FORMALITY: "50",
                ids.FIELD_ENTHUSIASM: "50",
                ids.FIELD_TECHNICAL_DEPTH: "50",
                ids.FIELD_EMPATHY: "50",
                ids.FIELD_STYLE: "conversational",
                ids.FIELD_INSTRUCTIONS: None,
                ids.FIELD_MODEL: None,
            },
        ),
        (
            {
                "formality": 90,
                "response_style": ResponseStyle.CONCISE,
                "custom_instructions": "Be brief.",
                "model": "gpt-x",
            },
            {
                ids.FIELD_FORMALITY: "90",
                ids.FIELD_STYLE: "concise",
                ids.FIELD_INSTRUCTIONS: "Be brief.",
                ids.FIELD_MODEL: "gpt-x",
            },
        ),
    ],
)
def test_config_modal(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    view = config_modal(version(fields=replace(DEFAULT_FIELDS, **fields)), context=CONTEXT)
    assert view_problems(view) == []
    assert view["callback_id"] == ids.CONFIG_MODAL
    assert view["title"]["text"] == "Edit Support"
    assert ModalContext.load(view["private_metadata"]) == CONTEXT
    shown = initial(view)
    assert len(shown) == 9
    for key, value in expected.items():
        assert shown[key] == value
    optional = {b["block_id"] for b in view["blocks"] if b["optional"]}
    assert optional == {ids.FIELD_INSTRUCTIONS, ids.FIELD_MODEL}


@pytest.mark.parametrize(
    ("element", "value"),
    [
        ({"type": "plain_text_input", "value": "Helper"}, "Helper"),
        ({"type": "number_input", "value": "70"}, "70"),
        ({"type": "static_select", "selected_option": {"value": "detailed"}}, "detailed"),
        ({"type": "static_select", "selected_option": None}, None),
        ({"type": "plain_text_input", "value": None}, None),
    ],
)
def test_read_state(element: dict[str, Any], value: str | None) -> None:
    view = {"state": {"values": {"field": {"field" + ids.INPUT_SUFFIX: element}}}}
    assert read_state(view) == {"field": value}


@pytest.mark.parametrize("raw", ['{"p": 0, "v": 1, "c": "C1"}', '{"p": 5, "v": -1, "c": "C1"}'])
def test_forged_context_is_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        ModalContext.load(raw)
